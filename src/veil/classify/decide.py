"""One column's verdict from its name and its sampled values; the values win when they disagree.

>>> from veil.classify.names import match_name
>>> from veil.classify.values import ColumnSample, analyse
>>> decide(match_name("phone_verified"), analyse(ColumnSample("phone_verified", "BOOLEAN", [True, False])))[:2]
('other', 0.8)
>>> category, confidence, evidence = decide(match_name("eml"), analyse(ColumnSample("eml", "VARCHAR", ["a@x.org"])))
>>> category, confidence, evidence
('email', 0.99, "name: email rule 'eml'; values: 100% of 1 sampled values are valid email addresses (RFC 5322 syntax)")
"""

from __future__ import annotations

from veil.classify.categories import CATEGORIES, STRICTNESS, classification_of
from veil.classify.names import NameMatch
from veil.classify.values import ColumnAnalysis

_KINDS = {"text": "texts", "integer": "integers", "decimal": "decimals", "boolean": "booleans", "date": "dates",
          "timestamp": "timestamps", "other": "values"}


#: Text categories without a strict layout: text values that fit them badly make a name doubtful, not wrong.
SOFT_TEXT = frozenset({"person_name", "username", "street_address", "national_id", "device_id", "subject_key",
                       "record_key", "hashed_id"})


def _r(x: float) -> float:
    return round(min(0.99, max(0.05, x)), 2)


def decide(name: NameMatch, values: ColumnAnalysis) -> tuple[str, float, str]:
    """(category, confidence, evidence) for one column."""
    n = values.n
    named = f"name: {name.rule}" if name.rule else ""
    if n == 0:
        why = "no values sampled"
        if name.category is not None:
            return name.category, _r(name.confidence * 0.85), f"{named}; {why} (name only)"
        if name.negated:
            return "other", 0.6, f"{named}; {why}"
        return "other", 0.5, f"no name rule matched; {why}"

    found = values.detected
    if found is not None:
        if found.category == name.category:
            return found.category, _r(max(found.confidence, name.confidence) + 0.03), f"{named}; values: {found.how}"
        if (name.category is not None and found.confidence <= 0.8 and values.fit(name.category) >= 0.8
                and (name.confidence >= 0.9 or STRICTNESS[classification_of(name.category)]
                     >= STRICTNESS[classification_of(found.category)])):
            fit = values.fit(name.category)
            return name.category, _r(name.confidence * 0.9), (
                f"{named}; values: {_pct(fit)} of {fit.checked} sampled values fit it (weaker reading: {found.how})")
        overruled = f"; overrules {named}" if named else ""
        return found.category, _r(found.confidence * (0.95 if name.category else 1.0)), f"values: {found.how}{overruled}"

    kind = _KINDS[values.kind]
    if name.category == "free_text" and values.kind == "text":
        hits, texts, kinds = values.free_text_hits
        if hits:
            return "free_text", 0.9, f"{named}; values: {hits} of {texts} sampled texts contain PII ({kinds})"
        return "free_text", 0.55, f"{named}; no PII found inside {texts} sampled texts: review"
    if name.category is not None:
        fit = values.fit(name.category)
        label = name.category
        if fit >= 0.8:
            if CATEGORIES[name.category].attribute and values.kind != "text":
                return name.category, _r(name.confidence * 0.95), f"{named}; values: {n} sampled {kind}"
            return name.category, _r(name.confidence * (0.9 + 0.1 * fit)), (
                f"{named}; values: {_pct(fit)} of {fit.checked} sampled values fit {label}")
        if fit >= 0.5:
            return name.category, _r(name.confidence * 0.8), (
                f"{named}; values: only {_pct(fit)} of {fit.checked} sampled values fit {label}")
        if values.kind == "text" and name.category in SOFT_TEXT:
            return name.category, _r(name.confidence * 0.55), (
                f"{named}; values: only {_pct(fit)} of {fit.checked} sampled values fit {label}: review")
        return "other", 0.75, (f"values contradict {named}: {_pct(fit)} of {fit.checked} sampled {kind} fit {label}")
    if name.negated:
        return "other", 0.8, f"{named}; values: {n} sampled {kind}"
    return "other", 0.85 if n >= 20 else 0.65, f"no name rule matched; no validator passed on {n} sampled {kind}"


def _pct(share: float) -> str:
    return f"{share:.0%}"
