"""Restructuring a regulator and a borrower would accept: arrears never lent again at
interest (waived, or a separate interest-free balance), capitalisation only where the
jurisdiction's pack allows it, the cap tested on the amount really financed, upfront fees
in the rate, both rates (PBOC annualised and effective), settlements as discounts."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from doorstep.domain.errors import InvalidValue, PackError
from doorstep.domain.plans import (
    ArrearsPolicy,
    Debt,
    OptionKind,
    PlanRules,
    Terms,
    build_option,
    installed_rows,
    options_for,
)
from doorstep.domain.rates import quote, rates_of
from doorstep.domain.rules import capitalisation_allowed
from doorstep.domain.rules import load as load_pack

START = date(2024, 2, 15)
RATE = Decimal("0.18")
# 22,500.00 principal and 5,595.03 of arrears: 3,000.00 overdue interest, 2,595.03 penalty
DEBT = Debt("L1", 2_250_000, 300_000, 0, 259_503, RATE, 12)
RESCHEDULE = Terms(OptionKind.RESCHEDULE, 12, RATE)
SEPARATE, WAIVE = PlanRules(), PlanRules(arrears=ArrearsPolicy.WAIVE)


def test_arrears_kept_apart_bear_no_interest() -> None:
    option = build_option(DEBT, RESCHEDULE, START, rules=SEPARATE)
    assert option.base == 2_250_000  # not 2,809,503: the arrears are not lent again
    assert option.arrears_balance == 559_503 and option.concession == 0
    alone = build_option(Debt("L1", 2_250_000, 0, 0, 0, RATE, 12), RESCHEDULE, START)
    assert option.total_interest == alone.total_interest  # interest on the principal only
    assert [r.arrears_due for r in option.schedule] == [46_625] * 11 + [559_503 - 11 * 46_625]
    assert option.total_to_pay == 2_250_000 + option.total_interest + 559_503
    assert option.annualised_rate == Decimal("18.00") and option.effective_rate == Decimal("19.56")


def test_arrears_waived_by_the_setting() -> None:
    option = build_option(DEBT, RESCHEDULE, START, rules=WAIVE)
    assert option.base == 2_250_000 and option.arrears_balance == 0
    assert option.concession == 559_503
    assert option.total_to_pay == 2_250_000 + option.total_interest


def test_capitalisation_only_where_the_pack_allows_and_then_measured_on_the_principal() -> None:
    capitalising = Terms(OptionKind.RESCHEDULE, 12, RATE, capitalise=True)
    with pytest.raises(InvalidValue, match="capitalise"):
        build_option(DEBT, capitalising, START, rules=SEPARATE)
    allowed = PlanRules(capitalisation_allowed=True)
    option = build_option(DEBT, capitalising, START, rules=allowed)
    assert option.base == 2_809_503 and option.capitalised == 559_503
    # the cap is tested on the 22,500 really financed: interest on interest shows, and fails
    assert option.financed == 2_250_000
    assert option.annualised_rate is not None and option.annualised_rate > 60
    assert option.refused is not None and "22500.00 financed" in option.refused
    assert "实际融资额" in (option.refused_zh or "")
    menu = options_for([DEBT], START, rules=SEPARATE).options["L1"]
    assert not any(o.terms.capitalise for o in menu)  # never on the menu where not allowed
    menu = options_for([DEBT], START, rules=allowed).options["L1"]
    assert any(o.terms.capitalise for o in menu)


def test_every_shipped_pack_keeps_arrears_out_of_interest() -> None:
    for jurisdiction in ("cn", "us", "uk"):
        assert capitalisation_allowed(load_pack(jurisdiction)) is False
    allow = ("site.toml", "[rules.CN-ARREARS-CAPITALISATION.params]\ncapitalise_arrears = true\n")
    assert capitalisation_allowed(load_pack("cn", allow)) is True
    wrong = ("site.toml", '[rules.CN-ARREARS-CAPITALISATION.params]\ncapitalise_arrears = "yes"\n')
    with pytest.raises(PackError, match="capitalise_arrears"):
        load_pack("cn", wrong)


def test_an_upfront_fee_is_part_of_the_rate_and_can_cross_the_cap() -> None:
    plain = build_option(DEBT, RESCHEDULE, START)
    with_fee = build_option(DEBT, Terms(OptionKind.RESCHEDULE, 12, RATE, upfront_fee=90_000), START)
    assert with_fee.financed == 2_250_000 - 90_000
    assert with_fee.total_fees == 90_000
    assert with_fee.total_to_pay == plain.total_to_pay + 90_000
    assert with_fee.annualised_rate == rates_of(with_fee.cash_flows()).annualised
    assert plain.refused is None and with_fee.refused is not None  # 18% nominal, over 24%
    assert with_fee.annualised_rate is not None and with_fee.annualised_rate > 24
    with pytest.raises(InvalidValue, match="upfront_fee"):
        build_option(DEBT, Terms(OptionKind.RESCHEDULE, 12, RATE, upfront_fee=2_250_000), START)


def test_the_fee_is_due_the_day_the_plan_is_agreed() -> None:
    option = build_option(DEBT, Terms(OptionKind.RESCHEDULE, 12, RATE, upfront_fee=90_000), START)
    rows = installed_rows(option.to_json()["schedule"], 90_000, date(2024, 1, 20))
    assert (rows[0].seq, rows[0].due_on, rows[0].amount_due) == (1, date(2024, 1, 20), 90_000)
    assert [r.seq for r in rows] == list(range(1, 14))
    # the separate balance rides in the fee column, which bears no interest or penalty
    assert sum(r.fee_due for r in rows) == 90_000 + 559_503
    assert sum(r.amount_due for r in rows) == option.total_to_pay


def test_the_pboc_example_upfront_fee_means_less_in_hand() -> None:
    """PBOC announcement [2021] No. 3: 100,000 lent, 1,000 fee upfront, 12 × 8,833.30."""
    found = quote(10_000_000, 100_000, [883_330] * 12)
    assert found.financed == 9_900_000 and found.rates is not None
    assert found.rates.annualised == Decimal("12.80")
    assert found.rates.effective == Decimal("13.58")
    assert found.discount is None
    # the other readings of the fee give other figures: 10.90% without it
    no_fee = quote(10_000_000, 0, [883_330] * 12).rates
    assert no_fee is not None and no_fee.annualised == Decimal("10.90")


def test_a_settlement_quote_has_a_discount_and_no_rate() -> None:
    found = quote(10_000_000, 0, [4_000_000, 4_000_000])
    assert found.rates is None and found.discount == 2_000_000
    assert found.discount_share == Decimal("20.00")
    with pytest.raises(InvalidValue, match="fee"):
        quote(10_000_000, 10_000_000, [1])
    with pytest.raises(InvalidValue, match="payments"):
        quote(10_000_000, 0, [0, 0])


def test_the_quote_command_prints_both_rates_or_a_discount() -> None:
    from typer.testing import CliRunner

    from doorstep.cli.main import app

    runner = CliRunner()
    args = ["offers", "quote", "--amount", "100000", "--fee", "1000", "--payments", "12x8833.30"]
    credit = runner.invoke(app, args)
    assert credit.exit_code == 0, credit.output
    assert "99000.00 financed" in credit.output
    assert re.search(r"Annualised rate \(monthly IRR x 12, PBOC .*\): 12\.80%", credit.output)
    assert re.search(r"Effective annual rate .*: 13\.58%", credit.output)
    settlement = runner.invoke(
        app, ["offers", "quote", "--amount", "100000", "--payments", "80000"]
    )
    assert settlement.exit_code == 0, settlement.output
    assert "a discount of 20000.00" in settlement.output
    assert "Annualised" not in settlement.output and "Effective" not in settlement.output
    bad = runner.invoke(app, ["offers", "quote", "--amount", "100000", "--payments", "12x-1"])
    assert bad.exit_code == 1 and "payments" in bad.output


def test_the_setting_and_the_pack_reach_every_offer(tmp_path: Path) -> None:
    from doorstep.config import Settings
    from doorstep.services.repayment.offers import policy_from

    default = policy_from(Settings(var_dir=tmp_path))
    assert default.rules == PlanRules(Decimal("0.24"), ArrearsPolicy.SEPARATE, False)
    override = tmp_path / "site.toml"
    override.write_text("[rules.CN-ARREARS-CAPITALISATION.params]\ncapitalise_arrears = true\n")
    chosen = policy_from(Settings(var_dir=tmp_path, repayment_arrears="waive", rules_file=override))
    assert chosen.rules.arrears is ArrearsPolicy.WAIVE and chosen.rules.capitalisation_allowed
