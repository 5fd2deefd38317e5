"""Payment allocation: conservation of every fen, caps per slot, and waterfall order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorstep.domain.allocation import (
    DEFAULT_WATERFALL,
    Component,
    Owed,
    Waterfall,
    allocate,
)
from doorstep.domain.errors import InvalidValue

owed_amount = st.one_of(st.just(0), st.integers(0, 50), st.integers(0, 5_000_000))
owed_rows = st.lists(
    st.fixed_dictionaries({c: owed_amount for c in Component}), min_size=0, max_size=12
)
waterfalls = st.builds(
    lambda order, by_installment: Waterfall(tuple(order), by_installment),
    st.permutations(list(Component)),
    st.booleans(),
)
any_waterfall = st.one_of(
    st.just(DEFAULT_WATERFALL), st.just(Waterfall(by_installment=False)), waterfalls
)


def amounts_for(owed: list[Owed]) -> st.SearchStrategy[int]:
    total = sum(sum(row.values()) for row in owed)
    return st.one_of(
        st.integers(0, total + 10),
        st.just(total),
        st.integers(0, 10**10),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, list[Owed], Waterfall]:
    owed = draw(owed_rows)
    return draw(amounts_for(owed)), owed, draw(any_waterfall)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_allocation_conserves_every_fen(case: tuple[int, list[Owed], Waterfall]) -> None:
    """Sum of all allocations + unapplied == amount, whatever the waterfall."""
    amount, owed, waterfall = case
    allocations, unapplied = allocate(amount, owed, waterfall)
    assert len(allocations) == len(owed)
    assert sum(sum(a.values()) for a in allocations) + unapplied == amount
    assert unapplied >= 0


@settings(max_examples=300, deadline=None)
@given(cases())
def test_allocation_never_exceeds_what_is_owed(case: tuple[int, list[Owed], Waterfall]) -> None:
    """0 ≤ allocation ≤ owed in every (installment, component) slot; unapplied is positive
    only when every slot is paid in full, and then equals amount − total owed."""
    amount, owed, waterfall = case
    allocations, unapplied = allocate(amount, owed, waterfall)
    for allocation, row in zip(allocations, owed, strict=True):
        assert set(allocation) == set(Component)
        for component in Component:
            assert 0 <= allocation[component] <= row[component]
    total_owed = sum(sum(row.values()) for row in owed)
    assert unapplied == max(0, amount - total_owed)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_allocation_respects_the_waterfall_order(case: tuple[int, list[Owed], Waterfall]) -> None:
    """Walking the slots in waterfall order (by installment: each installment's components
    in order, oldest first; by component: each component across all installments), a slot
    receives money only when every earlier slot is full: the filled slots form a prefix,
    followed by at most one partial slot, then only empty slots."""
    amount, owed, waterfall = case
    allocations, _ = allocate(amount, owed, waterfall)
    slots = waterfall.slots(len(owed))
    if waterfall.by_installment:
        assert slots == [(i, c) for i in range(len(owed)) for c in waterfall.order]
    else:
        assert slots == [(i, c) for c in waterfall.order for i in range(len(owed))]
    short_seen = False
    for index, component in slots:
        got, due = allocations[index][component], owed[index][component]
        if short_seen:
            assert got == 0, f"slot {(index, component)} paid after a short slot"
        if got < due:
            short_seen = True


@settings(max_examples=100, deadline=None)
@given(cases(), st.integers(0, 10**7))
def test_allocation_is_monotone_in_the_amount(
    case: tuple[int, list[Owed], Waterfall], extra: int
) -> None:
    """Paying more never gives any slot less, and paying a + b at once equals paying a and
    then b against what is still owed."""
    amount, owed, waterfall = case
    first, _ = allocate(amount, owed, waterfall)
    more, unapplied_more = allocate(amount + extra, owed, waterfall)
    for a, b in zip(first, more, strict=True):
        assert all(a[c] <= b[c] for c in Component)
    remaining = [{c: row[c] - a[c] for c in Component} for row, a in zip(owed, first, strict=True)]
    second, unapplied_second = allocate(extra, remaining, waterfall)
    for a, b, both in zip(first, second, more, strict=True):
        assert all(a[c] + b[c] == both[c] for c in Component)
    assert allocate(amount, owed, waterfall)[1] + unapplied_second == unapplied_more


def test_default_waterfall_settles_the_oldest_installment_first() -> None:
    """Default: fee → penalty → interest → principal of installment 1, then installment 2."""
    owed = [
        {Component.FEE: 10, Component.PENALTY: 20, Component.INTEREST: 30, Component.PRINCIPAL: 40},
        {Component.FEE: 1, Component.PENALTY: 2, Component.INTEREST: 3, Component.PRINCIPAL: 4},
    ]
    allocations, unapplied = allocate(55, owed)
    assert allocations[0] == {
        Component.FEE: 10,
        Component.PENALTY: 20,
        Component.INTEREST: 25,
        Component.PRINCIPAL: 0,
    }
    assert allocations[1] == dict.fromkeys(Component, 0)
    assert unapplied == 0
    allocations, unapplied = allocate(110, owed)
    assert allocations[1] == {
        Component.FEE: 1,
        Component.PENALTY: 2,
        Component.INTEREST: 3,
        Component.PRINCIPAL: 4,
    }
    assert unapplied == 0
    assert allocate(115, owed)[1] == 5


def test_by_component_waterfall_takes_each_component_across_installments() -> None:
    """by_installment=False pays all fees (oldest first), then all penalty, and so on."""
    owed = [
        {Component.FEE: 10, Component.PENALTY: 20, Component.INTEREST: 30, Component.PRINCIPAL: 40},
        {Component.FEE: 1, Component.PENALTY: 2, Component.INTEREST: 3, Component.PRINCIPAL: 4},
    ]
    allocations, _ = allocate(40, owed, Waterfall(by_installment=False))
    assert [a[Component.FEE] for a in allocations] == [10, 1]
    assert [a[Component.PENALTY] for a in allocations] == [20, 2]
    assert [a[Component.INTEREST] for a in allocations] == [7, 0]
    assert [a[Component.PRINCIPAL] for a in allocations] == [0, 0]


def test_missing_component_counts_as_nothing_owed() -> None:
    """A component absent from an installment's owed dict is owed 0 and receives nothing."""
    allocations, unapplied = allocate(100, [{Component.PRINCIPAL: 60}])
    assert allocations[0][Component.PRINCIPAL] == 60
    assert allocations[0][Component.FEE] == 0
    assert unapplied == 40


