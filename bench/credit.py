"""Benchmark: the scoring pipelines on real credit data, against plain LightGBM.

    python bench/credit.py [--folds 5] [--repeats 1] [--json FILE]
                           [--datasets taiwan,gmsc] [--jobs 2] [--calibration isotonic]
                           [--calibration-folds 3] [--select 0.3] [--seed 0] [--data DIR]

Datasets (from ../shared/data, internal use only, never copied into the project):

* ``taiwan``  UCI default of credit card clients, 30,000 accounts: the whole book and the
              already-overdue slice (``PAY_0 >= 1``, 6,818 accounts), reported separately.
              The slice is what doorstep scores (who, already late, will not self-cure):
              its folds test overdue accounts only, while the rest of the book joins every
              training fold of both LightGBMs; the scorecard there is a segment scorecard
              trained on overdue accounts only (an additive model fitted to the whole book
              ranks the slice worse);
* ``gmsc``    Kaggle Give Me Some Credit training file, 150,000 borrowers.

Protected attributes are excluded from every model (Taiwan: SEX, MARRIAGE, AGE; GMSC:
age), recognised by `doorstep.scoring.features.protected_attribute`; they are used only for
the fairness lines. Models, each rebuilt inside every training fold of a stratified k-fold
(`doorstep.scoring.evaluate`):

* ``scorecard``         optimal WoE binning + logistic regression, isotonic calibration
                        cross-fitted inside the training fold;
* ``lightgbm``          monotone LightGBM on the same features, same calibration;
* ``lightgbm-default``  same-run baseline: ``LGBMClassifier()`` with library defaults on
                        the raw (non-protected) columns, no engineering, no calibration,
                        trained on the same rows as ``lightgbm``.

Printed per model: AUC, KS, Gini, Brier (calibrated), Brier before calibration and seconds
per fold, mean ± sd over folds × repeats; then the targets, the scorecard's AUC distance to
the best model, and the adverse impact ratio of a visit selection (the riskiest
``--select`` share by the scorecard's out-of-fold probability) across protected groups.
Exits 0 and says SKIPPED (stderr and stdout) when the data folder is absent.
"""

from __future__ import annotations

import os

# LightGBM's OpenMP threads spin while they wait by default; on a busy 2-core machine that
# makes training many times slower. Must be set before lightgbm is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.scoring import fairness
from doorstep.scoring.challenger import ChallengerConfig, ChallengerModel, DefaultLightGBM
from doorstep.scoring.evaluate import Candidate, Evaluation, evaluate
from doorstep.scoring.features import (
    PROTECTED,
    Engineered,
    Feature,
    FeatureSet,
    cap_sentinels,
    debt_and_income,
    declare,
    protected_attribute,
    statement_history,
)
from doorstep.scoring.scorecard import ScorecardConfig, ScorecardModel

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TAIWAN = "taiwan-default/UCI_Credit_Card.csv"
GMSC = "give-me-some-credit/cs-training.csv"
SHA256 = {
    TAIWAN: "a0f0ab49d6326671d6cd83be5c88dcf18007025fe9a53ecd699119c871176ca1",
    GMSC: "1bd46da486a5708c58c7b01a034fae2a13b327f6f7b62ea7ba4fe3b5824b24ac",
}
TARGET_AUC = {"taiwan": 0.785, "taiwan-overdue": 0.740, "gmsc": 0.862}
SCORECARD_GAP = 0.01
OURS = ("scorecard", "lightgbm")
BASELINE = "lightgbm-default"
METRIC_COLUMNS = (("auc", "AUC"), ("ks", "KS"), ("gini", "Gini"), ("brier", "Brier"))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Dataset:
    name: str
    title: str
    frame: pd.DataFrame  # raw and engineered columns
    target: np.ndarray[Any, Any]
    features: FeatureSet  # raw (non-protected) + engineered
    raw: FeatureSet  # raw non-protected columns, as the baseline sees them
    excluded: dict[str, str]  # protected column -> what it was recognised as
    groups: dict[str, pd.Series] = field(default_factory=dict)  # fairness, tested rows only
    scorecard: ScorecardConfig = field(default_factory=ScorecardConfig)
    challenger: ChallengerConfig = field(default_factory=ChallengerConfig)
    # rows never tested but available for training (the rest of the book, for a segment)
    extra_training: np.ndarray[Any, Any] | None = None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(data: Path, relative: str, **kw: Any) -> pd.DataFrame | None:
    path = data / relative
    if not path.is_file():
        loud = f"SKIPPED: {path} is absent"
        print(loud, flush=True)
        log(loud)
        return None
    digest = _sha256(path)
    if digest != SHA256[relative]:
        log(f"WARNING: {path} sha256 {digest} differs from the README's {SHA256[relative]}")
    return pd.read_csv(path, **kw)


