"""The labelled classification benchmark: 48 synthetic tables, generated from a seed, one label per column.

`veil.classify.corpus` is the hand-written corpus the rules were developed
against. This benchmark is generated: eight business domains (a shop in
English, German, French and Spanish, a clinic, HR, web analytics, a lender,
exports with meaningless column names), each a schema of six tables whose
columns are drawn from pools of real-world spellings per category (snake,
camelCase, PascalCase, UPPER, abbreviations such as `dob`, `tel`, `eml`,
table prefixes) and filled with values of that category
(`veil.classify.corpus`'s generators: check digits from python-stdnum,
fictional phone ranges, synthetic names). Misleading columns are planted on
purpose: `name` in a product table, `email_opt_in` and `phone_verified`
booleans, `notes` free text with emails inside, `col_17` holding phone
numbers.

Every fourth table is *held out*: its names come from a part of each pool
that the rules were never tuned against, and its accuracy is reported apart.

>>> tables = TABLES
>>> len(tables) >= 40 and sum(len(t.columns) for t in tables) >= 400
True
>>> len({t.schema for t in tables}), sum(t.held_out for t in tables)
(8, 12)
>>> TABLES == build_tables()            # deterministic: the same seed, the same benchmark
True
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from veil.classify import corpus as c
from veil.classify.corpus import Score
from veil.classify.categories import classification_of

Draw = Callable[[random.Random, int], object]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    category: str
    draw: Draw
    misleading: bool = False

    def __eq__(self, other):     # draws are closures: compare what they are labelled as
        return isinstance(other, Column) and (self.name, self.type, self.category, self.misleading) == (
            other.name, other.type, other.category, other.misleading)

    def __hash__(self):
        return hash((self.name, self.type, self.category))


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    held_out: bool

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


# --- value generators per category and language ------------------------------------------------------------

def _birth_us(r, i):
    return c.birth(r, i).strftime("%m/%d/%Y")


def _name_upper(r, i):
    return c.full_name(r, i).upper()


def _note_clean(r, i):
    return r.choice(["Delivered on time", "Customer satisfied", "Left at the door", "Awaiting stock",
                     "Retour accepté", "Pedido enviado", "Rechnung bezahlt", "Reviewed, no issue"])


def _email_note(r, i):
    if r.random() < 0.3:
        return f"Contact me at {c.email(r, i)} for the invoice"
    return _note_clean(r, i)


def _product_name(r, i):
    return r.choice(["Classic T-Shirt", "Trail Runner 2", "Espresso Machine", "Desk Lamp", "Yoga Mat", "Backpack"])


def _hash_hex(r, i):
    return f"{r.getrandbits(256):064x}"


def _rating(r, i):
    return r.randint(1, 5)


def _qty(r, i):
    return r.randint(1, 20)


def _pct(r, i):
    return round(r.uniform(0, 100), 1)


def _version(r, i):
    return f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}"


def _url(r, i):
    return f"https://shop.example/p/{r.randint(1000, 9999)}"


def _order_no(r, i):
    return f"ORD-{2024}-{r.randint(10000, 99999)}"


def _icd(r, i):
    return c.ICD(r, i)


PHONE = {"en": c.phone_us, "de": c.phone_de, "fr": c.phone_fr, "es": c.phone_es, "uk": c.phone_uk}
NATIONAL_ID = {"en": c.passport, "de": c.de_idnr, "fr": c.fr_nir, "es": c.es_dni, "uk": c.nhs_number}
POSTAL = {"en": c.zip_us, "de": c.plz, "fr": c.plz, "es": c.plz, "uk": c.uk_postcode}
STREET = {"en": c.street_en, "de": c.street_de, "fr": c.street_fr, "es": c.street_es, "uk": c.street_en}
BIRTH = {"en": c.birth, "de": c.birth, "fr": c.birth_fr, "es": c.birth, "uk": c.birth_iso}
GENDER = {"en": c.GENDER_EN, "de": c.GENDER_DE, "fr": c.GENDER_FR, "es": c.GENDER_ES, "uk": c.GENDER_MF}
RELIGION = {"en": c.RELIGION_EN, "de": c.RELIGION_DE, "fr": c.RELIGION_FR, "es": c.RELIGION_EN, "uk": c.RELIGION_EN}
POLITICAL = {"en": c.POLITICAL_EN, "de": c.POLITICAL_DE, "fr": c.POLITICAL_EN, "es": c.POLITICAL_ES,
             "uk": c.POLITICAL_EN}


def _by_language(table: dict[str, Draw]) -> Callable[[str], Draw]:
    return lambda language: table.get(language, table["en"])


def _same(draw: Draw) -> Callable[[str], Draw]:
    return lambda language: draw


# category -> (SQL type, draw for a language)
VALUES: dict[str, tuple[str, Callable[[str], Draw]]] = {
    "email": ("VARCHAR", _same(c.email)),
    "phone": ("VARCHAR", _by_language(PHONE)),
    "person_name": ("VARCHAR", _same(c.full_name)),
    "first_name": ("VARCHAR", _same(c.pick(*c.FIRST))),
    "last_name": ("VARCHAR", _same(c.pick(*c.LAST))),
    "ssn": ("VARCHAR", _same(c.ssn)),
    "national_id": ("VARCHAR", _by_language(NATIONAL_ID)),
    "card_number": ("VARCHAR", _same(c.card)),
    "iban": ("VARCHAR", _same(c.iban_any)),
    "street_address": ("VARCHAR", _by_language(STREET)),
    "username": ("VARCHAR", _same(c.handle)),
    "free_text": ("VARCHAR", _same(c.note_with_pii)),
    "ip_address": ("VARCHAR", _same(c.ip_any)),
    "device_id": ("VARCHAR", _same(c.uuid4)),
    "mac": ("VARCHAR", _same(c.mac)),
    "imei": ("VARCHAR", _same(c.imei)),
    "birth_date": ("DATE", _by_language(BIRTH)),
    "postal_code": ("VARCHAR", _by_language(POSTAL)),
    "latitude": ("DOUBLE", _same(c.lat)),
    "longitude": ("DOUBLE", _same(c.lon)),
    "gender": ("VARCHAR", _by_language(GENDER)),
    "health": ("VARCHAR", _same(_icd)),
    "medication": ("VARCHAR", _same(c.MEDICATION)),
    "blood_type": ("VARCHAR", _same(c.BLOOD)),
    "ethnicity": ("VARCHAR", _same(c.ETHNICITY)),
    "religion": ("VARCHAR", _by_language(RELIGION)),
    "sexual_orientation": ("VARCHAR", _same(c.ORIENTATION)),
    "political_opinion": ("VARCHAR", _by_language(POLITICAL)),
    "credit_score": ("INTEGER", _same(lambda r, i: r.randint(300, 850))),
    "hashed_id": ("VARCHAR", _same(_hash_hex)),
}

# The label of a slot whose values are drawn by a more specific generator.
LABEL = {"first_name": "person_name", "last_name": "person_name", "mac": "device_id", "imei": "device_id",
         "latitude": "precise_geolocation", "longitude": "precise_geolocation", "medication": "health",
         "blood_type": "health"}

# --- names per category: (language, spelling) ----------------------------------------------------------------
# Spellings seen in real schemas. Within each list, every third spelling (index % 3 == 2) is reserved for the
# held-out tables.

NAMES: dict[str, list[tuple[str, str]]] = {
    "email": [("en", "email"), ("en", "email_address"), ("en", "contact_email"), ("en", "eml"),
              ("en", "emailAddress"), ("en", "user_email"), ("en", "e_mail"), ("en", "primary_email"),
              ("en", "work_email"), ("de", "e_mail_adresse"), ("de", "emailadresse"), ("de", "mailadresse"),
              ("fr", "courriel"), ("fr", "adresse_mail"), ("fr", "mail_client"), ("es", "correo"),
              ("es", "correo_electronico"), ("es", "email_contacto")],
    "phone": [("en", "phone"), ("en", "phone_number"), ("en", "mobile"), ("en", "tel"), ("en", "cell_phone"),
              ("en", "phoneNumber"), ("en", "contact_phone"), ("en", "home_phone"), ("en", "msisdn"),
              ("de", "telefon"), ("de", "telefonnummer"), ("de", "handynummer"), ("de", "mobilnummer"),
              ("fr", "telephone"), ("fr", "tel_portable"), ("fr", "numero_portable"), ("es", "telefono"),
              ("es", "movil"), ("es", "celular"), ("es", "numero_telefono")],
    "person_name": [("en", "full_name"), ("en", "customer_name"), ("en", "contact_name"), ("en", "fullName"),
                    ("en", "holder_name"), ("en", "recipient_name"), ("de", "name_kunde"), ("de", "vollstaendiger_name"),
                    ("de", "kundenname"), ("fr", "nom_complet"), ("fr", "nom_client"), ("fr", "nom_prenom"),
                    ("es", "nombre_completo"), ("es", "nombre_cliente"), ("es", "titular")],
    "first_name": [("en", "first_name"), ("en", "fname"), ("en", "given_name"), ("en", "firstName"),
                   ("en", "forename"), ("de", "vorname"), ("fr", "prenom"), ("es", "nombre"), ("es", "nombre_pila")],
    "last_name": [("en", "last_name"), ("en", "surname"), ("en", "lname"), ("en", "lastName"), ("en", "family_name"),
                  ("de", "nachname"), ("de", "familienname"), ("fr", "nom_de_famille"), ("fr", "nom"),
                  ("es", "apellido"), ("es", "apellidos")],
    "ssn": [("en", "ssn"), ("en", "social_security_number"), ("en", "soc_sec_no"), ("en", "SSN"), ("en", "ssn_full"),
            ("en", "socialSecurityNumber")],
    "national_id": [("en", "passport_number"), ("en", "national_id"), ("en", "passport_no"), ("en", "nat_id"),
                    ("en", "id_document_number"), ("de", "steuer_id"), ("de", "steueridentifikationsnummer"),
                    ("de", "steuernummer_person"), ("fr", "numero_securite_sociale"), ("fr", "nir"), ("fr", "num_secu"),
                    ("es", "dni"), ("es", "nif"), ("es", "documento_identidad"), ("uk", "nhs_number"),
                    ("uk", "nhs_no")],
    "card_number": [("en", "card_number"), ("en", "cc_number"), ("en", "credit_card"), ("en", "pan"),
                    ("en", "card_no"), ("en", "creditCardNumber"), ("de", "kreditkartennummer"),
                    ("de", "kartennummer"), ("fr", "numero_carte"), ("fr", "carte_bancaire"), ("es", "numero_tarjeta"),
                    ("es", "tarjeta_credito")],
    "iban": [("en", "iban"), ("en", "bank_account_iban"), ("en", "iban_code"), ("en", "payout_iban"),
             ("de", "iban"), ("de", "bankverbindung"), ("de", "iban_nummer"), ("fr", "iban_client"),
             ("fr", "compte_iban"), ("es", "cuenta_iban"), ("es", "iban_cuenta"), ("es", "numero_cuenta")],
    "street_address": [("en", "street_address"), ("en", "address_line1"), ("en", "addr1"), ("en", "home_address"),
                       ("en", "address"), ("en", "shipping_street"), ("de", "strasse"), ("de", "anschrift"),
                       ("de", "wohnadresse"), ("fr", "adresse"), ("fr", "adresse_postale"), ("fr", "rue"),
                       ("es", "direccion"), ("es", "domicilio"), ("es", "calle")],
    "username": [("en", "username"), ("en", "user_name"), ("en", "login"), ("en", "handle"), ("en", "screen_name"),
                 ("en", "twitter_handle"), ("de", "benutzername"), ("fr", "pseudo"), ("es", "nombre_usuario"),
                 ("es", "usuario")],
    "free_text": [("en", "notes"), ("en", "comment"), ("en", "remarks"), ("en", "message"), ("en", "agent_notes"),
                  ("en", "body"), ("de", "bemerkung"), ("de", "notiz"), ("de", "kommentar"), ("fr", "commentaire"),
                  ("fr", "remarque"), ("fr", "note_libre"), ("es", "observaciones"), ("es", "comentario"),
                  ("es", "nota")],
    "ip_address": [("en", "ip_address"), ("en", "client_ip"), ("en", "ip"), ("en", "remote_addr"),
                   ("en", "ipAddress"), ("en", "src_ip"), ("en", "source_ip"), ("en", "ip_addr"),
                   ("de", "ip_adresse"), ("fr", "adresse_ip"), ("es", "direccion_ip")],
    "device_id": [("en", "device_id"), ("en", "idfa"), ("en", "advertising_id"), ("en", "deviceId"), ("en", "gaid"),
                  ("en", "android_id"), ("en", "hardware_id"), ("de", "geraete_id"), ("fr", "identifiant_appareil"),
                  ("es", "id_dispositivo")],
    "mac": [("en", "mac_address"), ("en", "mac"), ("en", "wifi_mac"), ("en", "macAddress")],
    "imei": [("en", "imei"), ("en", "device_imei"), ("en", "imei_number")],
    "birth_date": [("en", "birth_date"), ("en", "date_of_birth"), ("en", "dob"), ("en", "birthdate"),
                   ("en", "dateOfBirth"), ("en", "birthday"), ("en", "bday"), ("de", "geburtsdatum"),
                   ("de", "geb_datum"), ("de", "geburtstag"), ("fr", "date_naissance"), ("fr", "date_de_naissance"),
                   ("fr", "naissance"), ("es", "fecha_nacimiento"), ("es", "fecha_nac"), ("es", "nacimiento")],
    "postal_code": [("en", "zip"), ("en", "zip_code"), ("en", "postal_code"), ("en", "zipcode"), ("en", "postcode"),
                    ("en", "billing_zip"), ("de", "plz"), ("de", "postleitzahl"), ("de", "wohnort_plz"),
                    ("fr", "code_postal"), ("fr", "cp"), ("fr", "codepostal"), ("es", "codigo_postal"),
                    ("es", "cod_postal"), ("es", "cp_envio"), ("uk", "postcode")],
    "latitude": [("en", "latitude"), ("en", "lat"), ("en", "geo_lat"), ("en", "gps_latitude"), ("en", "pickup_lat"),
                 ("de", "breitengrad"), ("fr", "latitude_gps"), ("es", "latitud")],
    "longitude": [("en", "longitude"), ("en", "lon"), ("en", "lng"), ("en", "geo_lon"), ("en", "gps_longitude"),
                  ("de", "laengengrad"), ("fr", "longitude_gps"), ("es", "longitud")],
    "gender": [("en", "gender"), ("en", "sex"), ("en", "gender_identity"), ("de", "geschlecht"), ("fr", "sexe"),
               ("fr", "genre"), ("es", "sexo"), ("es", "genero")],
    "health": [("en", "diagnosis_code"), ("en", "icd10_code"), ("en", "primary_diagnosis"), ("en", "condition_code"),
               ("de", "diagnose"), ("de", "icd_code"), ("fr", "diagnostic"), ("fr", "code_cim"), ("es", "diagnostico"),
               ("es", "codigo_diagnostico")],
    "medication": [("en", "medication"), ("en", "prescribed_drug"), ("en", "drug_name"), ("de", "medikament"),
                   ("fr", "medicament"), ("es", "medicamento")],
    "blood_type": [("en", "blood_type"), ("en", "blood_group"), ("de", "blutgruppe"), ("fr", "groupe_sanguin"),
                   ("es", "grupo_sanguineo")],
    "ethnicity": [("en", "ethnicity"), ("en", "race"), ("en", "ethnic_origin"), ("en", "race_ethnicity"),
                  ("de", "ethnie"), ("fr", "origine_ethnique"), ("es", "etnia"), ("es", "origen_etnico")],
    "religion": [("en", "religion"), ("en", "faith"), ("en", "religious_affiliation"), ("de", "konfession"),
                 ("de", "religionszugehoerigkeit"), ("fr", "religion"), ("fr", "confession"), ("es", "religion"),
                 ("es", "creencia_religiosa")],
    "sexual_orientation": [("en", "sexual_orientation"), ("en", "orientation"), ("de", "sexuelle_orientierung"),
                           ("fr", "orientation_sexuelle"), ("es", "orientacion_sexual")],
    "political_opinion": [("en", "political_party"), ("en", "party_affiliation"), ("en", "political_affiliation"),
                          ("de", "partei"), ("de", "parteizugehoerigkeit"), ("fr", "parti_politique"),
                          ("es", "partido_politico"), ("es", "afiliacion_politica")],
    "credit_score": [("en", "credit_score"), ("en", "fico_score"), ("en", "fico"), ("en", "creditScore"),
                     ("de", "schufa_score"), ("fr", "score_credit"), ("es", "puntuacion_crediticia")],
    "hashed_id": [("en", "email_sha256"), ("en", "hashed_email"), ("en", "email_hash"), ("en", "user_hash"),
                  ("en", "pseudonym"), ("en", "phone_sha256")],
}

# Columns with no personal data: (language, spelling, SQL type, draw).
OTHER: list[tuple[str, str, str, Draw]] = [
    ("en", "amount", "DECIMAL(12,2)", c.money), ("en", "total_price", "DECIMAL(12,2)", c.money),
    ("en", "quantity", "INTEGER", _qty), ("en", "status", "VARCHAR", c.STATUS),
    ("en", "created_at", "TIMESTAMP", c.ts), ("en", "updated_at", "TIMESTAMP", c.ts),
    ("en", "country", "VARCHAR", c.COUNTRY), ("en", "currency", "VARCHAR", c.CURRENCY),
    ("en", "is_active", "BOOLEAN", c.flag), ("en", "rating", "INTEGER", _rating),
    ("en", "discount_pct", "DOUBLE", _pct), ("en", "app_version", "VARCHAR", _version),
    ("en", "landing_url", "VARCHAR", _url), ("en", "sku", "VARCHAR", c.sku),
    ("en", "order_date", "DATE", c.day), ("en", "channel", "VARCHAR", c.pick("web", "app", "store", "phone")),
    ("en", "plan", "VARCHAR", c.pick("free", "pro", "team")), ("en", "city", "VARCHAR", c.CITY),
    ("de", "betrag", "DECIMAL(12,2)", c.money), ("de", "menge", "INTEGER", _qty),
    ("de", "erstellt_am", "TIMESTAMP", c.ts), ("de", "land", "VARCHAR", c.COUNTRY),
    ("de", "waehrung", "VARCHAR", c.CURRENCY), ("de", "aktiv", "BOOLEAN", c.flag),
    ("fr", "montant", "DECIMAL(12,2)", c.money), ("fr", "quantite", "INTEGER", _qty),
    ("fr", "date_creation", "DATE", c.day), ("fr", "pays", "VARCHAR", c.COUNTRY),
    ("fr", "statut", "VARCHAR", c.STATUS), ("fr", "actif", "BOOLEAN", c.flag),
    ("es", "importe", "DECIMAL(12,2)", c.money), ("es", "cantidad", "INTEGER", _qty),
    ("es", "fecha_alta", "TIMESTAMP", c.ts), ("es", "pais", "VARCHAR", c.COUNTRY),
    ("es", "estado", "VARCHAR", c.STATUS), ("es", "activo", "BOOLEAN", c.flag),
]

# Misleading on purpose: the name says PII, the values do not (or the reverse).
DECOYS: list[tuple[str, str, str, Draw]] = [
    ("email_opt_in", "BOOLEAN", "other", c.flag), ("phone_verified", "BOOLEAN", "other", c.flag),
    ("has_email", "BOOLEAN", "other", c.flag), ("email_bounced", "BOOLEAN", "other", c.flag),
    ("address_count", "INTEGER", "other", _qty), ("ip_count", "INTEGER", "other", _qty),
    ("dob_verified", "BOOLEAN", "other", c.flag), ("zip_known", "BOOLEAN", "other", c.flag),
    ("notes", "VARCHAR", "free_text", _email_note), ("comments", "VARCHAR", "free_text", _email_note),
]
MEANINGLESS = ("col_{n}", "field_{n}", "attr_{n}", "c{n}", "value_{n}", "x{n}", "data_{n}", "f{n}")
# categories whose values alone identify them (what a meaningless column may hold)
BY_VALUE = ("email", "phone", "ssn", "card_number", "iban", "ip_address", "person_name", "mac", "imei",
            "national_id", "birth_date")


@dataclass(frozen=True)
class Domain:
    """A business domain: one schema, its language, and its tables' themes."""

    schema: str
    language: str
    person: str                   # the subject table
    themes: tuple[tuple[str, tuple[str, ...]], ...]     # (table, categories it holds)


