"""What a column can be: one category per kind of data, each with its classification.

A category is what the data is (an email address, a postal code); its
classification is how identifying that makes the column (veil's PII
spectrum, `veil.policy.models.Classification`). Special categories of the
GDPR (art. 9: health, ethnic origin, religion, sexual orientation, political
opinion) and the CPRA's sensitive personal information (precise geolocation)
are SENSITIVE_PII, like gender in the reference project.

>>> CATEGORIES["email"].classification.value
'DIRECT_PII'
>>> classification_of("postal_code").value, classification_of("other").value
('QUASI_PII', 'NON_PII')
>>> STRICTNESS[Classification.DIRECT_PII] > STRICTNESS[Classification.NON_PII]
True
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.policy.models import Classification

DIRECT, QUASI, SENSITIVE, PSEUDO, NON = (Classification.DIRECT_PII, Classification.QUASI_PII,
                                        Classification.SENSITIVE_PII, Classification.PSEUDONYMOUS,
                                        Classification.NON_PII)


@dataclass(frozen=True)
class Category:
    """A kind of data: its name (used in reports and JSON), classification and a label."""

    name: str
    classification: Classification
    label: str
    # an attribute category (health, religion...) may be held as flags or codes of any
    # type; a value category (email, phone...) has values of its own shape
    attribute: bool = False


_ALL = (
    Category("email", DIRECT, "email address"),
    Category("phone", DIRECT, "phone number"),
    Category("person_name", DIRECT, "person name"),
    Category("ssn", DIRECT, "US Social Security number"),
    Category("national_id", DIRECT, "national identifier (tax id, passport, DNI, NIR...)"),
    Category("card_number", DIRECT, "payment card number"),
    Category("iban", DIRECT, "IBAN / bank account"),
    Category("street_address", DIRECT, "street address"),
    Category("username", DIRECT, "user name / login"),
    Category("free_text", DIRECT, "free text with PII inside"),
    Category("ip_address", QUASI, "IP address"),
    Category("device_id", QUASI, "device identifier"),
    Category("birth_date", QUASI, "date of birth"),
    Category("postal_code", QUASI, "postal code"),
    Category("precise_geolocation", SENSITIVE, "precise geolocation"),
    Category("gender", SENSITIVE, "gender / sex", attribute=True),
    Category("health", SENSITIVE, "health data", attribute=True),
    Category("ethnicity", SENSITIVE, "racial or ethnic origin", attribute=True),
    Category("religion", SENSITIVE, "religion or belief", attribute=True),
    Category("sexual_orientation", SENSITIVE, "sexual orientation", attribute=True),
    Category("political_opinion", SENSITIVE, "political opinion", attribute=True),
    Category("credit_score", SENSITIVE, "credit score"),
    Category("subject_key", PSEUDO, "the data subject's key"),
    Category("hashed_id", PSEUDO, "hashed or tokenised identifier"),
    Category("record_key", NON, "key of a record (not a person)"),
    Category("other", NON, "no personal data found"),
)

CATEGORIES: dict[str, Category] = {c.name: c for c in _ALL}

#: How much protection a classification asks for; a column's values contradict its
#: declared classification when they point to a stricter one.
STRICTNESS = {NON: 0, PSEUDO: 1, QUASI: 2, SENSITIVE: 3, DIRECT: 4}


def classification_of(category: str) -> Classification:
    """The classification a category implies."""
    return CATEGORIES[category].classification
