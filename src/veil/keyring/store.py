"""The keyring file: its JSON format, reading it, creating it, rotating a key.

Format `veil-keyring/1` (the file is mode 0600 and never holds a plaintext key)::

    {"format": "veil-keyring/1",
     "kek": {"provider": "local", "key_file": "master.key"},
     "keys": {"encrypt": {"primary": 2,
                          "versions": {"1": {"wrapped": "<base64>", "created_at": "2026-11-28T10:00:00Z"},
                                       "2": {"wrapped": "<base64>", "created_at": "2027-02-01T09:30:00Z"}}},
              "hmac": {...}, "fpe": {...}, "vault": {...}}}

- `kek` says which KMS holds the key-encryption key: `provider` picks a
  factory in `PROVIDERS`, which reads the rest of the section (for "local",
  `key_file`, relative to the keyring file's folder).
- `keys` maps each name of KEY_NAMES to its versions; `primary` is the version
  new data is written with, older versions stay to read older data.
- `wrapped` is base64 of the data key as the KMS wrapped it, bound to the
  context `veil-keyring:<name>:v<version>`: a blob moved to another name or
  version does not unwrap.

>>> import tempfile
>>> path = init_keyring(Path(tempfile.mkdtemp()) / "keyring.json")
>>> rotate_key(path, "encrypt")
DataKey(name='encrypt', version=2)
>>> ring = load_keyring_file(path)
>>> ring.primary("encrypt").key_id, ring.versions("encrypt"), ring.primary("hmac").key_id
('encrypt:v2', [1, 2], 'hmac:v1')
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from veil.errors import KeyConfigError
from veil.keyring.files import read_private_file, write_private_file
from veil.keyring.kms import KmsClient, LocalKms, kms_from_config
from veil.keyring.ring import KEY_NAMES, DataKey, Keyring
from veil.keys import KEY_BYTES, generate_key_file
from veil.policy.yaml_lines import format_loc

FORMAT = "veil-keyring/1"
DEFAULT_KEK_FILE = "master.key"
_VERSION_NUMBER = re.compile(r"[1-9][0-9]*")


class _Version(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    wrapped: str = Field(description="base64 of the data key as the KMS wrapped it")
    created_at: str = Field(description="when this version was made, UTC, ISO 8601")

    @field_validator("wrapped")
    @classmethod
    def _base64(cls, wrapped: str) -> str:
        try:
            base64.b64decode(wrapped, validate=True)
        except binascii.Error:
            raise ValueError("is not valid base64") from None
        return wrapped


class _Key(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    primary: int = Field(ge=1, description="the version new data is written with")
    versions: dict[str, _Version] = Field(description="version number -> wrapped data key")

    @field_validator("versions")
    @classmethod
    def _numbered(cls, versions: dict[str, _Version]) -> dict[str, _Version]:
        for number in versions:
            if not _VERSION_NUMBER.fullmatch(number):
                raise ValueError(f"version {number!r} is not a whole number from 1")
        return dict(sorted(versions.items(), key=lambda item: int(item[0])))

    @model_validator(mode="after")
    def _primary_is_a_version(self) -> _Key:
        if str(self.primary) not in self.versions:
            raise ValueError(f"primary version {self.primary} is not among the versions")
        return self


class _KeyringFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    format: Literal["veil-keyring/1"] = Field(description="the format and its version")
    kek: dict[str, Any] = Field(description="the KMS provider and its settings")
    keys: dict[str, _Key] = Field(description="key name -> its versions")

    @field_validator("kek")
    @classmethod
    def _provider(cls, kek: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(kek.get("provider"), str):
            raise ValueError("must name a provider, e.g. {\"provider\": \"local\", \"key_file\": \"master.key\"}")
        return kek

    @field_validator("keys")
    @classmethod
    def _known_names(cls, keys: dict[str, _Key]) -> dict[str, _Key]:
        for name in keys:
            if name not in KEY_NAMES:
                raise ValueError(f"unknown key {name!r}; veil's keys are {', '.join(KEY_NAMES)}")
        return {name: keys[name] for name in KEY_NAMES if name in keys}


def load_keyring_file(path: Path) -> Keyring:
    """The keyring in `path`; each data key is unwrapped when first used.

    Raises KeyConfigError for a missing, non-private or malformed file, an
    unknown provider or an unreadable KEK; later, for a key that does not
    unwrap ("cannot unwrap encrypt:v1 from keyring <path>: ...").
    """
    path = Path(path)
    document = _read(path)
    return _keyring(path, document, _kms(document, path))


def init_keyring(path: Path, *, kek_path: Path | None = None) -> Path:
    """Create a development keyring at `path`: v1 of every key, wrapped by a local KEK.

    The KEK file (default `<keyring folder>/master.key`, 64 hex characters,
    mode 0600) is created unless it exists. An existing keyring is never
    overwritten: KeyConfigError.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise KeyConfigError(f"keyring {path} already exists; veil does not overwrite it")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    kek_path = Path(kek_path) if kek_path is not None else path.parent / DEFAULT_KEK_FILE
    generate_key_file(kek_path)
    kms = LocalKms.from_file(kek_path, key_file=_name_from(path.parent, kek_path))
    created_at = _now()
    keys = {name: _Key(primary=1, versions={"1": _new_version(kms, name, 1, created_at)[1]}) for name in KEY_NAMES}
    document = _KeyringFile(format=FORMAT, kek=kms.describe(), keys=keys)
    write_private_file(path, _dump(document), what="keyring", exclusive=True)
    return path