@given(st.integers(max_value=-1), owed_rows)
def test_negative_amount_raises(amount: int, owed: list[Owed]) -> None:
    """A negative payment is refused before anything is allocated."""
    with pytest.raises(InvalidValue):
        allocate(amount, owed)


def test_negative_owed_amount_raises() -> None:
    """A negative owed amount reached by the waterfall is refused."""
    with pytest.raises(InvalidValue):
        allocate(10, [{Component.FEE: -1}])


@pytest.mark.parametrize(
    "order",
    [
        (Component.FEE, Component.FEE, Component.INTEREST, Component.PRINCIPAL),  # repeated
        (Component.FEE, Component.PENALTY, Component.INTEREST),  # missing
        (Component.FEE, Component.PENALTY, Component.INTEREST, Component.PRINCIPAL, Component.FEE),
        (),
    ],
)
def test_waterfall_rejects_repeated_or_missing_component(order: tuple[Component, ...]) -> None:
    """A waterfall must name each of the four components exactly once."""
    with pytest.raises(InvalidValue):
        Waterfall(order)


@given(
    st.lists(st.sampled_from(list(Component)), min_size=0, max_size=6).filter(
        lambda order: sorted(order) != sorted(Component)
    ),
    st.booleans(),
)
def test_waterfall_rejects_any_non_permutation(order: list[Component], by_inst: bool) -> None:
    """Any sequence of components that is not a permutation of all four is refused."""
    with pytest.raises(InvalidValue):
        Waterfall(tuple(order), by_inst)


def test_waterfall_parse() -> None:
    """parse reads a comma list (blanks allowed) and refuses unknown or repeated names."""
    parsed = Waterfall.parse("principal, interest,penalty , fee", by_installment=False)
    assert parsed.order == (
        Component.PRINCIPAL,
        Component.INTEREST,
        Component.PENALTY,
        Component.FEE,
    )
    assert parsed.by_installment is False
    assert Waterfall.parse("fee,penalty,interest,principal") == DEFAULT_WATERFALL
    for bad in ["fee,penalty,interest", "fee,fee,interest,principal", "fee,penalty,int,principal"]:
        with pytest.raises(InvalidValue):
            Waterfall.parse(bad)
