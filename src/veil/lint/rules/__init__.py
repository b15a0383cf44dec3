"""The lint rules, one module a rule, by code.

>>> [r.info.code for r in RULES]
['VL001', 'VL002', 'VL003', 'VL004', 'VL900']
"""

from __future__ import annotations

import importlib

from veil.lint.rules.base import RawFinding, Rule, Statement

_MODULES = ("VL001_select_star", "VL002_pii_disallowed_use", "VL003_raw_relation_access",
            "VL004_unclassified_column", "VL900_parse_error")

RULES: list[Rule] = [importlib.import_module(f"veil.lint.rules.{name}").check for name in _MODULES]
BY_CODE: dict[str, Rule] = {r.info.code: r for r in RULES}
PARSE_ERROR = BY_CODE["VL900"]

__all__ = ["BY_CODE", "PARSE_ERROR", "RULES", "RawFinding", "Rule", "Statement"]
