"""The model registry: versions stored, one active per purpose, loaded back.

`register` stores a trained bundle as a new version (status ``candidate``); `activate`
makes it the purpose's one ``active`` version (the previous one is retired) and writes an
audit event; old versions stay loadable. The time of each comes from the caller.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import InvalidValue, NotFound
from doorstep.scoring.pipeline import Bundle
from doorstep.scoring.registry import ModelCard, dump_model, load_model
from doorstep.services.conduct import audit
from doorstep.services.scoring.common import require
from doorstep.store.models import ModelVersion
from doorstep.store.repositories import scoring as repo


def register(
    session: Session,
    actor: Actor,
    bundle: Bundle,
    metrics: dict[str, Any],
    data_fingerprint: str,
    *,
    source: str,
    now: datetime,
    params: dict[str, Any] | None = None,
) -> ModelVersion:
    """Store a trained bundle as the purpose's next version, status ``candidate``,
    trained at ``now``."""
    require(actor, Permission.TRAIN_MODELS)
    blob = dump_model(bundle)
    number = repo.next_version(session, bundle.purpose)
    card = _card(bundle, number, metrics, data_fingerprint, actor, now, params or {}, source)
    version = repo.add_version(
        session,
        ModelVersion(
            purpose=bundle.purpose,
            version=number,
            kind=bundle.kind,
            status=repo.CANDIDATE,
            fingerprint=data_fingerprint,
            features=list(bundle.features.names),
            metrics=_json_safe(metrics),
            card=card.to_dict(),
            source=source,
            trained_by=actor.username,
            trained_at=now,
            blob=blob,
            blob_sha256=hashlib.sha256(blob).hexdigest(),
        ),
    )
    auc = float(metrics.get("auc", math.nan))
    audit.record(
        session,
        actor,
        "model.register",
        "model_version",
        version.id,
        {
            "purpose": version.purpose,
            "version": number,
            "kind": version.kind,
            "fingerprint": data_fingerprint,
            "auc": round(auc, 6) if math.isfinite(auc) else None,
        },
    )
    return version


def _card(
    bundle: Bundle,
    number: int,
    metrics: dict[str, Any],
    data_fingerprint: str,
    actor: Actor,
    now: datetime,
    params: dict[str, Any],
    source: str,
) -> ModelCard:
    """The model card: what the version is, its finite numeric metrics only."""
    flat = {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))
    }
    return ModelCard(
        name=bundle.purpose,
        version=str(number),
        fingerprint=data_fingerprint,
        features=tuple(bundle.features.names),
        metrics=flat,
        trained_by=actor.username,
        trained_at=now,
        kind=bundle.kind,
        params=params,
        notes=source,
    )


def _json_safe(value: Any) -> Any:
    """NaN and infinities as None (JSON has none), numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def activate(
    session: Session,
    actor: Actor,
    version_id: int,
    *,
    now: datetime,
    reason: str | None = None,
) -> ModelVersion:
    """Make a version its purpose's one active model at ``now``; the previous one is
    retired."""
    require(actor, Permission.TRAIN_MODELS)
    version = _version(session, version_id)
    if version.status == repo.ACTIVE:
        return version
    previous = repo.retire_active(session, version.purpose, now)
    version.status, version.activated_at, version.retired_at = repo.ACTIVE, now, None
    session.flush()
    audit.record(
        session,
        actor,
        "model.activate",
        "model_version",
        version.id,
        {
            "purpose": version.purpose,
            "version": version.version,
            "fingerprint": version.fingerprint,
            "retired": previous,
        },
        reason=reason,
    )
    return version


def load(version: ModelVersion) -> Bundle:
    """The bundle of a stored version (its bytes checked against their SHA-256)."""
    if hashlib.sha256(version.blob).hexdigest() != version.blob_sha256:
        raise InvalidValue(
            f"model version {version.id}: stored bytes do not match their SHA-256",
            message_zh=f"模型版本 {version.id}：存储的数据与其 SHA-256 不符",
        )
    bundle: Bundle = load_model(version.blob)
    return bundle


def list_models(session: Session, actor: Actor) -> list[ModelVersion]:
    require(actor, Permission.READ_MODELS)
    return repo.list_versions(session)


def get_model(session: Session, actor: Actor, version_id: int) -> ModelVersion:
    require(actor, Permission.READ_MODELS)
    return _version(session, version_id)


def _version(session: Session, version_id: int) -> ModelVersion:
    version = repo.get_version(session, version_id)
    if version is None:
        raise NotFound(f"no model version {version_id}", message_zh=f"没有模型版本 {version_id}")
    return version