def _split_protected(columns: list[str]) -> tuple[list[str], dict[str, str]]:
    kept, excluded = [], {}
    for c in columns:
        what = protected_attribute(c)
        if what is None:
            kept.append(c)
        else:
            excluded[c] = PROTECTED[what]
    return kept, excluded


def _age_band(age: pd.Series) -> pd.Series:
    bands = pd.cut(age, [-1, 29, 39, 49, 59, 200], labels=["<30", "30-39", "40-49", "50-59", "60+"])
    return bands.astype(str)


# --- Taiwan ---------------------------------------------------------------------------------

TW_STATUS = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
TW_BILL = [f"BILL_AMT{i}" for i in range(1, 7)]
TW_PAID = [f"PAY_AMT{i}" for i in range(1, 7)]
TW_MONTHS = ["Sep", "Aug", "Jul", "Jun", "May", "Apr"]
TW_MONTHS_ZH = ["9月", "8月", "7月", "6月", "5月", "4月"]
TW_LABELS = {
    "LIMIT_BAL": ("credit limit", "授信额度"),
    "EDUCATION": ("education", "教育程度"),
    **{s: (f"repayment status, {m}", f"{z}还款状态") for s, m, z in
       zip(TW_STATUS, TW_MONTHS, TW_MONTHS_ZH, strict=True)},
    **{b: (f"bill, {m}", f"{z}账单金额") for b, m, z in
       zip(TW_BILL, TW_MONTHS, TW_MONTHS_ZH, strict=True)},
    **{p: (f"amount paid, {m}", f"{z}还款金额") for p, m, z in
       zip(TW_PAID, TW_MONTHS, TW_MONTHS_ZH, strict=True)},
}  # fmt: skip


def taiwan(data: Path, jobs: int) -> list[Dataset]:
    raw = _read(data, TAIWAN)
    if raw is None:
        return []
    y = raw.pop("default.payment.next.month").to_numpy()
    raw = raw.drop(columns=["ID"])
    kept, excluded = _split_protected(list(raw.columns))
    history = statement_history(
        raw,
        status=TW_STATUS,
        balance=TW_BILL,
        paid=TW_PAID,
        limit="LIMIT_BAL",
        status_codes={
            -1: ("paid_duly", "months paid in full", "全额还款月数"),
            -2: ("no_use", "months without use", "未使用月数"),
        },
    )
    base = declare(
        kept,
        labels=TW_LABELS,
        directions={"LIMIT_BAL": -1},
        categorical=["EDUCATION"],
    )
    features = FeatureSet(base + history.features)
    frame = pd.concat([raw, history.frame], axis=1)
    groups = {
        "SEX": raw["SEX"].map({1: "male", 2: "female"}).fillna("other"),
        "MARRIAGE": raw["MARRIAGE"].map({1: "married", 2: "single"}).fillna("other"),
        "AGE": _age_band(raw["AGE"]),
    }
    whole = Dataset(
        "taiwan",
        "Taiwan credit cards, whole book",
        frame,
        y,
        features,
        FeatureSet.of(kept),
        excluded,
        groups,
        scorecard=ScorecardConfig(n_jobs=jobs),
        challenger=ChallengerConfig(n_jobs=jobs),
    )
    late = (raw["PAY_0"] >= 1).to_numpy()
    overdue = Dataset(
        "taiwan-overdue",
        "Taiwan credit cards, overdue at the last statement (PAY_0 >= 1)",
        frame,
        y,
        features,
        FeatureSet.of(kept),
        excluded,
        {k: v[late].reset_index(drop=True) for k, v in groups.items()},
        scorecard=ScorecardConfig(n_jobs=jobs),
        challenger=ChallengerConfig(n_jobs=jobs),
        extra_training=~late,
    )
    return [whole, overdue]


# --- Give Me Some Credit --------------------------------------------------------------------

GMSC_PAST_DUE = [
    "NumberOfTime30-59DaysPastDueNotWorse",
    "NumberOfTime60-89DaysPastDueNotWorse",
    "NumberOfTimes90DaysLate",
]
GMSC_LABELS = {
    "RevolvingUtilizationOfUnsecuredLines": ("revolving utilisation", "循环额度使用率"),
    "DebtRatio": ("debt ratio", "负债比率"),
    "MonthlyIncome": ("monthly income", "月收入"),
    "NumberOfOpenCreditLinesAndLoans": ("open credit lines and loans", "未结清授信及贷款数"),
    "NumberRealEstateLoansOrLines": ("real-estate loans", "房地产贷款数"),
    "NumberOfDependents": ("dependents", "供养人数"),
    "NumberOfTime30-59DaysPastDueNotWorse_capped": ("times 30-59 days late", "逾期30-59天次数"),
    "NumberOfTime60-89DaysPastDueNotWorse_capped": ("times 60-89 days late", "逾期60-89天次数"),
    "NumberOfTimes90DaysLate_capped": ("times 90+ days late", "逾期90天以上次数"),
}


