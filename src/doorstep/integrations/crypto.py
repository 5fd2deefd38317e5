"""Personal data at rest: Fernet (AES-128-CBC + HMAC-SHA256) with key rotation, and an
HMAC-SHA256 lookup hash for searching by phone or national ID without decrypting."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from doorstep.domain.errors import KeyMaterialError


class FernetCipher:
    """Encrypts with the first key; decrypts with any, so old rows stay readable during a
    rotation until `rotate` has re-encrypted them under the new first key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise KeyMaterialError("at least one data key is needed")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise KeyMaterialError(f"a data key is not a valid Fernet key: {exc}") from None

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise KeyMaterialError(
                "cannot decrypt: the value was encrypted with an unknown key"
            ) from None

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


class HmacHasher:
    def __init__(self, key: str) -> None:
        self._key = key.encode("utf-8")

    def digest(self, plain: str) -> str:
        return hmac.new(self._key, plain.encode("utf-8"), hashlib.sha256).hexdigest()


def new_data_key() -> str:
    return Fernet.generate_key().decode("ascii")


def new_lookup_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def local_keys(folder: Path) -> tuple[list[str], str]:
    """Keys kept in `folder` (created with owner-only permissions on first use): for a
    single-office install and the demo. A deployment sets DOORSTEP_DATA_KEYS instead."""
    folder.mkdir(parents=True, exist_ok=True)
    data, lookup = folder / "data.keys", folder / "lookup.key"
    for path, make in ((data, new_data_key), (lookup, new_lookup_key)):
        if not path.exists():
            path.write_text(make() + "\n", encoding="ascii")
            path.chmod(0o600)
    keys = [k.strip() for k in data.read_text(encoding="ascii").split() if k.strip()]
    return keys, lookup.read_text(encoding="ascii").strip()


def local_secret(path: Path) -> str:
    """A random secret kept in `path` (created owner-only on first use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode("ascii") + "\n")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()
