"""What a column's sampled values show: a category found from the values alone, and how well they fit any other.

`analyse` looks at the distinct non-null values of a sample (at most
`MAX_VALUES`). `detected` is the first detector, in a fixed order from the
most specific validator to the least, that enough values pass; `fit(c)` is
the share of values compatible with category `c`, used to confirm or refute
what the column's name says.

>>> a = analyse(ColumnSample("col_17", "VARCHAR", ["+1-939-555-0169", "(927) 555-0178", "+44 20 7946 0958"]))
>>> a.detected.category, a.detected.share
('phone', 1.0)
>>> b = analyse(ColumnSample("phone_verified", "BOOLEAN", [True, False]))
>>> b.detected is None, b.fit("phone"), b.fit("health")
(True, 0.0, 1.0)
"""

from __future__ import annotations

import datetime
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from veil.classify import validators as v
from veil.classify.categories import CATEGORIES
from veil.classify.given_names import GIVEN_NAMES
from veil.classify.names import fold

#: Distinct values of a column the validators look at.
MAX_VALUES = 120
#: A detector first runs on this many values and goes on only when half of them pass (on a spread sample of
#: the rest when all of them do).
PROBE = 24

#: Text that stands for no value: not evidence for or against any category.
PLACEHOLDERS = frozenset({"n/a", "n.a.", "na", "null", "nil", "none", "-", "--", "?", "tbd", "not available",
                          "unknown", "k.a.", "keine angabe", "non renseigne", "sin datos", "0"})
_NAME_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’.\-])*", re.UNICODE)
_PARTICLES = frozenset("van von der den de del della di da dos das du la le al el bin ibn y e mc o".split())
_ADDRESS = re.compile(
    r"(?:^\d+[a-z]?,?\s+\S.*\b(?:st|street|ave|avenue|rd|road|blvd|boulevard|lane|ln|dr|drive|way|court|ct|place|pl|"
    r"square|sq|terrace|rue|avenue|chemin|allee|impasse|quai|calle|avenida|plaza|paseo|camino|via|strada)\b)"
    r"|(?:\b(?:rue|avenue|boulevard|chemin|allee|impasse|quai|calle|avenida|plaza|paseo|camino|via|viale|piazza)\b"
    r".*\d)"
    r"|(?:[a-z]+(?:strasse|str\.|weg|platz|gasse|allee|ring|damm|ufer)\s*\d+)", re.I)
_TOKEN = re.compile(r"[\w.@+:/=-]{2,64}")
_MASKED_CARD = re.compile(r"[X*#•x]{4}(?:[ -]?[X*#•x]{4}){2}[ -]?\d{4}")


