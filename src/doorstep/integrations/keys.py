"""Build the personal-data cipher and lookup hasher from settings."""

from __future__ import annotations

from doorstep.config import Settings
from doorstep.integrations.crypto import FernetCipher, HmacHasher, local_keys


def personal_data_keys(settings: Settings) -> tuple[FernetCipher, HmacHasher]:
    if settings.data_keys:
        keys = [k.strip() for k in settings.data_keys.split(",") if k.strip()]
        if not settings.lookup_key:
            raise ValueError("DOORSTEP_LOOKUP_KEY must be set together with DOORSTEP_DATA_KEYS")
        return FernetCipher(keys), HmacHasher(settings.lookup_key)
    keys, lookup = local_keys(settings.secrets_dir)
    return FernetCipher(keys), HmacHasher(lookup)
