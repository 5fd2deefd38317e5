"""Personal data at rest: encrypt, hash for lookup, mask for display, rotate keys.

Free texts about a person (interview answers, borrowers' statements, contact notes),
precise positions and the ingest change log are stored sealed: the helpers here turn
them into ciphertext and back. Only the process that needs a value opens it (a page with
its access rules, the planner, the check-in); nothing opened is written back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from doorstep.domain.errors import KeyMaterialError
from doorstep.domain.identity import mask_id_number, mask_phone
from doorstep.domain.ports import Cipher, KeyedHasher
from doorstep.store.repositories import personal_data as repo

Position = tuple[float, float]


def need(cipher: Cipher | None) -> Cipher:
    """The cipher, or a clear refusal: sealed data is never written or read without it."""
    if cipher is None:
        raise KeyMaterialError("the personal-data keys are needed here and were not given")
    return cipher


def seal(cipher: Cipher | None, text: str | None) -> str | None:
    return None if text is None else need(cipher).encrypt(text)


def seal_json(cipher: Cipher | None, document: Any) -> str | None:
    if document is None:
        return None
    return need(cipher).encrypt(json.dumps(document, ensure_ascii=False, sort_keys=True))


def unseal_json(cipher: Cipher | None, token: str | None) -> Any:
    return None if token is None else json.loads(need(cipher).decrypt(token))


def position_text(lat: float, lng: float) -> str:
    """A position as the text that is sealed and hashed: exact floats, 'lat,lng'."""
    return f"{float(lat)!r},{float(lng)!r}"


def seal_position(cipher: Cipher | None, lat: float | None, lng: float | None) -> str | None:
    if lat is None or lng is None:
        return None
    return need(cipher).encrypt(position_text(lat, lng))


def unseal_position(cipher: Cipher | None, token: str | None) -> Position | None:
    if token is None:
        return None
    lat, lng = need(cipher).decrypt(token).split(",")
    return float(lat), float(lng)


def unseal_positions(cipher: Cipher | None, tokens: Iterable[str | None]) -> list[Position | None]:
    """Many positions at once (the planner's addresses of a day)."""
    return [unseal_position(cipher, token) for token in tokens]


def mask_address(text: str, province: str | None, city: str | None, district: str | None) -> str:
    """The region only: '北京市朝阳区****'."""
    region = "".join(dict.fromkeys(p for p in (province, city, district) if p))
    return (region or text[:3]) + "****"


def mask_contact(
    channel: str,
    value: str,
    province: str | None = None,
    city: str | None = None,
    district: str | None = None,
) -> str:
    return (
        mask_phone(value) if channel == "phone" else mask_address(value, province, city, district)
    )


__all__ = [
    "Position",
    "mask_address",
    "mask_contact",
    "mask_id_number",
    "need",
    "position_text",
    "rotate_all",
    "seal",
    "seal_json",
    "seal_position",
    "unseal_json",
    "unseal_position",
    "unseal_positions",
]


def rotate_all(
    session: Session, cipher: Cipher, batch: int = 2000, hasher: KeyedHasher | None = None
) -> int:
    """Re-encrypt every stored value under the cipher's primary key and scheme, in
    batches; with `hasher`, recompute the lookup hashes too (after a change of scheme,
    whose lookup hash differs)."""
    count = repo.reencrypt_all(session, cipher.rotate, batch)
    if hasher is not None:
        repo.rehash_all(session, cipher.decrypt, hasher.digest, batch)
    session.flush()
    return count
