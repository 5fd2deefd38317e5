"""Build the personal-data cipher, the lookup hasher and the audit keyring from settings."""

from __future__ import annotations

from doorstep.config import Settings
from doorstep.domain.audit import Keyring
from doorstep.domain.errors import KeyMaterialError
from doorstep.integrations.crypto import FernetCipher, HmacHasher, local_keys, local_secret


def personal_data_keys(settings: Settings) -> tuple[FernetCipher, HmacHasher]:
    if settings.data_keys:
        keys = [k.strip() for k in settings.data_keys.split(",") if k.strip()]
        if not settings.lookup_key:
            raise ValueError("DOORSTEP_LOOKUP_KEY must be set together with DOORSTEP_DATA_KEYS")
        return FernetCipher(keys), HmacHasher(settings.lookup_key)
    keys, lookup = local_keys(settings.secrets_dir)
    return FernetCipher(keys), HmacHasher(lookup)


def audit_keyring(settings: Settings) -> Keyring:
    """DOORSTEP_AUDIT_KEY signs, DOORSTEP_AUDIT_OLD_KEYS still verify. Without them (the
    demo, a single-office install) var_dir/secrets/audit.key: its first line signs, the
    lines below it are retired keys."""
    retired = [k.strip() for k in settings.audit_old_keys.split(",") if k.strip()]
    if settings.audit_key:
        signing = settings.audit_key
    else:
        signing, *kept = local_secret(settings.secrets_dir / "audit.key").split()
        retired = kept + retired
    data = (k.strip() for k in settings.data_keys.split(","))
    others = {settings.lookup_key, settings.session_secret, *data}
    if signing in others - {""}:
        raise KeyMaterialError(
            "the audit key must be its own key, not a data, lookup or session key",
            message_zh="审计密钥必须单独设置，不能与数据、查询或会话密钥相同",
        )
    return Keyring.of(signing, retired)
