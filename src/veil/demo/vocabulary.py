"""The word lists and weights the synthetic company's data is drawn from.

Weighted vocabularies are expanded to exactly 100 slots, so SQL can pick one
with ``list_element(slots, 1 + hash(...) % 100)`` and a weight reads as a
percentage.

>>> slots = expand([("a", 75), ("b", 25)])
>>> len(slots), slots.count("b")
(100, 25)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

#: Varied cultures; a few carry accents, apostrophes or spaces so that email
#: local parts and masking have something to normalise.
FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "José", "Zoë", "Wei", "Aisha", "Mohammed", "Priya", "Hiroshi", "Yuki",
    "Olga", "Ivan", "Fatima", "Liam", "Emma", "Noah", "Chloé", "François", "Björn", "Ingrid",
    "Carlos", "Lucía", "João", "Ana", "Kwame", "Amara", "Chen", "Mei", "Raj", "Ananya",
    "Sven", "Astrid", "Giulia", "Marco", "Dmitri", "Sofía", "Hannah", "Lukas", "Léa", "Mateo",
    "Oluwaseun", "Nia", "Kenji", "Sakura", "Ahmed", "Layla", "Tomás", "Renée", "Minh", "Linh",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "García", "Müller", "Wang", "Li", "Nguyen", "Kim", "Patel", "Singh",
    "Tanaka", "Sato", "Ivanov", "Kowalski", "Rossi", "Bianchi", "Dubois", "Lefèvre", "Silva", "Santos",
    "Okafor", "Mensah", "Hansen", "Johansson", "Andersson", "O'Brien", "Murphy", "Schmidt", "Fischer", "Novak",
    "Hernández", "López", "Martínez", "Gonzalez", "Chen", "Zhang", "Yamamoto", "Suzuki", "Khan", "Ali",
    "Cohen", "Levi", "Papadopoulos", "Nowak", "Çelik", "Yılmaz", "Van der Berg", "De Vries", "Núñez", "Brown",
)

#: Free mail providers and a few company-like domains under the reserved
#: ``.example`` TLD (RFC 2606), so no real organisation is named.
EMAIL_DOMAINS: tuple[tuple[str, int], ...] = (
    ("gmail.com", 34),
    ("yahoo.com", 12),
    ("outlook.com", 12),
    ("hotmail.com", 6),
    ("proton.me", 5),
    ("icloud.com", 7),
    ("gmx.de", 4),
    ("example.com", 5),
    ("acme-corp.example", 5),
    ("initech.example", 4),
    ("globex.example", 3),
    ("umbrella-health.example", 3),
)

#: ISO-3166 alpha-2, weight, and the currency its payments are made in.
COUNTRIES: tuple[tuple[str, int, str], ...] = (
    ("US", 34, "USD"),
    ("DE", 10, "EUR"),
    ("GB", 9, "GBP"),
    ("FR", 8, "EUR"),
    ("IN", 8, "INR"),
    ("BR", 7, "BRL"),
    ("JP", 5, "JPY"),
    ("CA", 5, "CAD"),
    ("ES", 4, "EUR"),
    ("MX", 3, "MXN"),
    ("NL", 3, "EUR"),
    ("NG", 2, "NGN"),
    ("AU", 2, "AUD"),
)

#: ``None`` is a user who did not say.
GENDERS: tuple[tuple[str | None, int], ...] = (
    ("female", 48),
    ("male", 46),
    ("nonbinary", 2),
    ("unknown", 2),
    (None, 2),
)

EVENT_TYPES: tuple[tuple[str, int], ...] = (
    ("page_view", 45),
    ("click", 20),
    ("search", 12),
    ("add_to_cart", 8),
    ("purchase", 4),
    ("login", 6),
    ("logout", 5),
)

#: Purpose and the share of first decisions that grant it.
CONSENT_PURPOSES: tuple[tuple[str, int], ...] = (
    ("analytics", 80),
    ("marketing", 50),
    ("marketing.email", 45),
    ("ml_training", 35),
    ("data_sharing", 40),
)

#: How many decisions a user records for one purpose: none is the most common.
CONSENT_DECISIONS_PER_PURPOSE: tuple[tuple[int, int], ...] = (
    (0, 45),
    (1, 35),
    (2, 14),
    (3, 6),
)

#: HIPAA Safe Harbor: three-digit zip prefixes of areas with fewer than
#: 20,000 people, which ``zip3`` must turn into ``000``.
RESTRICTED_ZIP3: tuple[str, ...] = (
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823",
    "830", "831", "878", "879", "884", "890", "893",
)

#: First groups of IPv6 addresses: documentation, RIPE, ARIN, APNIC, AFRINIC.
IPV6_PREFIXES: tuple[str, ...] = ("2001", "2a02", "2600", "2406", "2c0f", "2a01")


def expand(weighted: Sequence[tuple[T, int]]) -> list[T]:
    """Repeat each value by its weight; the weights must add up to 100.

    >>> expand([("x", 1), ("y", 99)])[:2]
    ['x', 'y']
    """
    total = sum(weight for _, weight in weighted)
    if total != 100:
        raise ValueError(f"weights add up to {total}, not 100")
    return [value for value, weight in weighted for _ in range(weight)]
