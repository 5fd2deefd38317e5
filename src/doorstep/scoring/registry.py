"""Model cards and model bytes: what a trained model is, and how it travels.

Pure: no database and no files. A `ModelCard` records the version, the training-data
fingerprint, the features, the metrics, who trained it and when; `dump_model` /
`load_model` turn a fitted model into bytes and back (pickle inside a checked envelope:
load only bytes this system wrote). Persisting both belongs to the store layer.

The fingerprint is the SHA-256 of a canonical form of the training data: the feature list
(sorted), then for each feature in that order its name, a type tag and its values (floats
as IEEE-754 little-endian doubles with one NaN for every missing value, anything else as
UTF-8 text), then the 0/1 target. Row order counts; column order, pandas dtypes of equal
values (int vs float) and memory layout do not.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.domain.errors import InvalidValue
from doorstep.scoring.base import as_target

__all__ = ["ModelCard", "dump_model", "fingerprint", "load_model"]

_MAGIC = b"DOORSTEP-MODEL\x00"
_FORMAT = 1


def _column_bytes(values: pd.Series) -> tuple[bytes, bytes]:
    """(type tag, canonical bytes) of one column."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        as_float = np.asarray(values, dtype=np.float64).copy()
        as_float[np.isnan(as_float)] = np.nan  # one NaN bit pattern
        as_float[as_float == 0] = 0.0  # -0.0 == 0.0
        return b"f8", as_float.astype("<f8").tobytes()
    parts = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            parts.append(b"\x00N")
        else:
            text = str(v).encode("utf-8")
            parts.append(struct.pack("<Q", len(text)) + text)
    return b"txt", b"".join(parts)


def fingerprint(data: Any, target: Any, features: Iterable[str]) -> str:
    """SHA-256 (hex) of the canonicalised training frame, target and feature list."""
    names = sorted(features)
    frame = data if isinstance(data, pd.DataFrame) else data.to_pandas()
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidValue(
            f"fingerprint: missing columns {missing}", message_zh=f"指纹：缺少列 {missing}"
        )
    y = as_target(target, len(frame))
    digest = hashlib.sha256()
    digest.update(b"doorstep-training-data/1\n")
    digest.update(json.dumps(names, ensure_ascii=False).encode("utf-8") + b"\n")
    digest.update(struct.pack("<Q", len(frame)))
    for name in names:
        tag, payload = _column_bytes(frame[name])
        encoded = name.encode("utf-8")
        digest.update(struct.pack("<Q", len(encoded)) + encoded + tag + b"\n")
        digest.update(struct.pack("<Q", len(payload)) + payload)
    digest.update(b"target\n" + y.astype("<i1").tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ModelCard:
    """What one trained model is. ``trained_at`` must be timezone-aware."""

    name: str
    version: str
    fingerprint: str
    features: tuple[str, ...]
    metrics: Mapping[str, float]
    trained_by: str
    trained_at: datetime
    kind: str = ""  # "scorecard", "challenger", ...
    params: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        if self.trained_at.tzinfo is None or self.trained_at.utcoffset() is None:
            raise InvalidValue(
                "trained_at must be timezone-aware", message_zh="trained_at 必须带时区"
            )
        if len(self.fingerprint) != 64:
            raise InvalidValue(
                "fingerprint must be a SHA-256 hex digest",
                message_zh="指纹必须是 SHA-256 十六进制摘要",
            )
        object.__setattr__(self, "features", tuple(self.features))

    @classmethod
    def create(
        cls,
        *,
        name: str,
        version: str,
        data: Any,
        target: Any,
        features: Iterable[str],
        metrics: Mapping[str, float],
        trained_by: str,
        trained_at: datetime,
        kind: str = "",
        params: Mapping[str, Any] | None = None,
        notes: str = "",
    ) -> ModelCard:
        """A card for a model trained on ``data[features]`` and ``target`` (fingerprinted)."""
        names = tuple(features)
        return cls(
            name=name,
            version=version,
            fingerprint=fingerprint(data, target, names),
            features=names,
            metrics=dict(metrics),
            trained_by=trained_by,
            trained_at=trained_at,
            kind=kind,
            params=dict(params or {}),
            notes=notes,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "features": list(self.features),
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "trained_by": self.trained_by,
            "trained_at": self.trained_at.isoformat(),
            "kind": self.kind,
            "params": dict(self.params),
            "notes": self.notes,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ModelCard:
        return cls(
            name=str(raw["name"]),
            version=str(raw["version"]),
            fingerprint=str(raw["fingerprint"]),
            features=tuple(raw["features"]),
            metrics={str(k): float(v) for k, v in raw["metrics"].items()},
            trained_by=str(raw["trained_by"]),
            trained_at=datetime.fromisoformat(raw["trained_at"]),
            kind=str(raw.get("kind", "")),
            params=dict(raw.get("params", {})),
            notes=str(raw.get("notes", "")),
        )

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        return cls.from_dict(json.loads(text))


def dump_model(model: object) -> bytes:
    """A fitted model as bytes: magic, format, SHA-256 of the payload, pickled payload."""
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    return _MAGIC + struct.pack("<H", _FORMAT) + hashlib.sha256(payload).digest() + payload


def load_model(blob: bytes) -> Any:
    """The model `dump_model` wrote; refuses other bytes and corrupted payloads.

    Unpickling runs code: only load bytes that this system produced and stored.
    """
    head = len(_MAGIC) + 2 + 32
    if len(blob) < head or not blob.startswith(_MAGIC):
        raise InvalidValue("not a doorstep model", message_zh="不是 doorstep 模型数据")
    (fmt,) = struct.unpack("<H", blob[len(_MAGIC) : len(_MAGIC) + 2])
    if fmt != _FORMAT:
        raise InvalidValue(f"unsupported model format {fmt}", message_zh=f"不支持的模型格式 {fmt}")
    checksum, payload = blob[len(_MAGIC) + 2 : head], blob[head:]
    if hashlib.sha256(payload).digest() != checksum:
        raise InvalidValue("model bytes are corrupted", message_zh="模型数据已损坏")
    return pickle.loads(payload)
