"""A labelled corpus of synthetic columns, and veil classify's precision and recall on it.

Every value is synthetic: the demo company of `veil.demo.synthetic` (its
users, events, payments, consent log and deletion registry), plus tables in
English, German, French and Spanish generated here from a fixed seed:
fictional phone ranges (NANP 555-01xx, Ofcom's drama numbers), identifiers
made valid with python-stdnum's own check-digit functions, names from the
demo vocabulary. Some columns carry misleading names (`col_17` holding
phone numbers, `phone_verified` holding booleans, `ref_code` holding IBANs).

    python -m veil.classify.corpus          # prints precision and recall per category

>>> len(CORPUS) >= 150 and len({spec.category for spec in CORPUS}) >= 20
True
"""

from __future__ import annotations

import argparse
import datetime
import random
import string
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from stdnum import iban as _iban
from stdnum import luhn
from stdnum.de import idnr
from stdnum.es import dni
from stdnum.fr import nir
from stdnum.iso7064 import mod_11_10

from veil.classify.categories import classification_of
from veil.demo import vocabulary
from veil.demo.synthetic import generate

AS_OF = datetime.date(2025, 6, 30)
ROWS = 400
FIRST = vocabulary.FIRST_NAMES
LAST = vocabulary.LAST_NAMES


@dataclass(frozen=True)
class Spec:
    """One labelled column: where it lives, its SQL type, how its values are drawn, what it truly is."""

    table: str
    column: str
    type: str
    category: str
    draw: Callable[[random.Random, int], object] | None = None     # None: the demo generator's column
    misleading: bool = False
    held_out: bool = False        # written after the rules were tuned, and not tuned against


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice(string.digits) for _ in range(n))


def full_name(r, i):
    return f"{r.choice(FIRST)} {r.choice(LAST)}"


def email(r, i):
    domain = r.choice(["example.com", "mail.example", "acme-corp.example", "gmx.de", "correo.example", "free.fr"])
    return f"{r.choice(FIRST).lower()[:3]}.{r.choice(LAST).lower()[:4]}{i}@{domain}".replace(" ", "").replace("'", "")


def phone_us(r, i):
    return r.choice(["+1-{a}-555-01{b:02d}", "({a}) 555-01{b:02d}", "{a}.555.01{b:02d}"]).format(
        a=r.randint(201, 989), b=r.randint(0, 99))


def phone_de(r, i):
    return r.choice([f"+49 30 {_digits(r, 7)}", f"030 {_digits(r, 8)}", f"0151 {_digits(r, 8)}",
                     f"+49 151 {_digits(r, 8)}"])


def phone_fr(r, i):
    d = [_digits(r, 2) for _ in range(4)]
    return r.choice([f"+33 6 {' '.join(d)}", f"06 {' '.join(d)}", f"01 {' '.join(d)}"])


def phone_es(r, i):
    return r.choice([f"+34 6{_digits(r, 2)} {_digits(r, 3)} {_digits(r, 3)}", f"6{_digits(r, 2)} {_digits(r, 2)} "
                     f"{_digits(r, 2)} {_digits(r, 2)}", f"91 {_digits(r, 3)} {_digits(r, 2)} {_digits(r, 2)}"])


def phone_uk(r, i):
    return r.choice([f"+44 20 7946 0{_digits(r, 3)}", f"020 7946 0{_digits(r, 3)}", f"+44 7700 900{_digits(r, 3)}"])


def ssn(r, i):
    area = r.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"


def de_idnr(r, i):
    while True:
        head = str(r.randint(1, 9)) + _digits(r, 9)
        counts = Counter(head)
        if sorted(counts.values())[-1] in (2, 3) and sum(1 for c in counts.values() if c > 1) == 1:
            number = head + mod_11_10.calc_check_digit(head)
            if idnr.is_valid(number):
                return number


def fr_nir(r, i):
    body = f"{r.randint(1, 2)}{r.randint(50, 99)}{r.randint(1, 12):02d}{r.randint(1, 95):02d}{_digits(r, 3)}{_digits(r, 3)}"
    return f"{body}{nir.calc_check_digits(body + '00')}"


def es_dni(r, i):
    body = _digits(r, 8)
    return body + dni.calc_check_digit(body)


def nhs_number(r, i):
    while True:
        body = _digits(r, 9)
        check = (11 - sum(w * int(d) for w, d in zip(range(10, 1, -1), body)) % 11) % 11
        if check != 10:
            return f"{body[:3]} {body[3:6]} {body[6:]}{check}"


