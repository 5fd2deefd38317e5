"""Seeded randomness for the demo book: the same seed gives the same book."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class Rng:
    """The seeded numpy generator, read in blocks: a numpy call per scalar costs
    microseconds, and a book needs millions of draws."""

    BLOCK = 1 << 16

    def __init__(self, seed: int) -> None:
        self.generator = np.random.default_rng(seed)
        self.uniforms: list[float] = []
        self.normals: list[float] = []

    def random(self) -> float:
        """Uniform in [0, 1)."""
        if not self.uniforms:
            self.uniforms = self.generator.random(self.BLOCK).tolist()[::-1]
        return self.uniforms.pop()

    def integers(self, low: int, high: int | None = None) -> int:
        """Uniform in [low, high), or [0, low) with one argument, as numpy's."""
        low, high = (0, low) if high is None else (low, high)
        return low + int(self.random() * (high - low))

    def normal(self, mean: float, sd: float) -> float:
        if not self.normals:
            self.normals = self.generator.standard_normal(self.BLOCK).tolist()[::-1]
        return mean + sd * self.normals.pop()

    def beta(self, a: float, b: float) -> float:
        return float(self.generator.beta(a, b))


class Choice(Generic[T]):
    """A weighted draw from fixed options, faster than rng.choice for single draws."""

    def __init__(self, options: Sequence[T], weights: Sequence[float]) -> None:
        total = sum(weights)
        self.options = list(options)
        self.bounds = [bound / total for bound in accumulate(weights)]

    def draw(self, rng: Rng) -> T:
        return self.options[min(bisect.bisect_right(self.bounds, rng.random()), len(self) - 1)]

    def __len__(self) -> int:
        return len(self.options)
