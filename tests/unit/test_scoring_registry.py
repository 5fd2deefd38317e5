"""Model cards, training-data fingerprints and model bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest

from doorstep.domain.errors import InvalidValue
from doorstep.scoring.registry import ModelCard, dump_model, fingerprint, load_model


def frame() -> tuple[pd.DataFrame, np.ndarray]:
    data = pd.DataFrame(
        {
            "a": [1, 2, 3, 4],
            "b": [0.5, np.nan, -0.0, 2.25],
            "c": ["x", None, "东", "y"],
            "unused": [9, 9, 9, 9],
        }
    )
    return data, np.array([0, 1, 0, 1])


def test_fingerprint_is_canonical() -> None:
    data, y = frame()
    first = fingerprint(data, y, ["a", "b", "c"])
    assert first == fingerprint(data, y, ["c", "b", "a"])  # feature order
    assert first == fingerprint(data[["c", "unused", "b", "a"]].copy(), list(y), ["a", "b", "c"])
    as_float = data.astype({"a": "float64"})
    assert first == fingerprint(as_float, y, ["a", "b", "c"])  # int vs float of equal values
    zero = data.copy()
    zero.loc[2, "b"] = 0.0
    assert first == fingerprint(zero, y, ["a", "b", "c"])  # -0.0 == 0.0


def test_fingerprint_changes_with_data_target_and_features() -> None:
    data, y = frame()
    first = fingerprint(data, y, ["a", "b", "c"])
    changed = data.copy()
    changed.loc[0, "a"] = 10
    assert fingerprint(changed, y, ["a", "b", "c"]) != first
    assert fingerprint(data, y[::-1].copy(), ["a", "b", "c"]) != first
    assert fingerprint(data, y, ["a", "b"]) != first
    assert fingerprint(data.iloc[::-1], y[::-1].copy(), ["a", "b", "c"]) != first  # row order
    text = data.copy()
    text.loc[1, "c"] = "None"  # a missing value is not the text "None"
    assert fingerprint(text, y, ["a", "b", "c"]) != first
    with pytest.raises(InvalidValue):
        fingerprint(data, y, ["nope"])


def test_model_card_round_trips_through_json() -> None:
    data, y = frame()
    card = ModelCard(
        name="visit-priority",
        version="2025.07.1",
        fingerprint=fingerprint(data, y, ["a", "b"]),
        features=("a", "b"),
        metrics={"auc": 0.79, "brier": 0.13},
        trained_by="analyst@example.com",
        trained_at=datetime(2025, 7, 1, 8, 30, tzinfo=UTC),
        kind="scorecard",
        params={"pdo": 20},
    )
    back = ModelCard.from_json(card.to_json())
    assert back == card
    made = ModelCard.create(
        name="visit-priority",
        version="2025.07.1",
        data=data,
        target=y,
        features=["a", "b"],
        metrics={"auc": 0.79, "brier": 0.13},
        trained_by="analyst@example.com",
        trained_at=datetime(2025, 7, 1, 8, 30, tzinfo=UTC),
        kind="scorecard",
        params={"pdo": 20},
    )
    assert made == card
    naive = datetime(2025, 7, 1, tzinfo=UTC).replace(tzinfo=None)  # refused: no zone
    with pytest.raises(InvalidValue):
        ModelCard("m", "1", card.fingerprint, (), {}, "me", naive)
    with pytest.raises(InvalidValue):
        ModelCard("m", "1", "abc", (), {}, "me", datetime(2025, 7, 1, tzinfo=UTC))


def test_model_bytes_are_checked() -> None:
    blob = dump_model({"weights": [1.0, 2.0]})
    assert load_model(blob) == {"weights": [1.0, 2.0]}
    with pytest.raises(InvalidValue, match="corrupted"):
        load_model(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(InvalidValue, match="not a doorstep model"):
        load_model(b"\x80\x04K\x01.")
