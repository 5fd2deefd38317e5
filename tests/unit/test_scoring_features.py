"""Scoring inputs: protected attributes are refused, declarations and engineering hold."""

from __future__ import annotations

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest

from doorstep.domain.errors import InvalidValue, ProtectedFeatureError
from doorstep.scoring import Feature, FeatureSet, protected_attribute
from doorstep.scoring.features import (
    cap_sentinels,
    check_allowed,
    debt_and_income,
    declare,
    row_slope,
    safe_ratio,
    statement_history,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("SEX", "sex"),
        ("gender", "sex"),
        ("AGE", "age"),
        ("age", "age"),
        ("borrower_age", "age"),
        ("AgeAtApplication", "age"),
        ("birth_date", "age"),
        ("MARRIAGE", "marital_status"),
        ("MaritalStatus", "marital_status"),
        ("ethnicity", "ethnicity"),
        ("household_registration_region", "household_registration"),
        ("hukou_province", "household_registration"),
        ("id_number", "national_id"),
        ("性别", "sex"),
        ("年龄", "age"),
        ("婚姻状况", "marital_status"),
        ("民族", "ethnicity"),
        ("户籍所在地", "household_registration"),
    ],
)
def test_protected_names_are_recognised(name: str, key: str) -> None:
    assert protected_attribute(name) == key


@pytest.mark.parametrize(
    "name",
    ["usage", "account_age", "PAY_AMT1", "mortgage", "average_bill", "NumberOfDependents",
     "LIMIT_BAL", "DebtRatio", "storage_fee", "page_views", "逾期天数"],
)  # fmt: skip
def test_ordinary_names_pass(name: str) -> None:
    assert protected_attribute(name) is None


def test_protected_attributes_are_refused_as_model_input() -> None:
    with pytest.raises(ProtectedFeatureError) as caught:
        FeatureSet.of("LIMIT_BAL", "SEX", "AGE", "MARRIAGE")
    err = caught.value
    assert err.code == "protected_feature"
    assert set(err.offending) == {"SEX", "AGE", "MARRIAGE"}
    assert "SEX" in str(err) and "受保护属性" in err.message_zh


def test_features_derived_from_protected_attributes_are_refused() -> None:
    derived = Feature("income_x_years", sources=("MonthlyIncome", "age"))
    with pytest.raises(ProtectedFeatureError, match="derived from 'age'"):
        FeatureSet.of("MonthlyIncome", derived)
    with pytest.raises(ProtectedFeatureError):
        check_allowed(["ok"], {"ok": ["gender"]})


def test_models_refuse_protected_inputs_before_touching_data() -> None:
    from doorstep.scoring.challenger import ChallengerModel

    with pytest.raises(ProtectedFeatureError):
        ChallengerModel(FeatureSet.of("x", "gender"))


def test_feature_declarations_are_checked() -> None:
    with pytest.raises(InvalidValue):
        Feature("x", direction=2)
    with pytest.raises(InvalidValue):
        Feature("x", direction=1, categorical=True)
    with pytest.raises(InvalidValue, match="duplicated"):
        FeatureSet.of("x", "x")
    fs = FeatureSet(declare(["a", "b"], directions={"a": 1}, labels={"b": ("bee", "蜂")}))
    assert fs["a"].direction == 1
    assert fs.label("b", "zh_CN") == "蜂"
    assert fs.label("b") == "bee"
    assert fs.label("a", "zh_CN") == "a"


def test_safe_ratio_and_slope() -> None:
    out = safe_ratio([1.0, 1.0, 1.0, np.nan], [2.0, 0.0, -1.0, 1.0], upper=0.4)
    assert out[0] == pytest.approx(0.4)
    assert np.isnan(out[1:]).all()
    assert row_slope(np.array([[1.0, 2.0, 3.0], [3.0, 3.0, 3.0]])) == pytest.approx([1.0, 0.0])


def test_statement_history_features() -> None:
    frame = pd.DataFrame(
        {
            "s1": [2, -1], "s2": [1, -1], "s3": [0, -2],
            "b1": [900.0, 100.0], "b2": [800.0, 100.0], "b3": [700.0, 0.0],
            "p1": [0.0, 100.0], "p2": [100.0, 0.0], "p3": [50.0, 0.0],
            "limit": [1000.0, 1000.0],
        }
    )  # fmt: skip
    eng = statement_history(
        frame,
        status=["s1", "s2", "s3"],
        balance=["b1", "b2", "b3"],
        paid=["p1", "p2", "p3"],
        limit="limit",
        status_codes={-1: ("duly", "paid duly", "按时还款")},
    )
    out = eng.frame
    assert list(out["months_late"]) == [2, 0]
    assert list(out["late_streak"]) == [2, 0]
    assert list(out["months_duly"]) == [0, 2]
    assert out.loc[0, "pay_ratio_1"] == pytest.approx(0.0)  # paid 0 of the 800 bill
    assert out.loc[1, "pay_ratio_1"] == pytest.approx(1.0)
    assert np.isnan(out.loc[1, "pay_ratio_2"])  # previous bill was 0
    assert out.loc[0, "utilisation_1"] == pytest.approx(0.9)
    assert out.loc[0, "utilisation_trend"] == pytest.approx(0.1)  # rising 0.7 -> 0.9
    assert {f.name for f in eng.features} == set(out.columns)
    assert all(f.label_zh for f in eng.features)


def test_sentinels_and_debt_features() -> None:
    frame = pd.DataFrame(
        {"late": [0, 96, 2], "ratio": [0.5, 0.2, 3000.0], "income": [1000.0, 5000.0, np.nan]}
    )
    capped = cap_sentinels(frame, ["late"])
    assert np.isnan(capped.frame.loc[1, "late_capped"])
    assert list(capped.frame["sentinel_code"]) == [0, 1, 0]
    debt = debt_and_income(frame, debt_ratio="ratio", income="income").frame
    assert debt.loc[0, "debt_amount"] == pytest.approx(500.0)
    assert debt.loc[2, "debt_no_income"] == pytest.approx(3000.0)
    assert list(debt["income_missing"]) == [0, 0, 1]