def card(r, i):
    prefix = r.choice(["4", "51", "55", "37", "6011"])
    length = 15 if prefix == "37" else 16
    body = prefix + _digits(r, length - len(prefix) - 1)
    number = body + luhn.calc_check_digit(body)
    return r.choice([number, " ".join(number[k:k + 4] for k in range(0, len(number), 4))]) if length == 16 else number


def iban_de(r, i):
    bban = _digits(r, 18)
    return f"DE{_iban.calc_check_digits('DE00' + bban)}{bban}"


def iban_any(r, i):
    country, bban = r.choice([("DE", _digits(r, 18)), ("FR", _digits(r, 23)), ("AT", _digits(r, 16)),
                              ("NL", "ABNA" + _digits(r, 10)), ("GB", "WEST" + _digits(r, 14))])
    number = f"{country}{_iban.calc_check_digits(country + '00' + bban)}{bban}"
    return " ".join(number[k:k + 4] for k in range(0, len(number), 4)) if r.random() < 0.5 else number


def ipv4(r, i):
    return ".".join(str(r.randint(1, 254)) for _ in range(4))


def ip_any(r, i):
    if r.random() < 0.7:
        return ipv4(r, i)
    return ":".join(f"{r.randint(0, 65535):x}" for _ in range(8))


def uuid4(r, i):
    return str(uuid.UUID(int=r.getrandbits(128), version=4))


def mac(r, i):
    return ":".join(f"{r.randint(0, 255):02X}" for _ in range(6))


def imei(r, i):
    body = _digits(r, 14)
    return body + luhn.calc_check_digit(body)


def birth(r, i):
    return AS_OF - datetime.timedelta(days=r.randint(18 * 365, 90 * 365))


def birth_fr(r, i):
    return birth(r, i).strftime("%d/%m/%Y")


def birth_iso(r, i):
    return birth(r, i).isoformat()


def zip_us(r, i):
    return f"{r.randint(501, 99950):05d}"


def plz(r, i):
    return f"{r.randint(1067, 99998):05d}"


def uk_postcode(r, i):
    return f"{r.choice(['SW', 'EC', 'N', 'M', 'B', 'LS', 'G'])}{r.randint(1, 20)} {r.randint(1, 9)}" \
           f"{r.choice('ABDEFGHJLNPQRSTUWXYZ')}{r.choice('ABDEFGHJLNPQRSTUWXYZ')}"


def street_en(r, i):
    return f"{r.randint(1, 999)} {r.choice(['Main', 'Oak', 'Park', 'Elm', 'Maple', 'Cedar'])} " \
           f"{r.choice(['Street', 'Avenue', 'Road', 'Lane', 'Drive'])}"


def street_de(r, i):
    return f"{r.choice(['Haupt', 'Bahnhof', 'Schul', 'Garten', 'Berg'])}{r.choice(['straße', 'weg', 'platz'])} " \
           f"{r.randint(1, 120)}"


def street_fr(r, i):
    return f"{r.randint(1, 150)} {r.choice(['rue', 'avenue', 'boulevard'])} " \
           f"{r.choice(['de la Paix', 'Victor Hugo', 'des Lilas', 'du Moulin'])}"


def street_es(r, i):
    return f"{r.choice(['Calle', 'Avenida', 'Plaza'])} {r.choice(['Mayor', 'del Sol', 'de la Luz', 'Real'])} " \
           f"{r.randint(1, 200)}"


def lat(r, i):
    return round(r.uniform(-60, 70), 6)


def lon(r, i):
    return round(r.uniform(-170, 170), 6)


def geo_text(r, i):
    return f"{lat(r, i):.5f}, {lon(r, i):.5f}"


def wkt(r, i):
    return f"POINT({lon(r, i):.6f} {lat(r, i):.6f})"


def pick(*values):
    return lambda r, i: r.choice(values)


def note_with_pii(r, i):
    if r.random() < 0.25:
        return r.choice([f"Please call back on {phone_uk(r, i)} after 5pm",
                         f"Customer asked to use {email(r, i)} from now on",
                         f"Rappeler le client au {phone_fr(r, i)}",
                         f"Neue Adresse per Mail: {email(r, i)}"])
    return r.choice(["Delivered to the front desk", "Asked about the return policy", "Paquete entregado sin incidencias",
                     "Kunde war sehr zufrieden", "Wants the blue one instead", "Refund processed"])


