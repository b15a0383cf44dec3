"""veil classify, one column at a time: name rules, validators, and values winning over names."""

from __future__ import annotations

import datetime
import doctest
import importlib

import pytest

from veil.classify import classify_table
from veil.classify import validators as v
from veil.classify.names import match_name
from veil.classify.sample import TableRef, TableSample
from veil.classify.values import ColumnSample, analyse

MODULES = ["veil.classify", "veil.classify.categories", "veil.classify.names", "veil.classify.validators",
           "veil.classify.values", "veil.classify.decide", "veil.classify.sample", "veil.classify.discover",
           "veil.classify.subjects", "veil.classify.run", "veil.classify.report", "veil.classify.draft",
           "veil.classify.check", "veil.classify.given_names", "veil.classify.corpus", "veil.classify.benchmark",
           "veil.init"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


def verdict(column: str, sql_type: str, values: list, table: str = "t"):
    sample = TableSample(TableRef("raw", table), [ColumnSample(column, sql_type, values, len(values),
                                                               len(set(values)))], len(values), "warehouse")
    [found] = classify_table(sample)
    return found


@pytest.mark.parametrize(("name", "category"), [
    ("email", "email"), ("customerEmail", "email"), ("E-Mail-Adresse", "email"), ("eml", "email"),
    ("courriel", "email"), ("correo_electronico", "email"),
    ("tel", "phone"), ("Telefonnummer", "phone"), ("numero_de_telephone", "phone"), ("telefono_movil", "phone"),
    ("dob", "birth_date"), ("dateOfBirth", "birth_date"), ("Geburtsdatum", "birth_date"),
    ("date_de_naissance", "birth_date"), ("fecha_de_nacimiento", "birth_date"),
    ("PLZ", "postal_code"), ("zipCode", "postal_code"), ("code_postal", "postal_code"), ("codigo_postal", "postal_code"),
    ("first_name", "person_name"), ("Vorname", "person_name"), ("prénom", "person_name"), ("apellidos", "person_name"),
    ("ssn", "ssn"), ("social_security_number", "ssn"), ("steuer_id", "national_id"), ("dni", "national_id"),
    ("numero_securite_sociale", "national_id"), ("cc_number", "card_number"), ("iban", "iban"),
    ("ip_address", "ip_address"), ("IPAddress", "ip_address"), ("device_id", "device_id"), ("idfa", "device_id"),
    ("Straße", "street_address"), ("latitude", "precise_geolocation"), ("geschlecht", "gender"), ("sexo", "gender"),
    ("diagnosis_code", "health"), ("is_smoker", "health"), ("etnia", "ethnicity"), ("konfession", "religion"),
    ("orientation_sexuelle", "sexual_orientation"), ("partei", "political_opinion"), ("credit_score", "credit_score"),
    ("schufa_score", "credit_score"), ("notes", "free_text"), ("customer_id", "subject_key"),
    ("Kundennummer", "subject_key"), ("id_cliente", "subject_key"), ("order_id", "record_key"),
])
def test_name_rules_in_four_languages(name, category):
    assert match_name(name).category == category


@pytest.mark.parametrize("name", ["phone_verified", "email_opt_in", "ip_country", "birth_date_known", "gender_ratio",
                                  "product_name", "created_at", "amount"])
def test_names_that_are_flags_measures_or_nothing_personal(name):
    assert match_name(name, table="products").category is None


def test_library_validators():
    assert v.is_phone("+49 30 1234567") and v.is_phone("06 12 34 56 78") and not v.is_phone("12.50")
    assert v.is_ssn("219-09-9998") and not v.is_ssn("219-09-9999") and not v.is_ssn("000-12-3456")
    assert v.is_card("4111111111111111") and not v.is_card("4111111111111112") and not v.is_card("1111111111111117")
    assert v.is_iban("GB82 WEST 1234 5698 7654 32") and not v.is_iban("GB82 WEST 1234 5698 7654 33")
    assert v.is_ip("192.0.2.1") and v.is_ip("2001:db8::8a2e:370:7334") and not v.is_ip("1.2.3")
    assert v.national_id("X2482300W") == "es.nie" and v.national_id("2 95 10 99 126 111 93") == "fr.nir"
    assert v.is_email("zoë.müller@exämple.de") and not v.is_email("user@@x.org")
    assert v.is_mac("02:00:5e:10:00:01") and v.is_imei("490154203237518")
    assert v.geo_pair("48.85661, 2.35222") and not v.geo_pair("148.85661, 2.35222")


def test_values_win_over_names():
    flag = verdict("phone_verified", "BOOLEAN", [True, False])
    assert (flag.classification.value, flag.category) == ("NON_PII", "other")
    phones = verdict("col_17", "VARCHAR", ["+1-202-555-0111", "(202) 555-0122", "+44 20 7946 0958", "06 12 34 56 78"])
    assert (phones.classification.value, phones.category) == ("DIRECT_PII", "phone")
    assert "phonenumbers" in phones.evidence
    named_wrong = verdict("name", "VARCHAR", ["ann@x.org", "bo@y.org", "cy@z.org"])
    assert named_wrong.category == "email" and "overrules" in named_wrong.evidence
    event_times = verdict("dob", "TIMESTAMP", [datetime.datetime(2025, 3, 1, 10, 5), datetime.datetime(2025, 4, 2, 8)])
    assert event_times.category == "other" and "contradict" in event_times.evidence


def test_free_text_with_pii_inside():
    notes = ["Delivered", "Call back on +44 20 7946 0123 please", "asked to use ann.lee@mail.example instead",
             "Refund processed", "left at the door"]
    found = verdict("blob_1", "VARCHAR", notes)
    assert (found.classification.value, found.category) == ("DIRECT_PII", "free_text")
    assert "2 of 5 sampled texts contain PII (email, phone)" in found.evidence


def test_dates_of_birth_by_plausibility():
    today = datetime.date.today()
    births = [today.replace(year=today.year - age, day=1) for age in range(18, 80, 3)]
    assert verdict("value_3", "DATE", births).category == "birth_date"
    recent = [today - datetime.timedelta(days=d) for d in range(0, 600, 30)]
    assert verdict("value_3", "DATE", recent).category == "other"


def test_no_values_means_name_only_with_lower_confidence():
    named = verdict("email", "", [])
    assert named.category == "email" and named.confidence < 0.9 and "no values sampled" in named.evidence


def test_analysis_is_bounded():
    sample = ColumnSample("c", "VARCHAR", [f"user{i}@x.org" for i in range(5000)])
    assert analyse(sample).n == 120