_PERSON = ("first_name", "last_name", "email", "phone", "birth_date", "street_address", "postal_code", "gender")
DOMAINS = (
    Domain("shop_en", "en", "customers", (
        ("customers", (*_PERSON, "username", "ethnicity")),
        ("orders", ("street_address", "postal_code", "free_text", "latitude", "longitude")),
        ("payments", ("card_number", "person_name", "iban")),
        ("support_tickets", ("email", "free_text", "phone")),
        ("reviews", ("username",)),
        ("loyalty_members", ("email", "birth_date", "credit_score")))),
    Domain("shop_de", "de", "kunden", (
        ("kunden", (*_PERSON, "national_id", "religion")),
        ("bestellungen", ("street_address", "postal_code", "free_text")),
        ("zahlungen", ("iban", "card_number", "person_name")),
        ("anfragen", ("email", "phone", "free_text")),
        ("lieferungen", ("street_address", "postal_code", "latitude", "longitude")),
        ("newsletter_abos", ("email",)))),
    Domain("shop_fr", "fr", "clients", (
        ("clients", (*_PERSON, "national_id")),
        ("commandes", ("street_address", "postal_code", "free_text")),
        ("paiements", ("card_number", "iban", "person_name")),
        ("reclamations", ("email", "phone", "free_text")),
        ("livraisons", ("street_address", "postal_code")),
        ("adhesions", ("email", "birth_date", "political_opinion")))),
    Domain("shop_es", "es", "clientes", (
        ("clientes", (*_PERSON, "national_id", "sexual_orientation")),
        ("pedidos", ("street_address", "postal_code", "free_text")),
        ("pagos", ("card_number", "iban", "person_name")),
        ("incidencias", ("email", "phone", "free_text")),
        ("envios", ("street_address", "postal_code", "latitude", "longitude")),
        ("suscripciones", ("email",)))),
    Domain("clinic", "uk", "patients", (
        ("patients", (*_PERSON, "national_id", "ethnicity", "religion")),
        ("visits", ("health", "free_text")),
        ("prescriptions", ("medication", "person_name")),
        ("lab_results", ("blood_type", "health")),
        ("insurance_claims", ("ssn", "iban", "health")),
        ("appointments", ("phone", "email")))),
    Domain("hr", "en", "employees", (
        ("employees", (*_PERSON, "ssn", "national_id", "political_opinion")),
        ("payroll", ("iban", "ssn")),
        ("badge_swipes", ("latitude", "longitude", "mac")),
        ("performance_reviews", ("free_text", "person_name")),
        ("emergency_contacts", ("person_name", "phone", "street_address")),
        ("benefits", ("health", "sexual_orientation")))),
    Domain("web", "en", "accounts", (
        ("accounts", ("email", "username", "first_name", "last_name", "birth_date", "gender")),
        ("sessions", ("ip_address", "device_id", "latitude", "longitude")),
        ("page_views", ("ip_address",)),
        ("devices", ("device_id", "imei", "mac")),
        ("push_tokens", ("device_id",)),
        ("ad_audiences", ("hashed_id", "ip_address")))),
    Domain("exports", "en", "borrowers", (
        ("borrowers", ("person_name", "ssn", "credit_score", "street_address", "birth_date")),
        ("dump_1", ()), ("dump_2", ()), ("dump_3", ()),
        ("products", ()), ("inventory", ()))),
)
PRODUCT_TABLES = {"products", "inventory"}
DUMP_TABLES = {"dump_1", "dump_2", "dump_3"}