def product_text(r, i):
    return r.choice(["Soft cotton t-shirt, machine washable", "Stainless steel water bottle, 750 ml",
                     "Wireless mouse with two buttons", "Organic green tea, 20 bags", "Leather wallet in brown"])


def seq(r, i):
    return i + 1


def seq_big(r, i):
    return 100000 + i * 7


def money(r, i):
    return round(r.uniform(1, 900), 2)


def ts(r, i):
    return datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=r.randint(0, 500 * 86400))


def day(r, i):
    return datetime.date(2024, 1, 1) + datetime.timedelta(days=r.randint(0, 500))


def flag(r, i):
    return r.random() < 0.5


def digest(r, i):
    return f"{r.getrandbits(128):032x}"


def sku(r, i):
    return f"SKU-{r.randint(100, 999)}"


GENDER_EN = pick("female", "male", "nonbinary", "unknown")
GENDER_DE = pick("weiblich", "männlich", "divers")
GENDER_FR = pick("femme", "homme")
GENDER_ES = pick("mujer", "hombre", "otro")
GENDER_MF = pick("F", "M")
ETHNICITY = pick("White", "Black or African American", "Asian", "Hispanic or Latino", "Two or more races",
                 "Native Hawaiian or Other Pacific Islander")
RELIGION_EN = pick("Christian", "Muslim", "Jewish", "Hindu", "Buddhist", "None", "Atheist")
RELIGION_DE = pick("evangelisch", "katholisch", "muslimisch", "konfessionslos")
RELIGION_FR = pick("catholique", "musulman", "juif", "athée", "protestante")
ORIENTATION = pick("heterosexual", "gay", "lesbian", "bisexual", "asexual")
ORIENTATION_ES = pick("heterosexual", "homosexual", "bisexual")
POLITICAL_EN = pick("Democrat", "Republican", "Independent", "Libertarian", "Green")
POLITICAL_DE = pick("CDU", "SPD", "Grüne", "FDP", "Linke", "AfD")
POLITICAL_ES = pick("PP", "PSOE", "Vox", "Podemos", "Sumar")
ICD = pick("E11.9", "J45.909", "I10", "F32.9", "M54.5", "K21.9", "E78.5", "J06.9")
BLOOD = pick("A+", "A-", "B+", "O+", "O-", "AB+")
MEDICATION = pick("metformin", "lisinopril", "atorvastatin", "levothyroxine", "amlodipine", "omeprazole")
ALLERGY = pick("penicillin", "peanuts", "latex", "pollen", "shellfish", "none")
COUNTRY = pick("US", "DE", "FR", "ES", "GB")
STATUS = pick("completed", "shipped", "returned", "pending")
CURRENCY = pick("USD", "EUR", "GBP")
CITY = pick("Paris", "Berlin", "Madrid", "Lyon", "Sevilla", "Hamburg", "Boston")


def _table(name: str, columns: Sequence[tuple], misleading: Sequence[str] = (), held_out: bool = False) -> list[Spec]:
    return [Spec(name, column, sql_type, category, draw, column in misleading, held_out)
            for column, sql_type, category, draw in columns]


def passport(r, i):
    return r.choice("CFGHJK") + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(8))


def es_nie(r, i):
    body = r.choice("XYZ") + _digits(r, 7)
    return body + dni.calc_check_digit(str("XYZ".index(body[0])) + body[1:])


def name_last_first(r, i):
    return f"{r.choice(LAST)}, {r.choice(FIRST)}"


def text_with_iban(r, i):
    if r.random() < 0.2:
        return f"Refund to account {iban_any(r, i)} requested by phone"
    return r.choice(["Refund approved", "Waiting for the courier", "Escalated to billing", "Closed, no action"])


def handle(r, i):
    return "@" + r.choice(FIRST).lower()[:5].replace("é", "e") + str(r.randint(1, 999))