def rotate_key(path: Path, name: str) -> DataKey:
    """Add version n+1 of key `name` (v1 if the keyring lacks it) and make it primary.

    Old versions stay, so data written with them still reads. The file is
    replaced atomically (mode 0600). Refused if the KMS cannot unwrap the
    current primary: the new version would be wrapped by a different KEK.
    """
    path = Path(path)
    if name not in KEY_NAMES:
        raise KeyConfigError(f"unknown key {name!r}; veil's keys are {', '.join(KEY_NAMES)}")
    document = _read(path)
    kms = _kms(document, path)
    current = document.keys.get(name)
    if current:
        _keyring(path, document, kms).primary(name)
    versions = dict(current.versions) if current else {}
    version = max((int(number) for number in versions), default=0) + 1
    material, entry = _new_version(kms, name, version, _now())
    keys = {**document.keys, name: _Key(primary=version, versions={**versions, str(version): entry})}
    updated = _KeyringFile(format=FORMAT, kek=document.kek, keys=keys)
    write_private_file(path, _dump(updated), what="keyring")
    return DataKey(name, version, material)


def _keyring(path: Path, document: _KeyringFile, kms: KmsClient) -> Keyring:
    source = f"keyring {path}"

    def unwrapper(name: str, version: int, wrapped: str) -> Callable[[], bytes]:
        def unwrap() -> bytes:
            try:
                material = kms.decrypt(base64.b64decode(wrapped), _context(name, version))
            except KeyConfigError as error:
                raise KeyConfigError(f"cannot unwrap {name}:v{version} from {source}: {error}") from None
            if len(material) != KEY_BYTES:
                raise KeyConfigError(f"cannot unwrap {name}:v{version} from {source}: "
                                     f"the KMS returned {len(material)} bytes, not {KEY_BYTES}")
            return material

        return unwrap

    materials = {
        name: {int(number): unwrapper(name, int(number), entry.wrapped) for number, entry in key.versions.items()}
        for name, key in document.keys.items()
    }
    return Keyring(source, {name: key.primary for name, key in document.keys.items()}, materials)


def _context(name: str, version: int) -> str:
    return f"veil-keyring:{name}:v{version}"


def _new_version(kms: KmsClient, name: str, version: int, created_at: str) -> tuple[bytes, _Version]:
    material, wrapped = kms.generate_data_key(_context(name, version))
    if len(material) != KEY_BYTES:
        raise KeyConfigError(f"the KMS made a {len(material)}-byte data key for {name}:v{version}, not {KEY_BYTES}")
    return material, _Version(wrapped=base64.b64encode(wrapped).decode("ascii"), created_at=created_at)


def _read(path: Path) -> _KeyringFile:
    raw = read_private_file(path, what="keyring")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise KeyConfigError(f"keyring {path} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise KeyConfigError(f"keyring {path} is not valid JSON: {error.msg} "
                             f"at line {error.lineno} column {error.colno}") from None
    if not isinstance(data, dict):
        raise KeyConfigError(f"keyring {path} must hold a JSON object, not {type(data).__name__}")
    try:
        return _KeyringFile.model_validate(data)
    except ValidationError as error:
        problems = [
            f"keyring {path}: {format_loc(problem['loc']) or '(top)'}: {problem['msg'].removeprefix('Value error, ')}"
            for problem in error.errors()
        ]
        raise KeyConfigError("\n".join(problems)) from None


def _kms(document: _KeyringFile, path: Path) -> KmsClient:
    try:
        return kms_from_config(document.kek, path.parent)
    except KeyConfigError as error:
        raise KeyConfigError(f"keyring {path}: {error}") from None


def _dump(document: _KeyringFile) -> bytes:
    return (json.dumps(document.model_dump(mode="json"), indent=2) + "\n").encode("utf-8")


def _name_from(folder: Path, file: Path) -> str:
    """How the keyring in `folder` names `file`: relative when inside it, else absolute."""
    folder, file = Path(os.path.abspath(folder)), Path(os.path.abspath(file))
    return file.relative_to(folder).as_posix() if file.is_relative_to(folder) else str(file)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
