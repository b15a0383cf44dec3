"""What a column's name says it holds, in English, German, French and Spanish.

A name is split into lowercase ASCII words (snake_case, camelCase, kebab-case,
accents and `ß` folded), then matched against rules: single words (`dob`,
`tel`, `eml`, `plz`), phrases (`date of birth`, `code postal`) and stems found
inside compounds (`kundenemail`, `Telefonnummer`). The most confident rule
wins. Words such as `verified`, `count` or `opt_in` next to a value category
make the name a flag or a measure about it (`phone_verified`), not the value.

>>> tokens("customerEmailAddress"), tokens("Geburtsdatum"), tokens("E-Mail-Adresse")
(['customer', 'email', 'address'], ['geburtsdatum'], ['e', 'mail', 'adresse'])
>>> match_name("dob").category, match_name("Telefonnummer").category, match_name("código_postal").category
('birth_date', 'phone', 'postal_code')
>>> match_name("phone_verified").category is None, match_name("phone_verified").negated
(True, 'phone')
>>> match_name("name", table="products").category is None, match_name("nombre").category
(True, 'person_name')
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from veil.classify.categories import CATEGORIES

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


def fold(text: str) -> str:
    """ASCII without accents: `Straße` -> `Strasse`, `prénom` -> `prenom`.

    >>> fold("Straße"), fold("Código")
    ('Strasse', 'Codigo')
    """
    text = text.replace("ß", "ss").replace("ẞ", "SS")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def tokens(name: str) -> list[str]:
    """The lowercase words of a name."""
    return [t.lower() for t in _SPLIT.split(_CAMEL.sub("_", fold(name))) if t]


@dataclass(frozen=True)
class Rule:
    """A name rule: exact words, phrases (consecutive words) or stems inside compounds."""

    category: str
    confidence: float
    words: frozenset[str] = frozenset()
    phrases: tuple[tuple[str, ...], ...] = ()
    stems: tuple[str, ...] = ()
    label: str = ""

    def match(self, words: list[str], joined: str) -> tuple[float, str, set[int]] | None:
        """(confidence, what matched, indexes of the words matched), or None."""
        for phrase in self.phrases:
            n = len(phrase)
            for i in range(len(words) - n + 1):
                if tuple(words[i:i + n]) == phrase:
                    return self.confidence, " ".join(phrase), set(range(i, i + n))
        for i, word in enumerate(words):
            if word in self.words:
                return self.confidence, word, {i}
        for stem in self.stems:
            if stem in joined:
                hit = {i for i, w in enumerate(words) if stem in w or w in stem}
                return round(self.confidence * 0.9, 3), f"*{stem}*", hit
        return None


def _w(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _p(*texts: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(t.split()) for t in texts)


SUBJECT_NOUNS = _w("""user users customer customers client clients member members person persons people patient
patients subscriber subscribers employee employees contact contacts buyer shopper visitor guest student students
account_holder applicant candidate owner borrower borrowers tenant tenants kunde kunden mitglied mitglieder benutzer nutzer mitarbeiter
utilisateur utilisateurs adherent abonne salarie usuario usuarios cliente clientes miembro paciente empleado""")

# Words that, next to a value category, describe a flag or a measure about the value.
NEGATIONS = _w("""count cnt flag is has verified valid validated confirmed opt optin optout opted consent type
status enabled disabled allowed length len domain format provider country region changed updated sent bounced
bounce source masked present known missing required preference prefs frequency share ratio pct percent rate
total sum avg min max template kind category visible at id key uuid""")
# Only aggregates negate an attribute category: `has_diabetes` is health, `diabetes_rate` is not.
ATTRIBUTE_NEGATIONS = _w("count cnt share ratio pct percent rate total sum avg")

NON_PERSON = _w("""product products company companies firm org organization organisation business file files
table column schema event events store stores shop shops city country state region brand category categories
campaign campaigns host hostname domain item items plan plans app device sku model team project street bank
merchant vendor supplier course tag label metric feature job task pipeline dataset database server service
package plugin role group segment channel page screen site stage step product_name warehouse location branch
produit entreprise societe produkt firma artikel producto empresa tienda inventory stock catalog catalogue
lager inventaire inventario""")
PERSON_HINTS = _w("""first last full given family middle maiden display customer client contact person patient employee
member holder cardholder owner recipient sender billing shipping legal de famille completo primer segundo
apellido""")

RULES: tuple[Rule, ...] = (
    Rule("email", 0.92, _w("email emails eml emailaddress emailadresse mailadresse courriel correo mailaddress"),
         _p("e mail", "correo electronico", "adresse mail", "adresse email", "direccion correo", "e post"),
         ("email", "courriel", "emailadres")),
    Rule("email", 0.8, _w("mail")),
    Rule("phone", 0.92, _w("""phone phones tel telephone telefon telefono telefone cellphone msisdn fax handy
         rufnummer telefonnummer mobilnummer handynummer movil celular portable telnr phonenumber mobilephone"""),
         _p("mobile number", "cell number", "numero telephone", "numero de telephone", "numero telefono",
            "numero de telefono", "telefono movil"),
         ("phone", "telefon", "telephon", "rufnummer", "handynummer", "mobilnummer", "celular")),
    Rule("phone", 0.75, _w("mobile mobil cell")),
    Rule("ssn", 0.96, _w("ssn socialsecurity socialsecuritynumber"), _p("social security", "social sec")),
    Rule("national_id", 0.9, _w("""passport passportnumber passnummer reisepass personalausweis ausweis ausweisnummer
         idnr steuerid steuernummer steueridentifikationsnummer sozialversicherungsnummer svnr nir insee numsecu dni nie
         nif nss cedula curp nino nhs bsn pesel nationalid taxid tin driverslicense fuehrerschein permis"""),
         _p("national id", "national insurance", "tax id", "tax number", "id card", "identity card", "identity number",
            "driver license", "drivers license", "driving licence", "driver licence", "passport number",
            "securite sociale", "seguridad social", "numero documento", "documento identidad", "carte identite",
            "numero identite", "id number", "personal number", "national number"),
         ("passport", "reisepass", "ausweis", "steuerid", "sozialversicherung")),
    Rule("card_number", 0.92, _w("""ccnum ccnumber cardnumber creditcard kreditkarte kreditkartennummer kartennummer
         tarjeta creditcardnumber cardno"""),
         _p("card number", "card no", "card num", "cc number", "cc num", "cc no", "credit card", "debit card",
            "card pan", "numero carte", "numero de carte", "numero tarjeta", "numero de tarjeta", "carte bancaire",
            "tarjeta credito", "tarjeta de credito", "primary account number"),
         ("creditcard", "kreditkart", "cardnumber", "cardnum")),
    Rule("card_number", 0.7, _w("pan")),
    Rule("iban", 0.93, _w("iban kontonummer bankkonto rib"), (), ("iban", "kontonummer", "bankkonto")),
    Rule("iban", 0.75, frozenset(), _p("bank account", "account number", "numero cuenta", "numero de cuenta",
                                       "cuenta bancaria", "compte bancaire", "bank konto")),
    Rule("street_address", 0.82, _w("""address addr street strasse anschrift adresse rue direccion calle domicilio
         wohnort addressline address1 address2 hausnummer streetaddress"""),
         _p("address line", "street address", "home address", "billing address", "shipping address",
            "mailing address", "house number", "postal address"),
         ("strasse", "address", "adresse", "direccion", "anschrift")),
    Rule("username", 0.86, _w("username login handle screenname benutzername nutzername nickname"),
         _p("user name", "screen name", "login name", "nom utilisateur", "nom d utilisateur",
            "nombre usuario", "nombre de usuario")),
    Rule("ip_address", 0.95, _w("ip ipaddress ipaddr ipv4 ipv6 ipadresse remoteaddr clientip"),
         _p("ip address", "remote addr", "remote address", "adresse ip", "direccion ip", "ip adresse"),
         ("ipaddr", "ipv4", "ipv6", "ipadress")),
    Rule("device_id", 0.9, _w("""idfa gaid aaid adid udid imei imsi meid androidid deviceid advertisingid
         macaddress mac geraeteid"""),
         _p("device id", "device identifier", "device uuid", "device token", "advertising id", "mac address",
            "android id", "ad id", "push token", "cookie id", "geraete id", "geraet id", "id appareil",
            "identifiant appareil", "id dispositivo", "dispositivo id", "device fingerprint", "browser fingerprint"),
         ("deviceid", "idfa", "imei", "geraeteid")),
    Rule("device_id", 0.6, _w("device")),
    Rule("birth_date", 0.95, _w("""dob birthdate birthday bday geburtsdatum geburtstag naissance nacimiento
         fechanacimiento datenaissance"""),
         _p("date of birth", "birth date", "birth day", "date naissance", "date de naissance", "fecha nacimiento",
            "fecha de nacimiento", "geburts datum"),
         ("birth", "geburt", "naissance", "nacimiento")),
    Rule("birth_date", 0.85, frozenset(), _p("birth year", "year of birth", "annee naissance", "ano nacimiento")),
    Rule("birth_date", 0.6, _w("age alter edad")),
    Rule("postal_code", 0.92, _w("zip zipcode postcode postalcode plz postleitzahl codepostal codigopostal postal"),
         _p("zip code", "postal code", "post code", "code postal", "codigo postal"), ("postleitzahl", "zipcode")),
    Rule("postal_code", 0.6, _w("cp")),
    Rule("precise_geolocation", 0.88, _w("""lat lng lon latitude longitude geolocation geopoint coordinates coords
         gps breitengrad laengengrad latitud longitud geohash geoloc"""),
         _p("geo location", "gps position", "home location"), ("latitude", "longitude", "geoloc")),
    Rule("precise_geolocation", 0.5, _w("geo location long")),
    Rule("gender", 0.92, _w("gender sex geschlecht sexe genre sexo genero")),
    Rule("health", 0.88, _w("""diagnosis diagnoses diagnose diagnostic diagnostico icd icd10 icd9 medication medications
         medikament medicament medicamento prescription prescribed drug drugs allergy allergies allergie alergia disability behinderung
         discapacidad illness disease krankheit maladie enfermedad symptom symptoms treatment therapy bloodtype
         bloodgroup pregnancy pregnant hiv smoker diabetes diabetic bmi health gesundheit sante salud medical
         clinical vaccination vaccine impfung"""),
         _p("blood type", "blood group", "medical condition", "health status", "groupe sanguin", "grupo sanguineo"),
         ("diagnos", "medic", "krankheit", "allerg", "gesundheit", "impfung")),
    Rule("ethnicity", 0.9, _w("ethnicity ethnic race ethnie ethnizitaet etnia raza"),
         _p("ethnic origin", "origine ethnique", "origen etnico", "ethnische herkunft"), ("ethni",)),
    Rule("religion", 0.9, _w("religion religious faith denomination konfession religionszugehoerigkeit confession "
                             "creencia"), (), ("religio", "konfession")),
    Rule("sexual_orientation", 0.95, _w("sexualorientation orientierung"),
         _p("sexual orientation", "orientation sexuelle", "orientacion sexual", "sexuelle orientierung",
            "sexual preference"), ("sexualorient", "orientationsexuelle", "orientacionsexual")),
    Rule("sexual_orientation", 0.6, _w("orientation")),
    Rule("political_opinion", 0.9, _w("politics political partei parteizugehoerigkeit politique politica politico"),
         _p("political party", "political affiliation", "party affiliation", "political view", "political opinion",
            "parti politique", "partido politico", "voter registration"), ("politi",)),
    Rule("credit_score", 0.9, _w("fico creditscore schufa bonitaet solvabilite creditrating"),
         _p("credit score", "credit rating", "puntaje credito", "score credit", "cote credit", "score de credito")),
    Rule("free_text", 0.6, _w("""notes note comment comments remarks remark memo message messages feedback bio
         biography body freetext notiz notizen bemerkung bemerkungen kommentar anmerkung nachricht commentaire
         commentaires remarque remarques observaciones comentario comentarios nota notas mensaje"""),
         _p("free text",)),
    Rule("hashed_id", 0.72, _w("hash hashed sha1 sha256 md5 digest fingerprint pseudonym"), (), ("hash",)),
)

_KEY_WORDS = _w("id key uuid guid nr no num number ref")
_SUBJECT_COMPOUNDS = ("userid", "customerid", "clientid", "memberid", "kundenid", "kundennummer", "kundennr",
                      "idcliente", "idusuario", "idutilisateur", "patientid", "personid", "subscriberid")


@dataclass(frozen=True)
class NameMatch:
    """What a name says: a category (None: nothing personal), how sure, and which rule."""

    category: str | None
    confidence: float
    rule: str = ""
    negated: str | None = None          # the category the name mentions but negates (`phone_verified`)
    words: tuple[str, ...] = field(default=())


def _key_match(words: list[str], joined: str) -> NameMatch | None:
    if any(c in joined for c in _SUBJECT_COMPOUNDS) and len(words) <= 3:
        return NameMatch("subject_key", 0.75, f"subject key '{joined}'", words=tuple(words))
    if len(words) >= 2 and words[-1] in _KEY_WORDS and words[-2] in SUBJECT_NOUNS:
        return NameMatch("subject_key", 0.75, f"subject key '{words[-2]} {words[-1]}'", words=tuple(words))
    if len(words) >= 2 and words[0] in _KEY_WORDS - {"no", "num", "number"} and words[1] in SUBJECT_NOUNS:
        return NameMatch("subject_key", 0.75, f"subject key '{words[0]} {words[1]}'", words=tuple(words))
    if words and (words[-1] in {"id", "key", "uuid", "guid"} or joined.endswith(("id", "uuid")) and len(words) == 1
                  and joined in {"id", "uuid", "guid"}):
        return NameMatch("record_key", 0.6, f"record key '{'_'.join(words)}'", words=tuple(words))
    return None


def _person_name(words: list[str], non_person_table: bool) -> NameMatch | None:
    single = _w("""firstname lastname fullname givenname familyname middlename maidenname surname forename fname
                lname vorname nachname familienname prenom apellido apellidos nombrecompleto nomcomplet""")
    hit = next((w for w in words if w in single), None)
    if hit:
        return NameMatch("person_name", 0.92, f"person name '{hit}'", words=tuple(words))
    base = next((w for w in words if w in {"name", "names", "nom", "nombre", "noms", "nombres"}), None)
    if base is None:
        return None
    others = [w for w in words if w != base]
    if any(w in NON_PERSON for w in others):
        return None
    if any(w in PERSON_HINTS for w in others):
        return NameMatch("person_name", 0.9, f"person name '{' '.join(words)}'", words=tuple(words))
    if not others:
        if non_person_table:
            return None
        return NameMatch("person_name", 0.75, f"person name '{base}'", words=tuple(words))
    return NameMatch("person_name", 0.6, f"person name '{' '.join(words)}'", words=tuple(words))


def match_name(name: str, table: str = "") -> NameMatch:
    """The best rule for a column name (`table`: its table's name, for context)."""
    return _match(name, _non_person_table(table))


@functools.lru_cache(maxsize=1024)
def _non_person_table(table: str) -> bool:
    nouns = {x.rstrip("s") for x in NON_PERSON}
    return any(w.rstrip("s") in nouns for w in tokens(table))


@functools.lru_cache(maxsize=8192)
def _match(name: str, non_person_table: bool) -> NameMatch:
    words = tokens(name)
    joined = "".join(words)
    candidates: list[NameMatch] = []
    person = _person_name(words, non_person_table)
    if person is not None:
        candidates.append(person)
    for rule in RULES:
        found = rule.match(words, joined)
        if found is None:
            continue
        confidence, what, used = found
        rest = [w for i, w in enumerate(words) if i not in used]
        negations = ATTRIBUTE_NEGATIONS if CATEGORIES[rule.category].attribute else NEGATIONS
        negator = next((w for w in rest if w in negations), None)
        if negator is not None and rule.category not in {"hashed_id", "free_text"}:
            candidates.append(NameMatch(None, confidence * 0.5, f"'{what}' with '{negator}' (a flag or measure)",
                                        negated=rule.category, words=tuple(words)))
            continue
        candidates.append(NameMatch(rule.category, confidence, f"{rule.category} rule '{what}'", words=tuple(words)))
    key = _key_match(words, joined)
    if key is not None:
        candidates.append(key)
    if not candidates:
        return NameMatch(None, 0.0, "", words=tuple(words))
    for group in ([c for c in candidates if c.category not in {None, "record_key"}],
                  [c for c in candidates if c.category == "record_key"],
                  [c for c in candidates if c.category is None]):
        if group:
            return max(group, key=lambda c: c.confidence)
    raise AssertionError("unreachable")
