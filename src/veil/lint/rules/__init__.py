"""The lint rules, one module a rule, by code.

>>> [r.info.code for r in RULES]
['VL001', 'VL002', 'VL003', 'VL004', 'VL900', 'VL901', 'VL902', 'VL903']
"""

from __future__ import annotations

import importlib

from veil.lint.rules.base import RawFinding, Rule, Statement

_MODULES = ("VL001_select_star", "VL002_pii_disallowed_use", "VL003_raw_relation_access",
            "VL004_unclassified_column", "VL900_parse_error", "VL901_unanalysable_statement",
            "VL902_bad_suppression", "VL903_veil_internals")

RULES: list[Rule] = [importlib.import_module(f"veil.lint.rules.{name}").check for name in _MODULES]
BY_CODE: dict[str, Rule] = {r.info.code: r for r in RULES}
PARSE_ERROR = BY_CODE["VL900"]
BAD_SUPPRESSION = BY_CODE["VL902"]

__all__ = ["BAD_SUPPRESSION", "BY_CODE", "PARSE_ERROR", "RULES", "RawFinding", "Rule", "Statement"]
