"""Declared model inputs: a `Feature` names one input and what the models may assume
about it, a `FeatureSet` is the ordered inputs of a model (refusing protected
attributes), and `Engineered` is new columns with their declarations.

A feature's risk direction is ``+1`` (a larger value means a larger probability of
default), ``-1`` (a smaller one) or ``0`` (not declared); it may be categorical, carries
labels in en and zh_CN (for reason codes) and names the raw columns it derives from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.domain.errors import InvalidValue, ScoringInputError
from doorstep.scoring.protected import check_allowed

__all__ = ["Engineered", "Feature", "FeatureSet", "declare"]


@dataclass(frozen=True, slots=True)
class Feature:
    """One model input. ``direction``: +1 riskier as it grows, -1 safer, 0 undeclared."""

    name: str
    direction: int = 0
    categorical: bool = False
    label_en: str = ""
    label_zh: str = ""
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidValue("a feature needs a name", message_zh="特征名称不能为空")
        if self.direction not in (-1, 0, 1):
            raise InvalidValue(
                f"feature {self.name!r}: direction must be -1, 0 or +1",
                message_zh=f"特征 {self.name!r}：方向只能是 -1、0 或 +1",
            )
        if self.categorical and self.direction:
            raise InvalidValue(
                f"feature {self.name!r}: a categorical feature has no direction",
                message_zh=f"特征 {self.name!r}：分类特征不能声明方向",
            )

    def label(self, locale: str = "en") -> str:
        """The feature's name for people: zh_CN or en, falling back to the column name."""
        if locale.lower().startswith("zh"):
            return self.label_zh or self.label_en or self.name
        return self.label_en or self.name


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """An ordered set of model inputs; building one refuses protected attributes."""

    features: tuple[Feature, ...]
    _index: dict[str, Feature] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        features = tuple(self.features)
        object.__setattr__(self, "features", features)
        if not features:
            raise InvalidValue("a feature set needs features", message_zh="特征集不能为空")
        names = [f.name for f in features]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise InvalidValue(
                f"duplicated features: {', '.join(duplicated)}",
                message_zh=f"特征重复：{', '.join(duplicated)}",
            )
        check_allowed(names, {f.name: f.sources for f in features})
        object.__setattr__(self, "_index", {f.name: f for f in features})

    @classmethod
    def of(cls, *items: Feature | str | Iterable[Feature | str]) -> FeatureSet:
        """Build from `Feature`s and plain names (undeclared direction, numeric)."""
        flat: list[Feature] = []
        for item in items:
            if isinstance(item, Feature | str):
                flat.append(item if isinstance(item, Feature) else Feature(item))
            else:
                flat.extend(f if isinstance(f, Feature) else Feature(f) for f in item)
        return cls(tuple(flat))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.categorical]

    def __iter__(self) -> Iterator[Feature]:
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> Feature:
        return self._index[name]

    def label(self, name: str, locale: str = "en") -> str:
        return self._index[name].label(locale)

    def without(self, *names: str) -> FeatureSet:
        drop = set(names)
        return FeatureSet(tuple(f for f in self.features if f.name not in drop))

    def frame(self, data: Any) -> pd.DataFrame:
        """The model's input columns of ``data`` (pandas, or polars converted), in order.

        Raises `ScoringInputError` naming every missing column.
        """
        if not isinstance(data, pd.DataFrame):
            to_pandas = getattr(data, "to_pandas", None)
            if to_pandas is None:
                raise ScoringInputError(["expected a pandas or polars DataFrame"])
            data = to_pandas()
        missing = [n for n in self.names if n not in data.columns]
        if missing:
            raise ScoringInputError([f"missing column {n!r}" for n in missing])
        return data[self.names]


def declare(
    features: Iterable[Feature | str],
    *,
    directions: Mapping[str, int] | None = None,
    labels: Mapping[str, tuple[str, str]] | None = None,
    categorical: Iterable[str] = (),
) -> tuple[Feature, ...]:
    """The features with directions, ``(label_en, label_zh)`` labels and the categorical
    flag set where given (names not mentioned are kept as they are)."""
    directions = directions or {}
    labels = labels or {}
    cats = set(categorical)
    out = []
    for item in features:
        f = item if isinstance(item, Feature) else Feature(item)
        en, zh = labels.get(f.name, (f.label_en, f.label_zh))
        out.append(
            replace(
                f,
                direction=0 if f.name in cats else directions.get(f.name, f.direction),
                categorical=f.categorical or f.name in cats,
                label_en=en,
                label_zh=zh,
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Engineered:
    """New columns (same index as the input) and their declarations."""

    frame: pd.DataFrame
    features: tuple[Feature, ...]

    def __add__(self, other: Engineered) -> Engineered:
        return Engineered(
            pd.concat([self.frame, other.frame], axis=1), self.features + other.features
        )
