"""Property: the trust rules of contact points (`domain.contact`). Trust never rises on
a non-contact (blocked, no answer, busy); evidence decays with time; a confirmed visit
beats an older application; the newest verdict on a value wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from doorstep.domain.contact import (
    ATTEMPT_RULES,
    NON_CONTACTS,
    SOURCE_CONFIDENCE,
    AttemptChannel,
    AttemptResult,
    ContactStatus,
    Evidence,
    after,
    initial_confidence,
    value_trust,
)

NOW = datetime(2026, 3, 9, 12, tzinfo=UTC)
days = st.floats(0, 3000, allow_nan=False)
evidence = st.builds(
    lambda source, status, conf, age: Evidence(source, status, conf, NOW - timedelta(days=age)),
    st.sampled_from(list(SOURCE_CONFIDENCE)),
    st.sampled_from(list(ContactStatus)),
    st.floats(0.01, 1.0),
    days,
)
values = st.lists(evidence, min_size=1, max_size=5)
channels = st.sampled_from(list(AttemptChannel))


@given(values, channels, st.sampled_from(list(AttemptResult)), st.floats(0, 30), st.booleans())
def test_trust_never_rises_on_a_non_contact(
    value: list[Evidence],
    channel: AttemptChannel,
    result: AttemptResult,
    ago: float,
    performed: bool,
) -> None:
    """Blocked (not performed) whatever its result, or performed with no answer or busy:
    every row of the value is moved and its trust at any later time is no higher."""
    if performed and result not in NON_CONTACTS:
        return
    at = NOW - timedelta(days=ago)
    moved = [after(e, channel, result, at, performed=performed) for e in value]
    for later in (NOW, NOW + timedelta(days=400)):
        assert value_trust(moved, later)[0] <= value_trust(value, later)[0] + 1e-12


@given(values, days, days)
def test_evidence_decays_with_time(value: list[Evidence], a: float, b: float) -> None:
    early, late = sorted((a, b))
    assert (
        value_trust(value, NOW + timedelta(days=late))[0]
        <= value_trust(value, NOW + timedelta(days=early))[0]
    )


@given(days, days, st.sampled_from(["unverified", "confirmed"]))
def test_a_confirmed_visit_beats_an_older_application(
    visit_age: float, extra: float, app_status: str
) -> None:
    application = Evidence(
        "application",
        app_status,
        initial_confidence("application", app_status),
        NOW - timedelta(days=visit_age + extra),
    )
    before = Evidence("application", "unverified", 0.6, NOW - timedelta(days=visit_age + extra))
    visited = after(
        before,
        AttemptChannel.FIELD,
        AttemptResult.CONFIRMED,
        NOW - timedelta(days=visit_age),
        performed=True,
    )
    trust, chosen = value_trust([application, visited], NOW)
    assert chosen == 1
    assert trust > value_trust([application], NOW)[0]


@given(values, channels, st.sampled_from([AttemptResult.WRONG_NUMBER, AttemptResult.MOVED]))
def test_the_newest_verdict_wins(
    value: list[Evidence], channel: AttemptChannel, result: AttemptResult
) -> None:
    """A wrong number now kills the value whatever older sources said; a source that
    vouches for it afterwards brings it back."""
    at = max(e.at for e in value)
    dead = [after(e, channel, result, at, performed=True) for e in value]
    assert value_trust(dead, NOW)[0] == 0.0
    again = Evidence("core_banking", "unverified", 0.7, at + timedelta(days=1))
    assert value_trust([*dead, again], NOW)[0] > 0.0


def test_only_contacts_and_definite_answers_are_evidence() -> None:
    assert {r for r, rule in ATTEMPT_RULES.items() if rule.evidence} == {
        AttemptResult.REACHED,
        AttemptResult.CONFIRMED,
        AttemptResult.WRONG_NUMBER,
        AttemptResult.MOVED,
    }
    assert set(ATTEMPT_RULES) == set(AttemptResult)