DEMO = [Spec("users", c, t, cat) for c, t, cat in (
    ("user_id", "BIGINT", "subject_key"), ("name", "VARCHAR", "person_name"), ("email", "VARCHAR", "email"),
    ("phone", "VARCHAR", "phone"), ("ssn", "VARCHAR", "ssn"), ("birth_date", "DATE", "birth_date"),
    ("zip", "VARCHAR", "postal_code"), ("gender", "VARCHAR", "gender"), ("country", "VARCHAR", "other"),
    ("created_at", "TIMESTAMP", "other"))] + [Spec("events", c, t, cat) for c, t, cat in (
    ("event_id", "BIGINT", "record_key"), ("user_id", "BIGINT", "subject_key"), ("device_id", "VARCHAR", "device_id"),
    ("ip_address", "VARCHAR", "ip_address"), ("event_type", "VARCHAR", "other"), ("amount", "DECIMAL", "other"),
    ("event_ts", "TIMESTAMP", "other"))] + [Spec("payments", c, t, cat) for c, t, cat in (
    ("payment_id", "BIGINT", "record_key"), ("user_id", "BIGINT", "subject_key"),
    ("card_number", "VARCHAR", "card_number"), ("amount", "DECIMAL", "other"), ("currency", "VARCHAR", "other"),
    ("paid_at", "TIMESTAMP", "other"))] + [Spec("consent_events", c, t, cat) for c, t, cat in (
    ("consent_id", "BIGINT", "record_key"), ("user_id", "BIGINT", "subject_key"), ("purpose", "VARCHAR", "other"),
    ("granted", "BOOLEAN", "other"), ("recorded_at", "TIMESTAMP", "other"))] + [
    Spec("deletion_requests", c, t, cat) for c, t, cat in (
        ("request_id", "BIGINT", "record_key"), ("user_id", "BIGINT", "subject_key"),
        ("requested_at", "TIMESTAMP", "other"), ("regulation", "VARCHAR", "other"))]