def gmsc(data: Path, jobs: int) -> list[Dataset]:
    raw = _read(data, GMSC, index_col=0)
    if raw is None:
        return []
    y = raw.pop("SeriousDlqin2yrs").to_numpy()
    kept, excluded = _split_protected(list(raw.columns))
    capped = cap_sentinels(raw, GMSC_PAST_DUE, codes=(96, 98))
    debt = debt_and_income(
        raw, debt_ratio="DebtRatio", income="MonthlyIncome", dependents="NumberOfDependents"
    )
    engineered: Engineered = capped + debt
    counts = capped.frame[[c + "_capped" for c in GMSC_PAST_DUE]]
    extra = pd.DataFrame(
        {
            "times_late_total": counts.sum(axis=1, min_count=1),
            "utilisation_capped": raw["RevolvingUtilizationOfUnsecuredLines"].clip(upper=2.0),
        }
    )
    extra_features = (
        Feature("times_late_total", 1, False, "times late (all)", "逾期总次数",
                tuple(GMSC_PAST_DUE)),
        Feature("utilisation_capped", 0, False, "revolving utilisation (capped at 2)",
                "循环额度使用率（上限2）", ("RevolvingUtilizationOfUnsecuredLines",)),
    )  # fmt: skip
    base = [c for c in kept if c not in GMSC_PAST_DUE]
    features = FeatureSet(
        declare(
            (*base, *engineered.features, *extra_features),
            labels=GMSC_LABELS,
            directions={
                "NumberOfTime30-59DaysPastDueNotWorse_capped": 1,
                "NumberOfTime60-89DaysPastDueNotWorse_capped": 1,
                "NumberOfTimes90DaysLate_capped": 1,
            },
        )
    )
    frame = pd.concat([raw, engineered.frame, extra], axis=1).reset_index(drop=True)
    groups = {"age": _age_band(raw["age"]).reset_index(drop=True)}
    return [
        Dataset(
            "gmsc",
            "Give Me Some Credit",
            frame,
            y,
            features,
            FeatureSet.of(kept),
            excluded,
            groups,
            # five times the rows of Taiwan: finer pre-bins still hold 2,400 rows each
            scorecard=ScorecardConfig(n_jobs=jobs, max_n_prebins=30, min_prebin_size=0.02),
            challenger=ChallengerConfig(n_jobs=jobs),
        )
    ]


LOADERS: dict[str, Callable[[Path, int], list[Dataset]]] = {"taiwan": taiwan, "gmsc": gmsc}


# --- running and reporting ----------------------------------------------------------------


def candidates(ds: Dataset, args: argparse.Namespace) -> list[Candidate]:
    """For a segment (``extra_training`` set) the scorecard is a segment scorecard, trained
    on the segment only; both LightGBMs train on the whole book's training rows."""
    method = args.calibration
    return [
        Candidate(
            "scorecard",
            lambda: ScorecardModel(ds.features, ds.scorecard),
            method,
            use_extra_training=False,
        ),
        Candidate("lightgbm", lambda: ChallengerModel(ds.features, ds.challenger), method),
        Candidate(BASELINE, lambda: DefaultLightGBM(ds.raw, n_jobs=args.jobs), None),
    ]


def checks(name: str, ev: Evaluation) -> dict[str, Any]:
    auc = {m: ev.summary(m, "auc").mean for m in ev.models}
    best_ours = max(OURS, key=lambda m: auc[m])
    best = max(auc, key=lambda m: auc[m])
    gap = auc["scorecard"] - auc[best]
    target = TARGET_AUC[name]
    return {
        "target_auc": target,
        "best_ours": best_ours,
        "best_ours_auc": auc[best_ours],
        "meets_target": auc[best_ours] >= target,
        "above_default": {m: auc[m] > auc[BASELINE] for m in OURS},
        "best": best,
        "scorecard_gap": gap,
        "scorecard_within": -gap <= SCORECARD_GAP,
    }


def fairness_lines(ds: Dataset, ev: Evaluation, share: float) -> tuple[list[str], dict[str, Any]]:
    p = ev.predictions["scorecard"]
    cutoff = np.quantile(p, 1 - share)
    selected = p >= cutoff
    lines, out = [], {}
    for attribute, groups in ds.groups.items():
        rep = fairness.report(groups, selected, p, attribute=attribute)
        rates = ", ".join(
            f"{g.group} {g.selection_rate:.2f} (AIR {g.air:.2f}{' !' if g.warned else ''})"
            for g in rep.groups
        )
        lines.append(f"    {attribute:<9} {rates}")
        out[attribute] = {
            g.group: {"n": g.n, "selection_rate": g.selection_rate, "air": g.air}
            for g in rep.groups
        }
    return lines, out


