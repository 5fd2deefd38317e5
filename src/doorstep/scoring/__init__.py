"""Risk scoring: who is worth a costly visit.

Modules (no database access anywhere here; persistence belongs to the store layer):

* ``features``     the model inputs in one import: declared inputs (``declarations``:
                   `Feature`, `FeatureSet`), the protected attributes refused as inputs
                   (``protected``), row-wise feature engineering (``engineering``) and
                   the monthly statement history (``statements``);
* ``scorecard``    champion: optimal WoE binning (optbinning) + logistic regression, points
                   scaled by base score and PDO, reason codes vs each feature's best bin;
* ``challenger``   LightGBM, monotone where a direction is declared, SHAP reason codes;
                   `DefaultLightGBM` is the library-defaults benchmark baseline;
* ``calibration``  isotonic or Platt, fitted on held-out (cross-fitted) predictions only;
* ``evaluate``     stratified k-fold CV of whole pipelines: AUC, KS, Gini, Brier;
* ``registry``     `ModelCard`, training-data fingerprint, model bytes;
* ``monitoring``   population stability index (flag above 0.25);
* ``fairness``     selection rates and adverse impact ratio by group (warn below 0.8);
* ``pipeline``     a table in, a measured and calibrated `Bundle` out (what is stored);
* ``behaviour``    the ``visit_priority`` features and label from the book's frames.

This package imports only numpy and pandas at import time; scikit-learn, optbinning and
LightGBM load when a model is fitted.
"""

from __future__ import annotations

from doorstep.domain.errors import NotFitted, ProtectedFeatureError, ScoringInputError
from doorstep.scoring.base import Classifier, Reason
from doorstep.scoring.features import (
    PROTECTED,
    Engineered,
    Feature,
    FeatureSet,
    check_allowed,
    protected_attribute,
)

__all__ = [
    "PROTECTED",
    "Classifier",
    "Engineered",
    "Feature",
    "FeatureSet",
    "NotFitted",
    "ProtectedFeatureError",
    "Reason",
    "ScoringInputError",
    "check_allowed",
    "protected_attribute",
]