GENERATED = [
    *_table("customers_en", [
        ("customer_id", "BIGINT", "subject_key", seq), ("first_name", "VARCHAR", "person_name", pick(*FIRST)),
        ("last_name", "VARCHAR", "person_name", pick(*LAST)), ("email_address", "VARCHAR", "email", email),
        ("mobile_phone", "VARCHAR", "phone", phone_us), ("social_security_number", "VARCHAR", "ssn", ssn),
        ("dateOfBirth", "DATE", "birth_date", birth), ("zipCode", "VARCHAR", "postal_code", zip_us),
        ("street_address", "VARCHAR", "street_address", street_en), ("sex", "VARCHAR", "gender", GENDER_MF),
        ("ethnicity", "VARCHAR", "ethnicity", ETHNICITY), ("religion", "VARCHAR", "religion", RELIGION_EN),
        ("sexual_orientation", "VARCHAR", "sexual_orientation", ORIENTATION),
        ("political_party", "VARCHAR", "political_opinion", POLITICAL_EN),
        ("credit_score", "INTEGER", "credit_score", lambda r, i: r.randint(300, 850)),
        ("username", "VARCHAR", "username", lambda r, i: f"{r.choice(FIRST).lower()[:4]}_{i}"),
        ("country", "VARCHAR", "other", COUNTRY), ("created_at", "TIMESTAMP", "other", ts),
        ("is_active", "BOOLEAN", "other", flag), ("phone_verified", "BOOLEAN", "other", flag),
        ("email_opt_in", "BOOLEAN", "other", flag), ("lifetime_value", "DECIMAL(12,2)", "other", money),
        ("notes", "VARCHAR", "free_text", note_with_pii), ("city", "VARCHAR", "other", CITY)],
        misleading=("phone_verified", "email_opt_in")),
    *_table("kunden", [
        ("kundennummer", "BIGINT", "subject_key", seq), ("vorname", "VARCHAR", "person_name", pick(*FIRST)),
        ("nachname", "VARCHAR", "person_name", pick(*LAST)), ("E_Mail_Adresse", "VARCHAR", "email", email),
        ("telefonnummer", "VARCHAR", "phone", phone_de), ("geburtsdatum", "DATE", "birth_date", birth),
        ("plz", "VARCHAR", "postal_code", plz), ("strasse", "VARCHAR", "street_address", street_de),
        ("steuer_id", "VARCHAR", "national_id", de_idnr), ("iban", "VARCHAR", "iban", iban_de),
        ("geschlecht", "VARCHAR", "gender", GENDER_DE), ("konfession", "VARCHAR", "religion", RELIGION_DE),
        ("partei", "VARCHAR", "political_opinion", POLITICAL_DE), ("schufa_score", "INTEGER", "credit_score",
                                                                    lambda r, i: r.randint(50, 100)),
        ("bemerkung", "VARCHAR", "free_text", note_with_pii), ("land", "VARCHAR", "other", COUNTRY),
        ("angelegt_am", "TIMESTAMP", "other", ts), ("umsatz", "DECIMAL(12,2)", "other", money),
        ("newsletter", "BOOLEAN", "other", flag)]),
    *_table("clients_fr", [
        ("id_client", "BIGINT", "subject_key", seq), ("prenom", "VARCHAR", "person_name", pick(*FIRST)),
        ("nom_de_famille", "VARCHAR", "person_name", pick(*LAST)), ("courriel", "VARCHAR", "email", email),
        ("telephone", "VARCHAR", "phone", phone_fr), ("date_de_naissance", "VARCHAR", "birth_date", birth_fr),
        ("code_postal", "VARCHAR", "postal_code", plz), ("adresse", "VARCHAR", "street_address", street_fr),
        ("numero_securite_sociale", "VARCHAR", "national_id", fr_nir), ("sexe", "VARCHAR", "gender", GENDER_FR),
        ("religion", "VARCHAR", "religion", RELIGION_FR), ("commentaire", "VARCHAR", "free_text", note_with_pii),
        ("pays", "VARCHAR", "other", COUNTRY), ("date_creation", "DATE", "other", day),
        ("montant_total", "DECIMAL(12,2)", "other", money), ("actif", "BOOLEAN", "other", flag)]),
    *_table("clientes_es", [
        ("id_cliente", "BIGINT", "subject_key", seq), ("nombre", "VARCHAR", "person_name", full_name),
        ("apellidos", "VARCHAR", "person_name", pick(*LAST)), ("correo_electronico", "VARCHAR", "email", email),
        ("telefono_movil", "VARCHAR", "phone", phone_es), ("fecha_de_nacimiento", "DATE", "birth_date", birth),
        ("codigo_postal", "VARCHAR", "postal_code", plz), ("direccion", "VARCHAR", "street_address", street_es),
        ("dni", "VARCHAR", "national_id", es_dni), ("sexo", "VARCHAR", "gender", GENDER_ES),
        ("etnia", "VARCHAR", "ethnicity", ETHNICITY), ("orientacion_sexual", "VARCHAR", "sexual_orientation",
                                                       ORIENTATION_ES),
        ("partido_politico", "VARCHAR", "political_opinion", POLITICAL_ES),
        ("tarjeta_de_credito", "VARCHAR", "card_number", card), ("observaciones", "VARCHAR", "free_text",
                                                                  note_with_pii),
        ("pais", "VARCHAR", "other", COUNTRY), ("fecha_alta", "TIMESTAMP", "other", ts),
        ("saldo", "DECIMAL(12,2)", "other", money)]),
    *_table("billing", [
        ("invoice_id", "BIGINT", "record_key", seq_big), ("customer_id", "BIGINT", "subject_key", seq),
        ("cc_number", "VARCHAR", "card_number", card), ("CardHolderName", "VARCHAR", "person_name", full_name),
        ("bank_account_iban", "VARCHAR", "iban", iban_any), ("billing_address", "VARCHAR", "street_address",
                                                             street_en),
        ("billing_zip", "VARCHAR", "postal_code", zip_us), ("total", "DECIMAL(12,2)", "other", money),
        ("currency", "VARCHAR", "other", CURRENCY), ("issued_on", "DATE", "other", day),
        ("card_type", "VARCHAR", "other", pick("visa", "mastercard", "amex")), ("status", "VARCHAR", "other", STATUS)]),
    *_table("sessions", [
        ("session_id", "VARCHAR", "record_key", uuid4), ("user_id", "BIGINT", "subject_key", seq),
        ("client_ip", "VARCHAR", "ip_address", ip_any), ("remote_addr", "VARCHAR", "ip_address", ipv4),
        ("device_id", "VARCHAR", "device_id", uuid4), ("idfa", "VARCHAR", "device_id", uuid4),
        ("mac_address", "VARCHAR", "device_id", mac), ("imei", "VARCHAR", "device_id", imei),
        ("latitude", "DOUBLE", "precise_geolocation", lat), ("longitude", "DOUBLE", "precise_geolocation", lon),
        ("geo", "VARCHAR", "precise_geolocation", geo_text), ("location", "VARCHAR", "precise_geolocation", wkt),
        ("user_agent_family", "VARCHAR", "other", pick("Chrome", "Firefox", "Safari")),
        ("started_at", "TIMESTAMP", "other", ts), ("duration_s", "INTEGER", "other", lambda r, i: r.randint(1, 4000)),
        ("ip_count", "INTEGER", "other", lambda r, i: r.randint(1, 5)),
        ("mobile_app_version", "VARCHAR", "other", pick("3.2.1", "3.3.0", "4.0.2"))],
        misleading=("ip_count", "mobile_app_version")),
    *_table("patients", [
        ("patient_id", "BIGINT", "subject_key", seq), ("patient_name", "VARCHAR", "person_name", full_name),
        ("dob", "DATE", "birth_date", birth), ("diagnosis_code", "VARCHAR", "health", ICD),
        ("medication", "VARCHAR", "health", MEDICATION), ("blood_type", "VARCHAR", "health", BLOOD),
        ("allergies", "VARCHAR", "health", ALLERGY), ("is_smoker", "BOOLEAN", "health", flag),
        ("bmi", "DECIMAL(4,1)", "health", lambda r, i: round(r.uniform(17, 40), 1)),
        ("gender", "VARCHAR", "gender", GENDER_EN), ("admitted_at", "TIMESTAMP", "other", ts),
        ("ward", "VARCHAR", "other", pick("A", "B", "C")), ("tel", "VARCHAR", "phone", phone_uk),
        ("eml", "VARCHAR", "email", email), ("nhs_number", "VARCHAR", "national_id", nhs_number),
        ("postcode", "VARCHAR", "postal_code", uk_postcode), ("patient_hash", "VARCHAR", "hashed_id", digest)]),
    *_table("misc_export", [
        ("col_1", "VARCHAR", "email", email), ("col_17", "VARCHAR", "phone", phone_us),
        ("field_a", "VARCHAR", "ssn", ssn), ("data_x", "VARCHAR", "card_number", card),
        ("ref_code", "VARCHAR", "iban", iban_any), ("misc", "VARCHAR", "ip_address", ip_any),
        ("attr_7", "VARCHAR", "person_name", full_name), ("value_3", "DATE", "birth_date", birth),
        ("c9", "VARCHAR", "postal_code", uk_postcode), ("blob_1", "VARCHAR", "free_text", note_with_pii),
        ("x_geo", "VARCHAR", "precise_geolocation", geo_text), ("k2", "VARCHAR", "device_id", mac),
        ("t5", "VARCHAR", "national_id", es_dni), ("z3", "VARCHAR", "gender", GENDER_EN),
        ("u8", "VARCHAR", "religion", RELIGION_EN), ("v4", "VARCHAR", "ethnicity", ETHNICITY),
        ("w1", "VARCHAR", "health", ICD), ("y2", "VARCHAR", "sexual_orientation", ORIENTATION),
        ("q7", "VARCHAR", "hashed_id", digest), ("name", "VARCHAR", "email", email),
        ("phone", "VARCHAR", "other", pick("yes", "no")), ("email", "BOOLEAN", "other", flag),
        ("dob", "TIMESTAMP", "other", ts), ("zip", "BIGINT", "other", lambda r, i: r.randint(10**6, 10**9)),
        ("ssn", "VARCHAR", "other", sku)],
        misleading=("col_1", "col_17", "field_a", "data_x", "ref_code", "misc", "attr_7", "value_3", "c9", "blob_1",
                    "x_geo", "k2", "t5", "z3", "u8", "v4", "w1", "y2", "q7", "name", "phone", "email", "dob",
                    "zip", "ssn")),
    *_table("products", [
        ("product_id", "BIGINT", "record_key", seq), ("name", "VARCHAR", "other", pick("T-shirt", "Bottle", "Mouse")),
        ("description", "VARCHAR", "other", product_text), ("sku", "VARCHAR", "other", sku),
        ("price", "DECIMAL(10,2)", "other", money), ("category", "VARCHAR", "other", pick("apparel", "home", "tech")),
        ("in_stock", "BOOLEAN", "other", flag), ("launched_on", "DATE", "other", day),
        ("weight_kg", "DOUBLE", "other", lambda r, i: round(r.uniform(0.1, 5), 2)),
        ("supplier_email_domain", "VARCHAR", "other", pick("example.com", "supplier.example")),
        ("warehouse_zip_count", "INTEGER", "other", lambda r, i: r.randint(1, 40)),
        ("release_year", "INTEGER", "other", lambda r, i: r.randint(2015, 2025))],
        misleading=("name", "supplier_email_domain", "warehouse_zip_count")),
    *_table("orders", [
        ("order_id", "BIGINT", "record_key", seq_big), ("customer_id", "BIGINT", "subject_key", seq),
        ("order_date", "DATE", "other", day), ("status", "VARCHAR", "other", STATUS),
        ("shipping_address", "VARCHAR", "street_address", street_en), ("shipping_postcode", "VARCHAR", "postal_code",
                                                                       uk_postcode),
        ("delivery_lat", "DOUBLE", "precise_geolocation", lat), ("delivery_lon", "DOUBLE", "precise_geolocation", lon),
        ("gift_message", "VARCHAR", "free_text", note_with_pii), ("order_total", "DECIMAL(12,2)", "other", money),
        ("items", "INTEGER", "other", lambda r, i: r.randint(1, 9)),
        ("customer_uuid", "VARCHAR", "subject_key", uuid4)]),
]

