"""Personal data at rest: encrypt, hash for lookup, mask for display, rotate keys."""

from __future__ import annotations

from sqlalchemy.orm import Session

from doorstep.domain.identity import mask_id_number, mask_phone
from doorstep.domain.ports import Cipher
from doorstep.store.repositories import personal_data as repo


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


__all__ = ["mask_address", "mask_contact", "mask_id_number", "rotate_all"]


def rotate_all(session: Session, cipher: Cipher, batch: int = 2000) -> int:
    """Re-encrypt every stored value under the cipher's primary key, in batches."""
    count = repo.reencrypt_all(session, cipher.rotate, batch)
    session.flush()
    return count
