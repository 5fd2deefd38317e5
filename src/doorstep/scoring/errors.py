"""Scoring errors, in the domain's error tree (`doorstep.domain.errors`)."""

from __future__ import annotations

from collections.abc import Sequence

from doorstep.domain.errors import DoorstepError


class ProtectedFeatureError(DoorstepError):
    """A protected attribute (or a feature derived from one) was offered as a model input.

    ``offending`` maps each refused feature name to the protected attribute it was
    recognised as.
    """

    code = "protected_feature"

    def __init__(self, offending: dict[str, str]) -> None:
        self.offending = dict(offending)
        listed = ", ".join(f"{name!r} ({what})" for name, what in self.offending.items())
        super().__init__(
            f"protected attributes may not be model inputs: {listed}; drop them from the "
            "feature list (they may still be used for the fairness report)",
            message_zh=f"受保护属性不得作为模型输入：{listed}；请从特征列表中移除"
            "（仍可用于公平性报告）",
        )


class ScoringInputError(DoorstepError):
    """Training or scoring data that the models cannot use (missing columns, bad target)."""

    code = "scoring_input"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        text = "; ".join(self.problems)
        super().__init__(f"unusable scoring input: {text}", message_zh=f"评分输入不可用：{text}")


class NotFitted(DoorstepError):
    """A model used before `fit`."""

    code = "model_not_fitted"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not fitted yet", message_zh=f"{what} 尚未训练")