def _style(name: str, rng: random.Random) -> str:
    """One of the spellings real schemas use for the same snake_case name."""
    if any(ch.isupper() for ch in name) or "_" not in name:
        return name
    roll = rng.random()
    words = name.split("_")
    if roll < 0.15:
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if roll < 0.25:
        return "".join(w.capitalize() for w in words)
    if roll < 0.32:
        return name.upper()
    return name


def _spelling(category: str, language: str, held_out: bool, rng: random.Random, taken: set[str]) -> str:
    pool = NAMES[category]
    split = [n for k, (lang, n) in enumerate(pool) if (k % 3 == 2) == held_out]
    local = [n for k, (lang, n) in enumerate(pool) if (k % 3 == 2) == held_out and lang == language]
    candidates = [n for n in (local if local and rng.random() < 0.8 else split) if n.lower() not in taken]
    return rng.choice(candidates or split)


def _key_column(table: str, person: str, language: str, rng: random.Random) -> str:
    noun = {"customers": "customer", "kunden": "kunde", "clients": "client", "clientes": "cliente",
            "patients": "patient", "employees": "employee", "accounts": "account", "borrowers": "borrower"}[person]
    spelled = {"de": f"{noun}_nr", "fr": f"id_{noun}", "es": f"id_{noun}"}.get(language, f"{noun}_id")
    return spelled if table != person or rng.random() < 0.6 else "id"


