"""Cryptographic building blocks: FF1 format-preserving encryption, field encryption."""
