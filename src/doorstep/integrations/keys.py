"""Build the personal-data cipher, the lookup hasher and the audit keyring from settings,
and say where the keys are kept when that place is unsafe."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from doorstep.config import Settings
from doorstep.domain.audit import Keyring
from doorstep.domain.errors import KeyMaterialError
from doorstep.integrations.crypto import DataCipher, HmacHasher, local_keys, local_secret

log = logging.getLogger(__name__)

LEGACY_FOLDER = "secrets"
"""The keys' folder inside var_dir before they moved beside it."""


def personal_data_keys(settings: Settings) -> tuple[DataCipher, HmacHasher]:
    if settings.data_keys:
        keys = [k.strip() for k in settings.data_keys.split(",") if k.strip()]
        if not settings.lookup_key:
            raise ValueError("DOORSTEP_LOOKUP_KEY must be set together with DOORSTEP_DATA_KEYS")
        return DataCipher(keys, settings.cipher), HmacHasher(settings.lookup_key, settings.cipher)
    move_legacy_secrets(settings)
    keys, lookup = local_keys(settings.secrets_dir)
    return DataCipher(keys, settings.cipher), HmacHasher(lookup, settings.cipher)


def move_legacy_secrets(settings: Settings) -> None:
    """Keys an earlier version kept in var_dir/secrets move to the configured folder the
    first time they are needed (only when that folder holds no keys of its own)."""
    legacy = settings.var_dir / LEGACY_FOLDER
    target = settings.secrets_dir
    if legacy.absolute() == target.absolute() or not (legacy / "data.keys").exists():
        return
    if (target / "data.keys").exists():
        return
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    for item in legacy.iterdir():
        shutil.move(str(item), target / item.name)
    legacy.rmdir()
    log.warning("keys moved out of the data folder: %s -> %s", legacy, target)


def key_location_warnings(settings: Settings) -> list[str]:
    """Why the keys' place is unsafe: a folder inside the data's folder means a copy of
    the data (a backup, a stolen disk image) carries its keys. Empty for the demo and when
    the keys come from the environment."""
    if settings.demo or settings.data_keys:
        return []
    keys = settings.secrets_dir.absolute()
    return [
        f"the personal-data keys ({keys}) are inside the data folder {folder}: whoever "
        "copies that folder can decrypt it; set DOORSTEP_SECRETS_DIR elsewhere or give the "
        "keys in DOORSTEP_DATA_KEYS / DOORSTEP_LOOKUP_KEY (docs/deployment.md)"
        for folder in dict.fromkeys(settings.data_folders)
        if _inside(keys, folder)
    ]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def audit_keyring(settings: Settings) -> Keyring:
    """DOORSTEP_AUDIT_KEY signs, DOORSTEP_AUDIT_OLD_KEYS still verify. Without them (the
    demo, a single-office install) secrets_dir/audit.key, beside var_dir: its first line
    signs, the lines below it are retired keys."""
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