def _table(domain: Domain, index: int, name: str, categories: tuple[str, ...]) -> Table:
    rng = random.Random(f"veil-benchmark-{domain.schema}-{name}")
    held_out = index % 4 == 3
    language = domain.language
    columns: list[Column] = []
    taken: set[str] = set()

    def add(column: str, sql_type: str, category: str, draw: Draw, misleading: bool = False) -> None:
        if column.lower() in taken:
            return
        taken.add(column.lower())
        columns.append(Column(column, sql_type, category, draw, misleading))

    if name in PRODUCT_TABLES:
        add("id", "BIGINT", "record_key", c.seq)
        add("name", "VARCHAR", "other", _product_name, misleading=True)
        add("description", "VARCHAR", "other", c.product_text)
        for spelling, sql_type, draw in (("price", "DECIMAL(10,2)", c.money), ("sku", "VARCHAR", c.sku),
                                          ("category", "VARCHAR", c.pick("apparel", "home", "tech")),
                                          ("stock_qty", "INTEGER", _qty), ("launched_on", "DATE", c.day),
                                          ("supplier_country", "VARCHAR", c.COUNTRY)):
            add(spelling, sql_type, "other", draw)
        add("email_opt_in", "BOOLEAN", "other", c.flag, misleading=True)
    elif name in DUMP_TABLES:
        add("row_id", "BIGINT", "record_key", c.seq)
        for k, category in enumerate(rng.sample(BY_VALUE, 8)):
            pattern = MEANINGLESS[(index + k) % len(MEANINGLESS)]
            sql_type, draw = VALUES[category]
            value_draw = draw(rng.choice(["en", "de", "fr", "es", "uk"]))
            if category == "birth_date":
                sql_type, value_draw = "VARCHAR", c.birth_iso
            add(pattern.format(n=rng.randint(1, 40)), sql_type, LABEL.get(category, category), value_draw,
                misleading=True)
        for _, _, sql_type, draw in rng.sample(OTHER, 3):
            add(rng.choice(MEANINGLESS).format(n=rng.randint(41, 99)), sql_type, "other", draw)
    else:
        subject_key = _key_column(name, domain.person, language, rng)
        if name != domain.person:
            add({"de": "nr", "fr": "numero", "es": "numero"}.get(language, "id") if rng.random() < 0.5
                else f"{name.rstrip('s')}_id", "BIGINT", "record_key", c.seq_big)
        add(subject_key, "BIGINT", "subject_key", c.seq)
        for category in categories:
            sql_type, draw = VALUES[category]
            spelled = _style(_spelling(category, language, held_out, rng, taken), rng)
            value_draw = draw(language)
            if category == "birth_date" and value_draw in (c.birth_fr, c.birth_iso):
                sql_type = "VARCHAR"
            add(spelled, sql_type, LABEL.get(category, category), value_draw)
        others = [o for o in OTHER if o[0] in (language, "en")]
        for _, spelling, sql_type, draw in rng.sample(others, 4):
            add(_style(spelling, rng), sql_type, "other", draw)
        for spelling, sql_type, category, draw in rng.sample(DECOYS, 2):
            add(spelling, sql_type, category, draw, misleading=True)
        if rng.random() < 0.4:
            category = rng.choice(BY_VALUE[:6])
            sql_type, draw = VALUES[category]
            add(f"col_{rng.randint(1, 40)}", sql_type, category, draw(language), misleading=True)
    return Table(domain.schema, name, tuple(columns), held_out)


