"""Key management: named, versioned data keys wrapped by a KMS.

veil uses five named keys (`KEY_NAMES`): "hmac" for pseudonyms, "fpe" for
format-preserving encryption, "vault" for tokens, "encrypt" for reversible
encryption and "audit" for the audit trail's MACs (`veil.audit.trail`).
Each has versions; the primary one writes new data, and a key id such as
"encrypt:v2" stored beside the data finds the version that reads it.

The keys live in a keyring file (format in `veil.keyring.store`) that holds
them only wrapped by a key-encryption key: a local file for development
(`LocalKms`), a cloud KMS in production (a client registered in `PROVIDERS`).
`load_keyring` picks the keyring the environment names (`veil.keyring.env`).

>>> import tempfile
>>> from pathlib import Path
>>> path = init_keyring(Path(tempfile.mkdtemp()) / ".veil" / "keyring.json")
>>> sorted(file.name for file in path.parent.iterdir())
['keyring.json', 'master.key']
>>> ring = load_keyring({"VEIL_KEYRING": str(path)})
>>> ring.primary("encrypt")
DataKey(name='encrypt', version=1)
>>> rotate_key(path, "encrypt").key_id
'encrypt:v2'
>>> load_keyring({"VEIL_KEYRING": str(path)}).by_id("encrypt:v1") == ring.primary("encrypt")
True
"""

from veil.keyring.env import DEFAULT_KEYRING, KEYRING_ENV, keyring_from_key, load_keyring
from veil.keyring.kms import PROVIDERS, KmsClient, LocalKms
from veil.keyring.ring import KEY_NAMES, DataKey, Keyring, parse_key_id
from veil.keyring.store import init_keyring, load_keyring_file, rotate_key

__all__ = [
    "DEFAULT_KEYRING",
    "KEYRING_ENV",
    "KEY_NAMES",
    "PROVIDERS",
    "DataKey",
    "Keyring",
    "KmsClient",
    "LocalKms",
    "init_keyring",
    "keyring_from_key",
    "load_keyring",
    "load_keyring_file",
    "parse_key_id",
    "rotate_key",
]
