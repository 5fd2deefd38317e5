"""Planning errors, in the domain's error tree (`doorstep.domain.errors`)."""

from __future__ import annotations

from collections.abc import Sequence

from doorstep.domain.errors import DoorstepError


class PlanInfeasible(DoorstepError):
    """No lawful plan: a required visit cannot be served, or a plan breaks a constraint.

    ``problems`` lists every broken constraint found, one human-readable line each.
    """

    code = "plan_infeasible"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        head = "; ".join(self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(
            f"plan infeasible: {head}{more}",
            message_zh=f"外访计划不可行：{head}{more}",
        )