HELD_OUT = [
    *_table("contacts_mixed", [
        ("contact_key", "BIGINT", "record_key", seq), ("ContactEmail", "VARCHAR", "email", email),
        ("HomePhoneNo", "VARCHAR", "phone", phone_uk), ("Mobil", "VARCHAR", "phone", phone_de),
        ("Geburtstag", "DATE", "birth_date", birth), ("Anschrift", "VARCHAR", "street_address", street_de),
        ("postleitzahl", "INTEGER", "postal_code", lambda r, i: r.randint(10000, 99999)),
        ("passport_no", "VARCHAR", "national_id", passport), ("driver_license", "VARCHAR", "national_id", passport),
        ("salary", "DECIMAL(12,2)", "other", money), ("twitter_handle", "VARCHAR", "username", handle),
        ("emergency_contact_name", "VARCHAR", "person_name", full_name),
        ("emergency_contact_phone", "VARCHAR", "phone", phone_us), ("home_latitude", "DOUBLE",
                                                                     "precise_geolocation", lat),
        ("lng", "DOUBLE", "precise_geolocation", lon), ("CreditCardNo", "VARCHAR", "card_number", card),
        ("iban_number", "VARCHAR", "iban", iban_any), ("account_holder", "VARCHAR", "person_name", full_name),
        ("signup_source", "VARCHAR", "other", pick("ads", "organic", "referral")),
        ("last_login", "TIMESTAMP", "other", ts)], held_out=True),
    *_table("fiches_fr", [
        ("remarques", "VARCHAR", "free_text", note_with_pii),
        ("numero_de_telephone_portable", "VARCHAR", "phone", phone_fr),
        ("adresse_electronique", "VARCHAR", "email", email), ("date_naissance", "DATE", "birth_date", birth),
        ("nir", "VARCHAR", "national_id", fr_nir), ("genre", "VARCHAR", "gender", GENDER_MF),
        ("ville", "VARCHAR", "other", CITY), ("montant", "DECIMAL(10,2)", "other", money)], held_out=True),
    *_table("fichas_es", [
        ("numero_de_telefono", "VARCHAR", "phone", phone_es), ("correo", "VARCHAR", "email", email),
        ("fecha_nac", "DATE", "birth_date", birth), ("domicilio", "VARCHAR", "street_address", street_es),
        ("nie", "VARCHAR", "national_id", es_nie), ("genero", "VARCHAR", "gender", GENDER_ES),
        ("creencia_religiosa", "VARCHAR", "religion", RELIGION_EN), ("importe", "DECIMAL(10,2)", "other", money)],
        held_out=True),
    *_table("dump_2", [
        ("col_a", "VARCHAR", "person_name", name_last_first), ("text_2", "VARCHAR", "free_text", text_with_iban),
        ("attr_x", "VARCHAR", "birth_date", birth_iso), ("f1", "VARCHAR", "ip_address", ipv4),
        ("f2", "VARCHAR", "card_number", card), ("f3", "VARCHAR", "email", email), ("f4", "VARCHAR", "ssn", ssn),
        ("f5", "VARCHAR", "device_id", imei), ("f6", "VARCHAR", "national_id", de_idnr),
        ("f7", "VARCHAR", "other", pick("red", "green", "blue")),
        ("f8", "INTEGER", "other", lambda r, i: r.randint(0, 10**6))],
        misleading=("col_a", "text_2", "attr_x", "f1", "f2", "f3", "f4", "f5", "f6"), held_out=True),
]