def kind_of(type_name: str) -> str:
    """`text`, `integer`, `decimal`, `boolean`, `date`, `timestamp` or `other`, from a SQL type name.

    >>> kind_of("VARCHAR"), kind_of("DECIMAL(18,2)"), kind_of("TIMESTAMP WITH TIME ZONE"), kind_of("INTEGER[]")
    ('text', 'decimal', 'timestamp', 'other')
    """
    t = type_name.upper().strip()
    if t.endswith("]") or t.startswith(("STRUCT", "MAP", "UNION", "LIST")):
        return "other"
    if t.startswith(("VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "UUID", "JSON", "ENUM", "NVARCHAR")):
        return "text"
    if t in {"BOOLEAN", "BOOL"}:
        return "boolean"
    if t.startswith(("TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                     "UINTEGER", "UBIGINT", "UHUGEINT", "LONG")):
        return "integer"
    if t.startswith(("DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL")):
        return "decimal"
    if t == "DATE":
        return "date"
    if t.startswith(("TIMESTAMP", "DATETIME")):
        return "timestamp"
    return "other"


@dataclass(frozen=True)
class ColumnSample:
    """A column as sampled: its name, SQL type and distinct non-null values (sample order)."""

    name: str
    type: str
    values: Sequence[object] = ()
    non_null: int | None = None          # non-null values among the sampled rows (None: not counted)
    distinct: int | None = None          # distinct non-null values among them (None: not counted)

    @property
    def unique(self) -> bool:
        """Every sampled value differs (a key candidate); False when the distinct values were not counted."""
        return self.non_null is not None and self.non_null > 0 and self.distinct == self.non_null


class Share(float):
    """A share of values passing a test, and how many values were tested (`checked`)."""

    checked: int

    def __new__(cls, value: float, checked: int) -> Share:
        share = super().__new__(cls, value)
        share.checked = checked
        return share


@dataclass(frozen=True)
class Detection:
    """A category the values show by themselves."""

    category: str
    share: float
    confidence: float
    how: str


@dataclass(frozen=True)
class _Detector:
    category: str
    test: Callable[[str], bool]
    threshold: float
    confidence: float
    how: str
    limit: int = MAX_VALUES


def _age(day: datetime.date, today: datetime.date) -> float:
    return (today - day).days / 365.25


def _birth_dates(days: list[datetime.date], today: datetime.date) -> tuple[float, bool]:
    """(share of plausible birth dates, whether the set as a whole looks like dates of birth)."""
    if not days:
        return 0.0, False
    ages = [_age(d, today) for d in days]
    plausible = sum(0 <= a <= 120 for a in ages) / len(ages)
    median = statistics.median(ages)
    spread = max(ages) - min(ages)
    looks = plausible >= 0.95 and 16 <= median <= 85 and spread >= 10 and min(ages) >= 0
    return (plausible * (0.3 if median < 1 else 1.0)), looks


def _name_shape(value: str) -> bool:
    words = value.replace(",", " ").split()
    if not 1 <= len(words) <= 5 or any(c.isdigit() for c in value) or "@" in value:
        return False
    capitalised = 0
    for word in words:
        if not _NAME_WORD.fullmatch(word):
            return False
        if word[0].isupper():
            capitalised += 1
        elif fold(word).lower() not in _PARTICLES:
            return False
    return capitalised >= 1


def _given_name(value: str) -> bool:
    words = [fold(w).lower().strip(".,") for w in value.replace(",", " ").split()]
    if not words:
        return False
    first = words[-1] if "," in value else words[0]
    return first in GIVEN_NAMES or first.split("-")[0] in GIVEN_NAMES


def _number_text(value: str) -> float | None:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return None


_TEXT_DETECTORS = (
    _Detector("email", v.is_email, 0.8, 0.97, "are valid email addresses (RFC 5322 syntax)"),
    _Detector("ssn", v.is_ssn, 0.8, 0.96, "are valid SSNs (area/group/serial rules, python-stdnum)"),
    _Detector("card_number", v.is_card, 0.9, 0.96, "are card numbers with a valid Luhn digit (python-stdnum)"),
    _Detector("iban", v.is_iban, 0.8, 0.97, "are valid IBANs (mod 97, python-stdnum)"),
    _Detector("ip_address", v.is_ip, 0.8, 0.96, "parse as IP addresses"),
    _Detector("device_id", lambda s: v.is_mac(s) or v.is_imei(s), 0.8, 0.9,
              "are MAC addresses or IMEIs (python-stdnum)"),
    _Detector("national_id", lambda s: v.national_id(s) is not None, 0.8, 0.92,
              "are valid national ids (DE IdNr, FR NIR, ES DNI/NIE, IT CF, NHS, NINO; python-stdnum)"),
    _Detector("precise_geolocation", v.geo_pair, 0.8, 0.9, "are coordinates (lat, lon) within range"),
    _Detector("phone", v.is_phone, 0.8, 0.94, "are phone numbers (phonenumbers)", limit=48),
    _Detector("postal_code", lambda s: bool(v.UK_POSTCODE.fullmatch(s) or re.fullmatch(r"\d{5}-\d{4}", s)
                                            or re.fullmatch(r"[A-Z]\d[A-Z] \d[A-Z]\d", s)), 0.8, 0.85,
              "are UK, Canadian or ZIP+4 postal codes"),
    _Detector("street_address", lambda s: _ADDRESS.search(s) is not None, 0.7, 0.85, "read as street addresses"),
    _Detector("hashed_id", v.is_hash, 0.9, 0.8, "are hex digests (MD5/SHA)"),
)


class ColumnAnalysis:
    """The values of one sampled column, with what they show."""

    def __init__(self, sample: ColumnSample, today: datetime.date | None = None):
        self.sample = sample
        self.kind = kind_of(sample.type)
        self.today = today or datetime.date.today()
        raw = [x for x in sample.values if x is not None]
        if self.kind == "text" or self.kind == "other":
            texts = [str(x).strip() for x in raw]
            self.scanned: list = [t for t in dict.fromkeys(texts) if t and t.lower() not in PLACEHOLDERS]
        else:
            self.scanned = list(dict.fromkeys(raw))
        self.values: list = self.scanned[:MAX_VALUES]        # what the validators look at
        self.n = len(self.values)

    # -- shares

    def _share(self, test: Callable[[object], bool], limit: int = MAX_VALUES) -> Share:
        """Share of values passing `test`: probed on PROBE values first, then on up to `limit`."""
        if not self.values:
            return Share(0.0, 0)
        probe = self.values[:PROBE]
        passed = sum(1 for x in probe if _safe(test, x))
        if len(probe) == len(self.values) or passed < len(probe) / 2:
            return Share(passed / len(probe), len(probe))
        if passed == len(probe):                   # every probed value passed: the rest is confirmed by a sample
            rest = self.values[PROBE::max(1, (min(limit, self.n) - PROBE) // PROBE)][:PROBE]
        else:
            rest = self.values[PROBE:limit]
        checked = len(probe) + len(rest)
        return Share((passed + sum(1 for x in rest if _safe(test, x))) / checked, checked)

    @cached_property
    def vocab(self) -> list[str]:
        return [v.vocabulary_key(str(x)) for x in self.values] if self.kind == "text" else []

    def _vocabulary(self, words: frozenset[str], specific: frozenset[str], max_distinct: int) -> float:
        if self.kind != "text" or self.n > max_distinct or not self.vocab:
            return 0.0
        inside = [w for w in self.vocab if w in words]
        if len({w for w in inside if w in specific}) < 1:
            return 0.0
        return len(inside) / len(self.vocab)

    # -- detection

    @cached_property
    def detected(self) -> Detection | None:
        """The category the values alone show, or None."""
        if self.n == 0:
            return None
        if self.kind == "text":
            return self._detect_text()
        if self.kind == "integer":
            return self._detect_integer()
        if self.kind in {"date", "timestamp"}:
            return self._detect_dates()
        return None

    def _detect_text(self) -> Detection | None:
        n = self.n
        for d in _TEXT_DETECTORS:
            share = self._share(d.test, d.limit)
            if share >= d.threshold:
                return Detection(d.category, share, d.confidence,
                                 f"{_pct(share)} of {share.checked} sampled values {d.how}")
        days = [v.parse_date(x) for x in self.values[:MAX_VALUES]]
        parsed = [d for d in days if d is not None]
        if parsed and len(parsed) / n >= 0.9:
            share, looks = _birth_dates(parsed, self.today)
            if looks:
                return Detection("birth_date", share, 0.65,
                                 f"{_pct(share)} of {n} sampled values are dates of birth plausible as a set "
                                 f"(ages 0-120, median {statistics.median(_age(d, self.today) for d in parsed):.0f})")
        for category, words, specific, limit in (
                ("gender", v.GENDER, v.GENDER_WORDS, 12), ("ethnicity", v.ETHNICITY, v.ETHNICITY_WORDS, 40),
                ("religion", v.RELIGION, v.RELIGION_WORDS, 40),
                ("sexual_orientation", v.ORIENTATION, v.ORIENTATION_WORDS, 20),
                ("political_opinion", v.POLITICAL, v.POLITICAL_WORDS, 40), ("health", v.HEALTH, v.HEALTH_WORDS, 80)):
            share = self._vocabulary(words, specific, limit)
            if share >= 0.8:
                return Detection(category, share, 0.85,
                                 f"{_pct(share)} of {n} distinct sampled values are {CATEGORIES[category].label} terms")
        icd = self._share(lambda s: v.ICD10.fullmatch(s) is not None)
        if icd >= 0.8 and sum("." in x for x in self.values) >= 0.3 * n:
            return Detection("health", icd, 0.8, f"{_pct(icd)} of {icd.checked} sampled values are ICD-10 codes")
        shaped = self._share(_name_shape)
        if shaped >= 0.85:
            given = self._share(_given_name)
            if given >= 0.3:
                return Detection("person_name", shaped, 0.8,
                                 f"{_pct(shaped)} of {shaped.checked} sampled values read as names, {_pct(given)} "
                                 "start with a common given name")
        return self._detect_free_text()

    def _detect_free_text(self) -> Detection | None:
        if sum(" " in x for x in self.scanned) < 0.5 * len(self.scanned):
            return None
        hits, texts, kinds = self.free_text_hits
        if hits >= 2 and hits >= 0.01 * texts:
            return Detection("free_text", hits / texts, 0.9, f"{hits} of {texts} sampled texts contain PII ({kinds})")
        return None

    @cached_property
    def free_text_hits(self) -> tuple[int, int, str]:
        """(texts holding PII, texts looked at, kinds found), over every distinct text of the sample (MAX_SCAN)."""
        texts = [x for x in self.scanned if isinstance(x, str)]
        hits = [k for k in (v.pii_inside(t) for t in texts) if k]
        return len(hits), len(texts), ", ".join(sorted(set(hits)))

    def _detect_integer(self) -> Detection | None:
        n = self.n
        as_text = [str(x) for x in self.values]
        for category, test, threshold, confidence, how in (
                ("card_number", v.is_card, 0.9, 0.93, "are card numbers with a valid Luhn digit (python-stdnum)"),
                ("device_id", lambda s: len(s) == 15 and v.is_imei(s), 0.9, 0.85, "are IMEIs (python-stdnum)"),
                ("national_id", lambda s: v.national_id(s) is not None, 0.9, 0.85,
                 "are valid national ids (python-stdnum)")):
            share = sum(1 for s in as_text[:64] if _safe(test, s)) / min(n, 64)
            if share >= threshold:
                return Detection(category, share, confidence, f"{_pct(share)} of {min(n, 64)} sampled values {how}")
        return None

    def _detect_dates(self) -> Detection | None:
        days = [x.date() if isinstance(x, datetime.datetime) else x for x in self.values
                if isinstance(x, datetime.date)]
        if not days or any(v.has_time_of_day(x) for x in self.values[:50]):
            return None
        share, looks = _birth_dates(days, self.today)
        if not looks:
            return None
        median = statistics.median(_age(d, self.today) for d in days)
        return Detection("birth_date", share, 0.65,
                         f"{_pct(share)} of {len(days)} sampled dates are plausible dates of birth "
                         f"(median age {median:.0f}, no time of day)")

    # -- fit of a category the name suggests

    def fit(self, category: str) -> Share:
        """Share of the values compatible with `category` (1.0 for attributes of any shape, 0 with no values)."""
        n = self.n
        if n == 0:
            return Share(0.0, 0)
        cat = CATEGORIES[category]
        if category == "other":
            return Share(1.0, n)
        if cat.attribute:
            if category == "gender" and self.kind == "text":
                return self._share(lambda s: v.vocabulary_key(s) in v.GENDER)
            if category == "gender" and self.kind == "integer":
                return self._share(lambda x: x in (0, 1, 2, 9))
            return Share(1.0, n)
        test = _FITS.get((self.kind, category))
        if test is None:
            return Share(0.0, n)
        if self.kind in {"date", "timestamp"} and category == "birth_date":
            if sum(v.has_time_of_day(x) for x in self.values) > n / 2:
                return Share(0.0, n)              # event times, not days of birth
            days = [x.date() if isinstance(x, datetime.datetime) else x for x in self.values]
            return Share(_birth_dates(days, self.today)[0], n)
        if self.kind == "text" and category == "birth_date":
            parsed = [d for d in (v.parse_date(x) for x in self.values) if d is not None]
            if len(parsed) >= 0.8 * n:
                return Share(_birth_dates(parsed, self.today)[0] * len(parsed) / n, n)
        return self._share(test)


def _safe(test: Callable[[object], bool], value: object) -> bool:
    try:
        return bool(test(value))
    except (ValueError, TypeError, ArithmeticError):
        return False


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _year_or_age(x: object, today: datetime.date) -> bool:
    return isinstance(x, int) and (1900 <= x <= today.year or 0 <= x <= 120 or 19000101 <= x <= 21001231)


def _id_document(s: str) -> bool:
    """An identity document number: 6 to 20 letters and digits (separators aside), at least one digit."""
    compact = s.replace("-", "").replace(" ", "").replace(".", "")
    return 6 <= len(compact) <= 20 and compact.isalnum() and any(c.isdigit() for c in compact)


def _key_token(s: str) -> bool:
    return " " not in s and _TOKEN.fullmatch(s) is not None


_TODAY = datetime.date.today()

_FITS: dict[tuple[str, str], Callable[[object], bool]] = {
    ("text", "email"): v.is_email,
    ("text", "phone"): lambda s: v.is_phone(s, strict=False),
    ("text", "person_name"): _name_shape,
    ("text", "ssn"): lambda s: v.is_ssn(s, strict=False),
    ("text", "national_id"): lambda s: v.national_id(s) is not None or _id_document(s),
    ("text", "card_number"): lambda s: v.is_card(s) or _MASKED_CARD.fullmatch(s) is not None or (
        13 <= len(v.digits_of(s)) <= 19),
    ("text", "iban"): lambda s: v.is_iban(s) or 8 <= len(v.digits_of(s)) <= 34,
    ("text", "street_address"): lambda s: (any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
                                           and " " in s) or len(s.split()) >= 2,
    ("text", "username"): _key_token,
    ("text", "ip_address"): v.is_ip,
    ("text", "device_id"): lambda s: " " not in s and len(s) >= 8,
    ("text", "birth_date"): lambda s: v.parse_date(s) is not None,
    ("text", "postal_code"): v.is_postal_code,
    ("text", "precise_geolocation"): lambda s: v.geo_pair(s) or (
        (_number_text(s) is not None) and -180 <= (_number_text(s) or 0) <= 180 and "." in s),
    ("text", "credit_score"): lambda s: _number_text(s) is not None and 0 <= (_number_text(s) or -1) <= 1000,
    ("text", "free_text"): lambda s: _number_text(s) is None and v.parse_date(s) is None and s.lower() not in {
        "true", "false", "yes", "no", "y", "n", "t", "f"},
    ("text", "subject_key"): _key_token,
    ("text", "record_key"): _key_token,
    ("text", "hashed_id"): lambda s: v.is_hash(s) or (" " not in s and len(s) >= 16),
    ("integer", "subject_key"): lambda x: True,
    ("integer", "record_key"): lambda x: True,
    ("integer", "credit_score"): lambda x: 0 <= x <= 1000,
    ("integer", "birth_date"): lambda x: _year_or_age(x, _TODAY),
    ("integer", "postal_code"): lambda x: 500 <= x <= 99999,
    ("integer", "phone"): lambda x: v.is_phone(str(x), strict=False) or v.is_phone("+" + str(x), strict=False),
    ("integer", "card_number"): lambda x: v.is_card(str(x)),
    ("integer", "ssn"): lambda x: 0 < x < 10**9 and v.is_ssn(f"{x:09d}", strict=False),
    ("integer", "national_id"): lambda x: v.national_id(str(x)) is not None or x >= 100000,
    ("integer", "iban"): lambda x: x >= 10000,
    ("integer", "precise_geolocation"): lambda x: -180 <= x <= 180,
    ("integer", "ip_address"): lambda x: 2**24 <= x < 2**32,          # IPv4 stored as an integer
    ("integer", "device_id"): lambda x: v.is_imei(str(x)) or x >= 10**9,
    ("integer", "hashed_id"): lambda x: abs(x) >= 10**9,
    ("decimal", "precise_geolocation"): lambda x: -180 <= x <= 180 and _decimals(x) >= 3,
    ("decimal", "credit_score"): lambda x: 0 <= x <= 1000,
    ("decimal", "birth_date"): lambda x: 0 <= x <= 120,
    ("decimal", "record_key"): lambda x: float(x).is_integer(),
    ("decimal", "subject_key"): lambda x: float(x).is_integer(),
    ("date", "birth_date"): lambda x: True,
    ("timestamp", "birth_date"): lambda x: True,
}


def _decimals(x: object) -> int:
    if isinstance(x, Decimal):
        return max(0, -x.normalize().as_tuple().exponent)
    text = repr(float(x))
    return len(text.split(".", 1)[1]) if "." in text and "e" not in text else 0


def analyse(sample: ColumnSample, today: datetime.date | None = None) -> ColumnAnalysis:
    """Analyse one sampled column."""
    return ColumnAnalysis(sample, today)