def build_tables() -> tuple[Table, ...]:
    """Every benchmark table, labelled (deterministic)."""
    tables = []
    for domain in DOMAINS:
        for name, categories in domain.themes:
            tables.append(_table(domain, len(tables), name, categories))
    return tuple(tables)


TABLES = build_tables()


def build(con, rows: int = c.ROWS) -> None:
    """Create every benchmark table in `con`, one schema per domain."""
    import pyarrow as pa

    for table in TABLES:
        rng = random.Random(f"veil-benchmark-values-{table.qualified}")
        arrow = pa.table({col.name: [col.draw(rng, i) for i in range(rows)] for col in table.columns})
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.schema}"')
        con.register("veil_benchmark_arrow", arrow)
        casts = ", ".join(f'CAST("{col.name}" AS {col.type}) AS "{col.name}"' for col in table.columns)
        con.execute(f'CREATE OR REPLACE TABLE "{table.schema}"."{table.name}" AS SELECT {casts} '
                    f'FROM veil_benchmark_arrow')
        con.unregister("veil_benchmark_arrow")


PROTECTED = frozenset({"DIRECT_PII", "QUASI_PII", "SENSITIVE_PII"})


@dataclass(frozen=True)
class Outcome:
    """veil classify against the labels: per column (table, column, expected, got, evidence) and the scores."""

    rows: list[tuple[Table, Column, str, str, str, str]]     # table, column, expected class, got class, got category, evidence
    seconds: float

    def _score(self, label: str, truth, guess) -> Score:
        support = sum(truth(r) == label for r in self.rows)
        predicted = [r for r in self.rows if guess(r) == label]
        return Score(label, support, len(predicted), sum(truth(r) == label for r in predicted))

    def by_classification(self) -> list[Score]:
        labels = ("DIRECT_PII", "QUASI_PII", "SENSITIVE_PII", "PSEUDONYMOUS", "NON_PII")
        return [self._score(label, lambda r: r[2], lambda r: r[3]) for label in labels]

    def protection(self) -> Score:
        def needs(cls):
            return "needs protection" if cls in PROTECTED else "does not"
        return self._score("needs protection", lambda r: needs(r[2]), lambda r: needs(r[3]))

    def accuracy(self, rows=None) -> float:
        rows = self.rows if rows is None else rows
        return sum(r[2] == r[3] for r in rows) / len(rows) if rows else 1.0

    def category_accuracy(self) -> float:
        return sum(r[1].category == r[4] for r in self.rows) / len(self.rows)

    def held_out(self) -> list:
        return [r for r in self.rows if r[0].held_out]

    def misleading(self) -> list:
        return [r for r in self.rows if r[1].misleading]

    def misses(self) -> list:
        return [r for r in self.rows if r[2] != r[3]]


