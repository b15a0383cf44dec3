"""Named, versioned data keys in memory: which version is primary, lookup by id.

A key id is `<name>:v<version>`, e.g. "encrypt:v2"; data written with a key
records its id, so old data still finds its (older) version after a rotation.

>>> ring = Keyring("example", {"encrypt": 2}, {"encrypt": {1: bytes(32), 2: b"\\x01" * 32}})
>>> ring.primary("encrypt")
DataKey(name='encrypt', version=2)
>>> ring.by_id("encrypt:v1").key_id, ring.versions("encrypt")
('encrypt:v1', [1, 2])
>>> ring.by_id("encrypt:v7")
Traceback (most recent call last):
...
veil.errors.KeyConfigError: unknown key version encrypt:v7 in example (it has v1, v2)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from veil.errors import KeyConfigError
from veil.keys import KEY_BYTES

KEY_NAMES = ("hmac", "fpe", "vault", "encrypt", "audit")
"""The named keys veil uses."""

_KEY_ID = re.compile(r"([a-z][a-z0-9_]*):v([1-9][0-9]*)")

Material = bytes | Callable[[], bytes]
"""A key's bytes, or a function that unwraps them on first use."""


@dataclass(frozen=True)
class DataKey:
    """One version of one named key. Its repr and str never show the material.

    >>> DataKey("encrypt", 2, bytes(32))
    DataKey(name='encrypt', version=2)
    """

    name: str
    version: int
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.material, bytes) or len(self.material) != KEY_BYTES:
            size = len(self.material) if isinstance(self.material, bytes) else type(self.material).__name__
            raise KeyConfigError(f"data key {self.key_id} must be {KEY_BYTES} bytes; it has {size}")

    @property
    def key_id(self) -> str:
        """`<name>:v<version>`, the id stored beside data written with this key."""
        return f"{self.name}:v{self.version}"


def parse_key_id(key_id: str) -> tuple[str, int]:
    """("encrypt", 2) from "encrypt:v2"; KeyConfigError for anything else.

    >>> parse_key_id("encrypt:v2")
    ('encrypt', 2)
    >>> parse_key_id("encrypt:2")
    Traceback (most recent call last):
    ...
    veil.errors.KeyConfigError: malformed key id 'encrypt:2'; expected NAME:vN such as encrypt:v2
    """
    found = _KEY_ID.fullmatch(key_id) if isinstance(key_id, str) else None
    if found is None:
        shown = key_id if not isinstance(key_id, str) or len(key_id) <= 40 else key_id[:40] + "..."
        raise KeyConfigError(f"malformed key id {shown!r}; expected NAME:vN such as encrypt:v2")
    return found.group(1), int(found.group(2))


class Keyring:
    """Versions of named keys, one primary per name; materials are resolved once, on first use.

    `materials` maps a name to {version: bytes or a function returning them};
    `primaries` maps a name to its primary version (default: its newest). `source` says where the
    keys came from, for messages.
    """

    def __init__(self, source: str, primaries: Mapping[str, int], materials: Mapping[str, Mapping[int, Material]]):
        self._source = source
        self._materials = {name: dict(sorted(versions.items())) for name, versions in materials.items() if versions}
        self._primaries = {name: primaries.get(name, max(versions)) for name, versions in self._materials.items()}
        for name, primary in primaries.items():
            if primary not in self._materials.get(name, {}):
                raise KeyConfigError(f"{source}: primary version {name}:v{primary} is not among its versions")
        self._cache: dict[tuple[str, int], DataKey] = {}

    @property
    def source(self) -> str:
        """Where the keys came from: "keyring <path>" or "VEIL_KEY". Never key material."""
        return self._source

    def names(self) -> list[str]:
        """The names this keyring holds, in KEY_NAMES order."""
        order = {name: index for index, name in enumerate(KEY_NAMES)}
        return sorted(self._materials, key=lambda name: (order.get(name, len(order)), name))

    def versions(self, name: str) -> list[int]:
        """The versions of key `name`, oldest first."""
        return list(self._versions_of(name))

    def primary(self, name: str) -> DataKey:
        """The version of `name` that new data is written with."""
        self._versions_of(name)
        return self.get(name, self._primaries[name])

    def get(self, name: str, version: int) -> DataKey:
        """Version `version` of key `name`."""
        versions = self._versions_of(name)
        cached = self._cache.get((name, version))
        if cached is not None:
            return cached
        if version not in versions:
            held = ", ".join(f"v{held}" for held in versions)
            raise KeyConfigError(f"unknown key version {name}:v{version} in {self._source} (it has {held})")
        material = versions[version]
        key = DataKey(name, version, material() if callable(material) else material)
        self._cache[(name, version)] = key
        return key

    def by_id(self, key_id: str) -> DataKey:
        """The key a key id such as "encrypt:v2" names."""
        return self.get(*parse_key_id(key_id))

    def _versions_of(self, name: str) -> Mapping[int, Material]:
        versions = self._materials.get(name)
        if versions is None:
            if name in KEY_NAMES:
                raise KeyConfigError(f"{self._source} has no key {name!r} (it has: {', '.join(self.names())})")
            raise KeyConfigError(f"unknown key {name!r}; veil's keys are {', '.join(KEY_NAMES)}")
        return versions

    def __repr__(self) -> str:
        held = {name: self.versions(name) for name in self.names()}
        return f"Keyring(source={self._source!r}, versions={held})"