def print_dataset(ds: Dataset, ev: Evaluation, check: dict[str, Any], seconds: float) -> None:
    rate = ev.events / ev.rows
    print(f"\n{ds.name}: {ds.title}")
    print(
        f"  {ev.rows:,} rows, {rate:.1%} default; {len(ds.features)} features "
        f"({len(ds.raw)} raw); excluded as protected: "
        + ", ".join(f"{c} ({w})" for c, w in ds.excluded.items())
    )
    print(f"  {ev.folds}-fold stratified CV x {ev.repeats}; {seconds:.0f}s")
    if ds.extra_training is not None:
        print(
            f"  segment: tested on these rows only; the other {int(ds.extra_training.sum()):,} "
            "rows of the book join every training fold of both LightGBMs (the scorecard is "
            "a segment scorecard)"
        )
    head = "".join(f"{label:>18}" for _, label in METRIC_COLUMNS)
    print(f"  {'model':<18}{head}{'Brier (raw)':>18}{'s/fold':>9}")
    for model in ev.models:
        cells = "".join(f"{ev.summary(model, k)!s:>18}" for k, _ in METRIC_COLUMNS)
        raw = ev.summary(model, "brier_raw")
        secs = ev.summary(model, "seconds").mean
        print(f"  {model:<18}{cells}{raw!s:>18}{secs:>9.1f}")
    for model in OURS:
        cells = " ".join(
            f"{100 * r.predicted:.1f}/{100 * r.observed:.1f}" for r in ev.calibration[model]
        )
        print(f"  deciles, {model}, predicted/observed default %: {cells}")
    ok = "met" if check["meets_target"] else "NOT MET"
    print(
        f"  target AUC >= {check['target_auc']:.3f}: {check['best_ours']} "
        f"{check['best_ours_auc']:.4f} -> {ok}"
    )
    above = ", ".join(
        f"{m} {'above' if v else 'NOT above'}" for m, v in check["above_default"].items()
    )
    print(f"  vs {BASELINE}: {above}")
    within = "within" if check["scorecard_within"] else "NOT within"
    print(
        f"  scorecard - best ({check['best']}): {check['scorecard_gap']:+.4f} AUC "
        f"({within} {SCORECARD_GAP})"
    )


def _progress(name: str) -> Callable[[str], None]:
    def report(message: str) -> None:
        log(f"[{name}] {message}")

    return report


def versions() -> dict[str, str]:
    out = {}
    for pkg in ("numpy", "pandas", "scikit-learn", "lightgbm", "optbinning"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    parser.add_argument("--datasets", default="taiwan,gmsc", help="comma separated: taiwan,gmsc")
    parser.add_argument("--jobs", type=int, default=2, help="threads for LightGBM and binning")
    parser.add_argument("--calibration", choices=("isotonic", "platt"), default="isotonic")
    parser.add_argument("--calibration-folds", type=int, default=3)
    parser.add_argument("--select", type=float, default=0.3, help="visit share for fairness")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in LOADERS]
    if unknown:
        parser.error(f"unknown datasets {unknown}; choose from {sorted(LOADERS)}")
    if not args.data.is_dir():
        loud = f"SKIPPED: credit bench needs the data folder {args.data}, which is absent"
        print(loud, flush=True)
        log(loud)
        return 0

    started = time.perf_counter()
    report: dict[str, Any] = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "versions": versions(),
        "datasets": {},
    }
    print(
        f"credit bench: {args.folds}-fold x {args.repeats}, calibration {args.calibration} "
        f"({args.calibration_folds} inner folds), jobs {args.jobs}"
    )
    for name in names:
        for ds in LOADERS[name](args.data, args.jobs):
            t0 = time.perf_counter()
            ev = evaluate(
                ds.frame,
                ds.target,
                candidates(ds, args),
                folds=args.folds,
                repeats=args.repeats,
                seed=args.seed,
                calibration_folds=args.calibration_folds,
                extra_training=ds.extra_training,
                progress=_progress(ds.name),
            )
            seconds = time.perf_counter() - t0
            check = checks(ds.name, ev)
            print_dataset(ds, ev, check, seconds)
            lines, fair = fairness_lines(ds, ev, args.select)
            print(f"  visit selection = riskiest {args.select:.0%} by scorecard (out of fold):")
            print("\n".join(lines))
            report["datasets"][ds.name] = {
                "title": ds.title,
                "features": ds.features.names,
                "excluded": ds.excluded,
                "seconds": seconds,
                "evaluation": ev.as_dict(),
                "checks": check,
                "fairness": fair,
            }
    total = time.perf_counter() - started
    report["seconds"] = total
    print(f"\ntotal {total:.0f}s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