def evaluate(rows: int = c.ROWS, database: str | None = None) -> Outcome:
    """Build the benchmark in a DuckDB file, time `classify_warehouse` over it, score it against the labels."""
    import pathlib
    import tempfile
    import time

    import duckdb

    from veil.classify.run import classify_warehouse

    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(database) if database else pathlib.Path(tmp) / "benchmark.duckdb"
        with duckdb.connect(str(path)) as con:
            build(con, rows)
        started = time.perf_counter()
        result = classify_warehouse(path)
        seconds = time.perf_counter() - started
    got = {(v.table, v.column): v for v in result.columns()}
    out = []
    for table in TABLES:
        for col in table.columns:
            verdict = got[(table.qualified, col.name)]
            out.append((table, col, classification_of(col.category).value, verdict.classification.value,
                        verdict.category, verdict.evidence))
    return Outcome(out, seconds)


def report(outcome: Outcome, misses: bool = True) -> str:
    """The benchmark's figures as Markdown: per classification, needs-protection, accuracy, time per 100 columns."""
    n = len(outcome.rows)
    tables = len({r[0].qualified for r in outcome.rows})
    lines = [f"{tables} tables, {n} labelled columns ({len(outcome.held_out())} held out, "
             f"{len(outcome.misleading())} misleading)", "",
             "| classification | columns | precision | recall |", "|---|---:|---:|---:|"]
    for s in [*outcome.by_classification(), outcome.protection()]:
        lines.append(f"| {s.label} | {s.support} | {s.precision:.3f} | {s.recall:.3f} |")
    lines += ["", f"exact-class accuracy {outcome.accuracy():.3f} (held-out tables {outcome.accuracy(outcome.held_out()):.3f}, "
              f"misleading columns {outcome.accuracy(outcome.misleading()):.3f}); category accuracy "
              f"{outcome.category_accuracy():.3f}",
              f"time: {outcome.seconds:.2f} s for {n} columns = {100 * outcome.seconds / n:.3f} s per 100 columns"]
    if misses and outcome.misses():
        lines += ["", "misclassified:"]
        lines += [f"  {t.qualified}.{col.name}: expected {e} ({col.category}), got {g} ({cat}): {why}"
                  for t, col, e, g, cat, why in outcome.misses()]
    return "\n".join(lines)
