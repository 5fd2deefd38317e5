"""Payment allocation by a configurable waterfall.

Default (DESIGN §2): fees → penalty → interest → principal, oldest installment first,
i.e. each installment is settled component by component before the next one is touched.
`by_installment=False` instead takes each component across all installments (all fees
oldest first, then all penalty, ...). Money is conserved: allocated + unapplied == amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import Fen


class Component(StrEnum):
    FEE = "fee"
    PENALTY = "penalty"
    INTEREST = "interest"
    PRINCIPAL = "principal"


@dataclass(frozen=True, slots=True)
class Waterfall:
    order: tuple[Component, ...] = (
        Component.FEE,
        Component.PENALTY,
        Component.INTEREST,
        Component.PRINCIPAL,
    )
    by_installment: bool = True

    def __post_init__(self) -> None:
        if sorted(self.order) != sorted(Component):
            raise InvalidValue(
                f"waterfall must name each component once, got {[c.value for c in self.order]}",
                message_zh="还款顺序必须恰好包含每个科目一次",
            )

    @classmethod
    def parse(cls, text: str, *, by_installment: bool = True) -> Waterfall:
        """'fee,penalty,interest,principal' -> Waterfall."""
        try:
            order = tuple(Component(part.strip()) for part in text.split(","))
        except ValueError as exc:
            raise InvalidValue(f"unknown component in waterfall {text!r}") from exc
        return cls(order, by_installment)

    def slots(self, installments: int) -> list[tuple[int, Component]]:
        """(installment index, component) in the order money flows into them."""
        if self.by_installment:
            return [(i, c) for i in range(installments) for c in self.order]
        return [(i, c) for c in self.order for i in range(installments)]


DEFAULT_WATERFALL = Waterfall()

Owed = dict[Component, Fen]


def allocate(
    amount: Fen, owed: Sequence[Owed], waterfall: Waterfall = DEFAULT_WATERFALL
) -> tuple[list[Owed], Fen]:
    """Split `amount` over what each installment owes; returns (allocations, unapplied)."""
    if amount < 0:
        raise InvalidValue("a payment cannot be negative", message_zh="还款金额不能为负")
    allocations: list[Owed] = [dict.fromkeys(Component, 0) for _ in owed]
    left = amount
    for index, component in waterfall.slots(len(owed)):
        if left == 0:
            break
        due = owed[index].get(component, 0)
        if due < 0:
            raise InvalidValue(f"owed amount cannot be negative: {component} {due}")
        take = min(due, left)
        allocations[index][component] = take
        left -= take
    return allocations, left