CORPUS: list[Spec] = [*DEMO, *GENERATED, *HELD_OUT]


def build(con: duckdb.DuckDBPyConnection, rows: int = ROWS, seed: int = 7) -> None:
    """Create every corpus table in `con`: the demo company in schema `raw`, the rest in `labelled`."""
    generate(con, users=rows, events=rows * 5, as_of=AS_OF)
    con.execute("CREATE SCHEMA IF NOT EXISTS labelled")
    tables: dict[str, list[Spec]] = {}
    for spec in (*GENERATED, *HELD_OUT):
        tables.setdefault(spec.table, []).append(spec)
    for table, specs in tables.items():
        rng = random.Random(f"{seed}-{table}")
        columns = {}
        for spec in specs:
            columns[spec.column] = [spec.draw(rng, i) for i in range(rows)]
        arrow = pa.table(columns)
        con.register("veil_corpus_arrow", arrow)
        casts = ", ".join(f'CAST("{s.column}" AS {s.type}) AS "{s.column}"' for s in specs)
        con.execute(f'CREATE OR REPLACE TABLE labelled."{table}" AS SELECT {casts} FROM veil_corpus_arrow')
        con.unregister("veil_corpus_arrow")


def _key(spec: Spec) -> tuple[str, str]:
    schema = "raw" if spec in DEMO else "labelled"
    return f"{schema}.{spec.table}", spec.column


