"""The first-match-wins rule, per column and purpose (DESIGN.md)."""

from __future__ import annotations

import pytest

from veil.compile.plan import Action, decide
from veil.policy.models import ColumnPolicy


def column(classification=None, **handling):
    spec = {"name": "c", "type": "STRING", "data_handling": handling}
    if classification:
        spec["pii_classification"] = classification
    return ColumnPolicy.model_validate(spec)


@pytest.mark.parametrize(
    ("col", "purpose", "action", "strategy"),
    [
        # 1. masking for the purpose or a parent wins over everything
        (column("DIRECT_PII", not_allowed=["analytics"], masking={"analytics": {"strategy": "hash"}}),
         "analytics", Action.MASK, "hash"),
        (column("DIRECT_PII", masking={"analytics": {"strategy": "hash"}}), "analytics.reporting", Action.MASK, "hash"),
        # a child's own rule beats its parent's
        (column("DIRECT_PII", masking={"analytics": {"strategy": "hash"},
                                       "analytics.reporting": {"strategy": "redact"}}),
         "analytics.reporting", Action.MASK, "redact"),
        # a rule on a child does not apply to the parent
        (column("DIRECT_PII", masking={"analytics.reporting": {"strategy": "hash"}}), "analytics", Action.DROP, None),
        (column("NON_PII", masking={"analytics": {"strategy": "drop"}}), "analytics", Action.DROP, None),
        # 2. not allowed (or a parent not allowed) drops, even NON_PII
        (column("NON_PII", not_allowed=["marketing"]), "marketing.email", Action.DROP, None),
        # 3. allowed keeps raw, even DIRECT_PII
        (column("DIRECT_PII", allowed_uses=["support"]), "support", Action.RAW, None),
        # 4. NON_PII and PSEUDONYMOUS are raw by default
        (column("NON_PII"), "analytics", Action.RAW, None),
        (column("PSEUDONYMOUS"), "ml_training", Action.RAW, None),
        # 5. everything else is dropped, unclassified included (privacy by default)
        (column("QUASI_PII"), "analytics", Action.DROP, None),
        (column("SENSITIVE_PII"), "analytics", Action.DROP, None),
        (column(None), "analytics", Action.DROP, None),
    ],
)
def test_decide(col, purpose, action, strategy):
    decision = decide(col, purpose)
    assert (decision.action, decision.strategy) == (action, strategy), decision.reason


def test_unclassified_reason_says_privacy_by_default():
    assert "unclassified counts as DIRECT_PII" in decide(column(None), "analytics").reason
