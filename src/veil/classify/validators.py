"""Validators of single values, backed by maintained libraries where one exists.

Phone numbers are parsed by `phonenumbers` (Google's libphonenumber);
SSNs (area, group and serial rules, and the numbers never issued), IBANs
(mod 97), national identifiers (German IdNr, French NIR, Spanish DNI/NIE,
Italian codice fiscale, NHS number), IMEIs, MAC addresses and the Luhn check of card
numbers by `python-stdnum`; IP addresses by the standard library's
`ipaddress`. Email addresses are checked against the RFC 5322 dot-atom
syntax (no network: no DNS or mailbox check).

Every function takes a value already stripped of surrounding whitespace.

>>> is_email("jose1@gmail.com"), is_email("not an email"), is_email("a@b")
(True, False, False)
>>> is_phone("+1-939-555-0169"), is_phone("(927) 555-0178"), is_phone("2024-01-01"), is_phone("9275550178")
(True, True, False, False)
>>> is_phone("9275550178", strict=False)
True
>>> is_ssn("123-45-6789"), is_ssn("666-12-3456"), is_ssn("078-05-1120")
(True, False, False)
>>> is_card("4111 1111 1111 1111"), is_card("4111 1111 1111 1112")
(True, False)
>>> is_iban("DE89 3704 0044 0532 0130 00"), is_ip("2001:db8::1"), is_ip("300.1.1.1")
(True, True, False)
>>> national_id("54362315K"), national_id("36574261809"), national_id("12345678")
('es.dni', 'de.idnr', None)
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import uuid

import phonenumbers
from stdnum import iban as _iban
from stdnum import imei as _imei
from stdnum import luhn as _luhn
from stdnum import mac as _mac
from stdnum.de import idnr as _de_idnr
from stdnum.es import dni as _es_dni
from stdnum.es import nie as _es_nie
from stdnum.fr import nir as _fr_nir
from stdnum.gb import nhs as _gb_nhs
from stdnum.it import codicefiscale as _it_cf
from stdnum.us import ssn as _us_ssn

from veil.classify.names import fold

_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"              # RFC 6531 allows UTF-8 letters
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
EMAIL_INSIDE = re.compile(rf"(?<![\w.+-]){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}\b")
_PHONE_SHAPE = re.compile(r"(?:\+|00)?\(?\d[\d ().\-/]{5,20}\d(?:\s*(?:x|ext\.?)\s*\d{1,5})?")
PHONE_INSIDE = re.compile(r"(?<![\w.])(?:\+|00)?\(?\d[\d ().\-]{6,18}\d(?![\w.])")
_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}")
SSN_INSIDE = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
CARD_INSIDE = re.compile(r"(?<!\d)\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,7}(?!\d)")
_DIGIT_RUN = re.compile(r"\d[\d ().\-]{6,}\d")     # every number below has one: 8+ digits and separators
IBAN_INSIDE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_DECIMAL = re.compile(r"[-+]?\d+[.,]\d+")
UK_POSTCODE = re.compile(r"(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})", re.I)
POSTAL_SHAPES = (
    re.compile(r"\d{5}(?:-\d{4})?"),                  # US ZIP, ZIP+4; DE, FR, ES, IT five digits
    UK_POSTCODE,
    re.compile(r"[A-Z]\d[A-Z] ?\d[A-Z]\d", re.I),     # Canada
    re.compile(r"\d{4} ?[A-Z]{2}", re.I),             # Netherlands
    re.compile(r"\d{4}"),                             # AT, BE, CH, DK, NO...
    re.compile(r"\d{3}-\d{4}"),                       # Japan
    re.compile(r"\d{2}-\d{3}"),                       # Poland
)
NINO = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]", re.I)  # UK NI number format
_GEO_PAIR = re.compile(r"(-?\d{1,3}\.\d{3,})\s*[,; ]\s*(-?\d{1,3}\.\d{3,})")
_WKT_POINT = re.compile(r"POINT\s*\(\s*(-?\d{1,3}\.\d+)\s+(-?\d{1,3}\.\d+)\s*\)", re.I)
_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES")
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d-%m-%Y")


_NON_DIGITS = re.compile(r"\D+")


def digits_of(value: str) -> str:
    return _NON_DIGITS.sub("", value)


def is_email(value: str) -> bool:
    """RFC 5322 dot-atom syntax, a domain of valid labels and an alphabetic TLD."""
    return "@" in value and len(value) <= 254 and EMAIL.fullmatch(value) is not None


def is_phone(value: str, strict: bool = True) -> bool:
    """A phone number `phonenumbers` finds possible in its own region (`+...`) or in US, GB, DE, FR, ES.

    `strict` (detection from values alone) wants the number written as one:
    an international prefix or separators; a bare run of digits could be any
    number and only fits a column whose name says phone.
    """
    if not value or value[0] not in "+(0123456789" or not _PHONE_SHAPE.fullmatch(value):
        return False
    if _DATE_LIKE.fullmatch(value) or _SSN_SHAPE.fullmatch(value):
        return False
    if _DECIMAL.fullmatch(value) or value.count(".") == 3 and is_ip(value):
        return False
    digits = digits_of(value)
    if not 7 <= len(digits) <= 15:
        return False
    international = value.startswith(("+", "00"))
    if strict and not international and not any(c in value for c in " ().-/"):
        return False
    regions = (None,) if value.startswith("+") else _PHONE_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number_with_reason(number) == phonenumbers.ValidationResult.IS_POSSIBLE:
            return True
    return False


def is_ssn(value: str, strict: bool = True) -> bool:
    """A US SSN by the SSA's rules (no area 000, 666 or 9xx, no group 00, no serial 0000, none of the voided).

    `strict` wants the AAA-GG-SSSS layout; otherwise nine bare digits do.
    """
    if strict and (len(value) != 11 or not _SSN_SHAPE.fullmatch(value)):
        return False
    if not strict and not 9 <= len(value) <= 11:
        return False
    return _us_ssn.is_valid(value.replace(" ", "-"))


def is_card(value: str) -> bool:
    """13 to 19 digits (spaces or dashes between groups), an issuer prefix 2-6 and a valid Luhn check digit."""
    if not 13 <= len(value) <= 23 or not value[0].isdigit():
        return False
    digits = digits_of(value)
    if not 13 <= len(digits) <= 19 or len(digits) != len(value.replace(" ", "").replace("-", "")):
        return False
    return digits[0] in "23456" and _luhn.is_valid(digits)


def is_iban(value: str) -> bool:
    """An IBAN: country format and mod-97 check digits."""
    return 15 <= len(value) <= 42 and value[:2].isalpha() and value[2:4].isdigit() and _iban.is_valid(value)


def is_ip(value: str) -> bool:
    """An IPv4 or IPv6 address."""
    if ":" not in value and value.count(".") != 3:
        return False
    try:
        ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return True


def is_mac(value: str) -> bool:
    """A MAC address (EUI-48); randomised and locally administered ones too, so no manufacturer check."""
    return 12 <= len(value) <= 17 and _mac.is_valid(value, validate_manufacturer=False)


def is_imei(value: str) -> bool:
    return 14 <= len(value) <= 19 and value[0].isdigit() and len(digits_of(value)) in (14, 15, 16) and \
        _imei.is_valid(value)


def is_uuid(value: str) -> bool:
    if len(value) not in (32, 36, 38):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


_HEX = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}|[0-9a-f]{64}|[0-9A-F]{32}|[0-9A-F]{40}|[0-9A-F]{64}")


def is_hash(value: str) -> bool:
    """A hex digest (MD5, SHA-1, SHA-224, SHA-256): a pseudonym of something."""
    return _HEX.fullmatch(value) is not None


def national_id(value: str) -> str | None:
    """Which national identifier the value is, or None.

    German tax id (`de.idnr`), French social security number (`fr.nir`),
    Spanish DNI and NIE, Italian codice fiscale (`it.cf`), NHS number
    (`gb.nhs`, mod 11) and National Insurance number (`gb.nino`, layout only).
    """
    if not 9 <= len(value) <= 21:
        return None
    compact = value.replace(" ", "").replace("-", "").replace(".", "")
    n = len(compact)
    if n not in (9, 10, 11, 13, 15, 16) or not compact.isalnum():
        return None
    if n == 9 and compact[:8].isdigit() and _es_dni.is_valid(compact):
        return "es.dni"
    if n == 9 and compact[0] in "XYZxyz" and _es_nie.is_valid(compact):
        return "es.nie"
    if n == 11 and compact.isdigit() and _de_idnr.is_valid(compact):
        return "de.idnr"
    if n in (13, 15) and compact[0] in "12" and _fr_nir.is_valid(compact):
        return "fr.nir"
    if n == 16 and _it_cf.is_valid(compact):
        return "it.cf"
    if n == 10 and compact.isdigit() and _gb_nhs.is_valid(compact):
        return "gb.nhs"
    if n == 9 and NINO.fullmatch(value):
        return "gb.nino"
    return None


def is_postal_code(value: str) -> bool:
    """A postal code layout of the US, UK, Canada, the Netherlands, Japan, Poland or a 4/5-digit country."""
    return any(p.fullmatch(value) for p in POSTAL_SHAPES)


def geo_pair(value: str) -> bool:
    """`lat, lon` with three or more decimals each, or a WKT POINT, within the coordinate ranges."""
    if "," not in value and ";" not in value and " " not in value:
        return False
    match = _GEO_PAIR.fullmatch(value)
    if match:
        lat, lon = float(match.group(1)), float(match.group(2))
        return -90 <= lat <= 90 and -180 <= lon <= 180
    match = _WKT_POINT.fullmatch(value)
    if match:
        lon, lat = float(match.group(1)), float(match.group(2))
        return -90 <= lat <= 90 and -180 <= lon <= 180
    return False


def parse_date(value: str) -> datetime.date | None:
    """A calendar date written as text (ISO, day.month.year, month/day/year...), or None."""
    if not _DATE_LIKE.match(value) or len(value) > 32:
        return None
    head = value[:10]
    for pattern in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(head, pattern).date()
        except ValueError:
            continue
    return None


def has_time_of_day(value: object) -> bool:
    return isinstance(value, datetime.datetime) and (value.hour, value.minute, value.second) != (0, 0, 0)


def pii_inside(text: str) -> str | None:
    """The first kind of PII found inside free text (`email`, `phone`, `ssn`, `card_number`, `iban`), or None.

    >>> pii_inside("Customer called from +44 20 7946 0958 about the refund")
    'phone'
    >>> pii_inside("Shipped on 2024-03-01, order 12345") is None
    True
    """
    if "@" in text and EMAIL_INSIDE.search(text):
        return "email"
    if not _DIGIT_RUN.search(text):
        return None
    for match in SSN_INSIDE.finditer(text):
        if is_ssn(match.group(0)):
            return "ssn"
    for match in CARD_INSIDE.finditer(text):
        if is_card(match.group(0)):
            return "card_number"
    for match in IBAN_INSIDE.finditer(text):
        if is_iban(match.group(0)):
            return "iban"
    for match in PHONE_INSIDE.finditer(text):
        candidate = match.group(0).strip(" .-()")
        if is_phone(candidate) and len(digits_of(candidate)) >= 9:
            return "phone"
    return None


# -- vocabularies of attribute categories (folded, lowercase), several languages

def _v(text: str) -> frozenset[str]:
    return frozenset(w.strip() for w in text.split(",") if w.strip())


GENDER = _v("""male, female, m, f, man, woman, men, women, boy, girl, nonbinary, non-binary, non binary, nb, enby,
other, unknown, x, u, diverse, divers, d, w, maennlich, mannlich, weiblich, mann, frau, homme, femme, h, masculin,
feminin, masculine, feminine, hombre, mujer, masculino, femenino, otro, otra, autre, prefer not to say,
undisclosed, agender, genderqueer, genderfluid, trans, transgender, trans man, trans woman, intersex,
not specified, non specifie, no especificado, keine angabe""")
GENDER_WORDS = _v("""male, female, man, woman, nonbinary, non-binary, maennlich, mannlich, weiblich, homme, femme,
masculin, feminin, hombre, mujer, masculino, femenino, divers, transgender, genderqueer""")
ETHNICITY = _v("""white, caucasian, black, african american, african-american, black or african american, asian,
east asian, south asian, southeast asian, hispanic, latino, latina, latinx, hispanic or latino, native american,
american indian, american indian or alaska native, alaska native, pacific islander, native hawaiian,
native hawaiian or other pacific islander, middle eastern, arab, north african, mixed, multiracial,
two or more races, other, prefer not to say, unknown, white british, black british, asian british, roma,
indigenous, aboriginal, weiss, schwarz, asiatisch, afrikanisch, blanc, blanche, noir, noire, asiatique,
maghrebin, metis, metisse, hispanique, blanco, blanca, negro, negra, asiatico, asiatica, hispano, hispana,
mestizo, mestiza, indigena, gitano""")
ETHNICITY_WORDS = _v("""caucasian, african american, african-american, black or african american, asian, east asian,
south asian, hispanic, latino, latina, latinx, hispanic or latino, native american, american indian, alaska native,
pacific islander, native hawaiian, multiracial, two or more races, white british, black british, asian british,
middle eastern, asiatisch, asiatique, maghrebin, metis, hispanique, asiatico, hispano, mestizo, indigena""")
RELIGION = _v("""christian, christianity, catholic, roman catholic, protestant, orthodox, evangelical, lutheran,
anglican, baptist, methodist, mormon, muslim, islam, sunni, shia, jewish, judaism, hindu, hinduism, buddhist,
buddhism, sikh, sikhism, jain, atheist, agnostic, none, no religion, other, spiritual, unaffiliated, christlich,
katholisch, evangelisch, muslimisch, juedisch, judisch, konfessionslos, chretien, chretienne, catholique,
protestante, musulman, musulmane, juif, juive, bouddhiste, athee, agnostique, sans religion, cristiano,
cristiana, catolico, catolica, protestante, musulmana, judio, judia, budista, ateo, atea, agnostico, sin religion,
prefer not to say, unknown""")
RELIGION_WORDS = RELIGION - _v("none, no religion, other, unknown, prefer not to say, spiritual, unaffiliated")
ORIENTATION = _v("""heterosexual, straight, gay, lesbian, bisexual, bi, asexual, pansexual, queer, homosexual,
questioning, other, prefer not to say, unknown, heterosexuel, heterosexuelle, homosexuel, homosexuelle, bisexuel,
bisexuelle, heterosexuell, homosexuell, bisexuell, schwul, lesbisch, lesbienne, lesbiana, gai""")
ORIENTATION_WORDS = ORIENTATION - _v("other, prefer not to say, unknown, bi, straight, queer")
POLITICAL = _v("""democrat, democratic, republican, independent, libertarian, green, greens, labour, labor,
conservative, liberal, socialist, communist, tory, snp, liberal democrat, lib dem, reform, cdu, csu, spd, fdp,
gruene, die gruenen, afd, linke, die linke, bsw, lr, ps, lfi, rn, renaissance, eelv, pp, psoe, vox, podemos,
sumar, ciudadanos, left, right, centre, center, centrist, far left, far right, none, undecided, other, unknown""")
POLITICAL_WORDS = POLITICAL - _v("none, undecided, other, unknown, left, right, centre, center, green, reform, independent")
HEALTH = _v("""diabetes, type 1 diabetes, type 2 diabetes, asthma, hypertension, depression, anxiety, cancer,
breast cancer, hiv, aids, copd, arthritis, epilepsy, migraine, obesity, allergy, heart disease, stroke,
alzheimer, alzheimer's disease, dementia, covid-19, influenza, pneumonia, bronchitis, hepatitis, hepatitis b,
hepatitis c, schizophrenia, bipolar disorder, adhd, autism, multiple sclerosis, parkinson's disease, none,
bluthochdruck, krebs, asthme, diabete, depressione, asma, hipertension, depresion, ansiedad, diabetique,
a+, a-, b+, b-, ab+, ab-, o+, o-, 0+, 0-""")
HEALTH_WORDS = HEALTH - _v("none")
ICD10 = re.compile(r"[A-TV-Z]\d{2}(?:\.\d{1,4}[A-Z]?)?")


def vocabulary_key(value: str) -> str:
    """The folded, lowercase form vocabularies are written in."""
    return " ".join(fold(value).lower().replace("_", " ").split())
