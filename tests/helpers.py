"""Shared test helpers: small projects on disk from data fixtures."""

from __future__ import annotations

from pathlib import Path

import yaml

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
TEST_KEY_HEX = "00112233445566778899aabbccddeeff" * 2   # a test key, not a secret


def load_fixture(name: str) -> dict:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))


def write_files(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def apply_case(base: dict[str, str], case: dict) -> dict[str, str]:
    """The base files with a case's `replace` (old/new pairs) and `add` applied."""
    files = dict(base)
    for path, pairs in case.get("replace", {}).items():
        text = files[path]
        for old, new in zip(pairs[::2], pairs[1::2]):
            assert old in text, f"fixture error: {old!r} not in {path}"
            text = text.replace(old, new, 1)
        files[path] = text
    files.update(case.get("add", {}))
    return files
