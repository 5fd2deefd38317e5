"""Personal data at rest: authenticated encryption with key rotation, and a keyed lookup
hash for searching by phone or national ID without decrypting.

Two schemes, chosen by `DOORSTEP_CIPHER`:

- ``aes`` (default): Fernet (AES-128-CBC + HMAC-SHA256); lookup hash HMAC-SHA256.
- ``sm4`` (国密, for a commercial-cryptography review): SM4-CBC + HMAC-SM3, encrypt then
  MAC, with subkeys derived from the data key by HKDF-SM3; lookup hash HMAC-SM3.

Every value says its scheme: an SM4 value starts with ``sm4:``, a Fernet token with its
own version byte (``gAAAAA`` once in base64). Reading dispatches on that, so a database
half-way through a change of scheme (`doorstep admin rotate-keys` re-encrypts the rest)
stays readable. A data key is 32 random bytes in URL-safe base64 for either scheme.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from doorstep.domain.errors import KeyMaterialError

Scheme = Literal["aes", "sm4"]
SCHEMES: tuple[Scheme, ...] = ("aes", "sm4")
SM4_PREFIX = "sm4:"
_SM4_VERSION = b"\x01"


class _Sm4Key:
    """SM4-CBC + HMAC-SM3 under subkeys derived from one 32-byte data key."""

    def __init__(self, raw: bytes) -> None:
        derived = HKDF(hashes.SM3(), 32, salt=None, info=b"doorstep sm4-cbc hmac-sm3").derive(raw)
        self._enc, self._mac = derived[:16], derived[16:]

    def _tag(self, body: bytes) -> bytes:
        mac = crypto_hmac.HMAC(self._mac, hashes.SM3())
        mac.update(body)
        return mac.finalize()

    def seal(self, plain: bytes) -> bytes:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plain) + padder.finalize()
        encryptor = Cipher(algorithms.SM4(self._enc), modes.CBC(iv)).encryptor()
        body = _SM4_VERSION + iv + encryptor.update(padded) + encryptor.finalize()
        return body + self._tag(body)

    def open(self, sealed: bytes) -> bytes | None:
        """The plain bytes, or None when this key did not seal them."""
        body, tag = sealed[:-32], sealed[-32:]
        mac = crypto_hmac.HMAC(self._mac, hashes.SM3())
        mac.update(body)
        try:
            mac.verify(tag)
        except InvalidSignature:
            return None
        iv, data = body[1:17], body[17:]
        decryptor = Cipher(algorithms.SM4(self._enc), modes.CBC(iv)).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()


def _raw_key(key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise KeyMaterialError("a data key must be 32 bytes in URL-safe base64")
    return raw


class DataCipher:
    """Encrypts with the first key under the chosen scheme; decrypts a value of either
    scheme under any key, so old rows stay readable during a rotation or a change of
    scheme until `rotate` has re-encrypted them."""

    def __init__(self, keys: list[str], scheme: Scheme = "aes") -> None:
        if not keys:
            raise KeyMaterialError("at least one data key is needed")
        if scheme not in SCHEMES:
            raise KeyMaterialError(f"unknown cipher {scheme!r}: choose aes or sm4")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise KeyMaterialError(f"a data key is not a valid key: {exc}") from None
        self._sm4 = [_Sm4Key(_raw_key(k)) for k in keys]
        self.scheme: Scheme = scheme

    def encrypt_bytes(self, plain: bytes) -> bytes:
        if self.scheme == "sm4":
            return SM4_PREFIX.encode() + base64.urlsafe_b64encode(self._sm4[0].seal(plain))
        return self._fernet.encrypt(plain)

    def decrypt_bytes(self, token: bytes) -> bytes:
        if token.startswith(SM4_PREFIX.encode()):
            try:
                sealed = base64.urlsafe_b64decode(token[len(SM4_PREFIX) :])
            except (binascii.Error, ValueError):
                sealed = b""
            for key in self._sm4 if len(sealed) >= 1 + 16 + 16 + 32 else ():
                plain = key.open(sealed)
                if plain is not None:
                    return plain
        else:
            try:
                return self._fernet.decrypt(token)
            except InvalidToken:
                pass
        raise KeyMaterialError("cannot decrypt: the value was encrypted with an unknown key")

    def encrypt(self, plain: str) -> str:
        return self.encrypt_bytes(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        return self.decrypt_bytes(token.encode("ascii")).decode("utf-8")

    def rotate(self, token: str) -> str:
        """The same value under the first key and the chosen scheme."""
        return self.encrypt(self.decrypt(token))


FernetCipher = DataCipher
"""The name of the cipher before SM4 was offered beside Fernet."""


class HmacHasher:
    """A keyed lookup hash: HMAC-SHA256 (aes) or HMAC-SM3 (sm4), as hex."""

    def __init__(self, key: str, scheme: Scheme = "aes") -> None:
        self._key = key.encode("utf-8")
        self.scheme: Scheme = scheme

    def digest(self, plain: str) -> str:
        if self.scheme == "sm4":
            mac = crypto_hmac.HMAC(self._key, hashes.SM3())
            mac.update(plain.encode("utf-8"))
            return mac.finalize().hex()
        return hmac.new(self._key, plain.encode("utf-8"), hashlib.sha256).hexdigest()


def new_data_key() -> str:
    return Fernet.generate_key().decode("ascii")


def new_lookup_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def local_keys(folder: Path) -> tuple[list[str], str]:
    """Keys kept in `folder` (created with owner-only permissions on first use): for a
    single-office install and the demo. A deployment sets DOORSTEP_DATA_KEYS instead."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    data, lookup = folder / "data.keys", folder / "lookup.key"
    for path, make in ((data, new_data_key), (lookup, new_lookup_key)):
        if not path.exists():
            path.write_text(make() + "\n", encoding="ascii")
            path.chmod(0o600)
    keys = [k.strip() for k in data.read_text(encoding="ascii").split() if k.strip()]
    return keys, lookup.read_text(encoding="ascii").strip()


def local_secret(path: Path) -> str:
    """A random secret kept in `path` (created owner-only on first use)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode("ascii") + "\n")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()
