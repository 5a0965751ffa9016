"""Signing accounts: funded dev accounts on test chains, encrypted keystores for real use.

A keystore file is the standard Web3 Secret Storage format (scrypt + AES-128-CTR),
as geth, MetaMask exports and eth-account read and write it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import InvalidValue, L2gpuError

# The keys that eth-tester (and our embedded chain) fund at genesis. They are
# public knowledge: never send real value to them.
_EMBEDDED_DEV_KEYS = [(i + 1).to_bytes(32, "big") for i in range(10)]


class KeystoreError(L2gpuError):
    """A keystore file is missing, malformed, or the password is wrong."""


def account_from_private_key(text: str) -> LocalAccount:
    """An account from a hex private key (``0x`` optional); malformed keys raise InvalidValue."""
    key = PrivateKey.from_hex(text)
    account: LocalAccount = Account.from_key(key.secret)
    return account


def embedded_dev_accounts() -> list[LocalAccount]:
    """The ten funded accounts of the embedded chain."""
    return [Account.from_key(k) for k in _EMBEDDED_DEV_KEYS]


def save_keystore(account: LocalAccount, path: Path, password: str) -> Path:
    """Encrypt ``account``'s key with ``password`` into a new keystore file at ``path``."""
    if path.exists():
        raise KeystoreError(f"{path} already exists", "choose another path; nothing was written")
    if len(password) < 8:
        raise InvalidValue(
            "password",
            password,
            "it is shorter than 8 characters",
            "choose a longer one",
            secret=True,
        )
    payload = json.dumps(Account.encrypt(account.key, password))
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never overwrite a key; 0600: only the owner may read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(payload)
    return path


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt a keystore file; raise KeystoreError with the reason when it cannot."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise KeystoreError(f"keystore {path} does not exist", "check the path") from exc
    except (OSError, ValueError) as exc:
        raise KeystoreError(
            f"keystore {path} is not a JSON keystore file", "export the key again"
        ) from exc
    try:
        secret = Account.decrypt(data, password)
    except ValueError as exc:
        raise KeystoreError(
            f"cannot decrypt keystore {path}: wrong password or damaged file",
            "try the password again",
        ) from exc
    except (KeyError, TypeError) as exc:
        raise KeystoreError(
            f"keystore {path} lacks fields of the keystore format", "export the key again"
        ) from exc
    account: LocalAccount = Account.from_key(secret)
    return account