@dataclass(frozen=True)
class Score:
    """Precision and recall of one label (a category, a classification, "needs protection")."""

    label: str
    support: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 1.0


@dataclass(frozen=True)
class Evaluation:
    scores: list[Score]
    misses: list[tuple[str, str, str, str, str]]       # table, column, expected, predicted, evidence
    category_accuracy: float
    classification_accuracy: float
    misleading_accuracy: float
    held_out_accuracy: float
    columns: int


def evaluate(database: str | None = None, rows: int = ROWS) -> Evaluation:
    """Build the corpus in a DuckDB file (a temporary one by default), classify it and score each category."""
    import pathlib
    import tempfile

    from veil.classify.run import classify_warehouse

    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(database) if database else pathlib.Path(tmp) / "corpus.duckdb"
        with duckdb.connect(str(path)) as con:
            build(con, rows)
        result = classify_warehouse(path)
    predicted = {(c.table, c.column): c for c in result.columns()}
    expected = {_key(s): s for s in CORPUS}
    categories = sorted({s.category for s in CORPUS} | {c.category for c in predicted.values()})
    scores = []
    for category in categories:
        support = sum(s.category == category for s in expected.values())
        guessed = [k for k, c in predicted.items() if c.category == category and k in expected]
        correct = sum(expected[k].category == category for k in guessed)
        scores.append(Score(category, support, len(guessed), correct))
    misses = [(k[0], k[1], s.category, predicted[k].category, predicted[k].evidence)
              for k, s in expected.items() if predicted[k].category != s.category]
    n = len(expected)
    right_class = sum(predicted[k].classification is classification_of(s.category) for k, s in expected.items())
    tricky = [k for k, s in expected.items() if s.misleading]
    held = [k for k, s in expected.items() if s.held_out]
    return Evaluation(scores, misses, 1 - len(misses) / n, right_class / n,
                      sum(predicted[k].category == expected[k].category for k in tricky) / len(tricky),
                      sum(predicted[k].category == expected[k].category for k in held) / len(held), n)


def report(evaluation: Evaluation) -> str:
    lines = [f"{evaluation.columns} labelled columns: category accuracy {evaluation.category_accuracy:.1%}, "
             f"classification accuracy {evaluation.classification_accuracy:.1%}, misleading names "
             f"{evaluation.misleading_accuracy:.1%}, held-out columns {evaluation.held_out_accuracy:.1%}", "",
             f"| {'category':<20} | columns | precision | recall |", f"|{'-' * 22}|---------|-----------|--------|"]
    for s in evaluation.scores:
        lines.append(f"| {s.label:<20} | {s.support:>7} | {s.precision:>9.2f} | {s.recall:>6.2f} |")
    if evaluation.misses:
        lines += ["", "misclassified:"]
        lines += [f"  {t}.{c}: expected {e}, got {p} ({why})" for t, c, e, p, why in evaluation.misses]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="veil classify's precision and recall on the synthetic corpus")
    parser.add_argument("--rows", type=int, default=ROWS, help="rows per table")
    parser.add_argument("--db", default=None, help="keep the corpus in this DuckDB file")
    args = parser.parse_args(argv)
    print(report(evaluate(args.db, args.rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
