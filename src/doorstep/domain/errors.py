"""The one error tree: every error doorstep raises on purpose, with a machine code and
zh_CN/en messages. `http.errors.STATUS` maps each branch (never a leaf) to an HTTP status,
so a service never speaks HTTP.

    DoorstepError                     base; an unmapped one is a 500
    ├── InvalidValue                  422  input that cannot be accepted
    │   ├── IngestRejected                 a batch with a bad row: nothing was written
    │   ├── InvalidAnswers                 a visit form's answers, each problem named
    │   ├── TooFar                         a check-in beyond the distance limit, no reason
    │   ├── ReasonRequired                 a warned action without its reason
    │   ├── NotEnoughData                  too little data to train or measure a model
    │   ├── ScoringInputError              training/scoring data the models cannot use
    │   ├── ProtectedFeatureError          a protected attribute offered as a model input
    │   ├── PackError                      a conduct rule pack that cannot be used
    │   ├── BadEvidenceName                not a SHA-256 evidence name
    │   └── SignatureError                 a webhook signature that does not verify
    ├── NotFound                      404  (also what a case the caller may not see is)
    ├── Unauthenticated               401
    │   ├── NotSignedIn
    │   │   ├── SessionEnded               signed out elsewhere, password changed, disabled
    │   │   └── SessionExpired             idle too long, or past its lifetime
    │   ├── TokenExpired                   an API token past its expiry
    │   ├── LoginRefused                   staff sign-in
    │   └── SignInRefused                  borrower portal sign-in
    ├── Forbidden                     403  the role or a rule does not allow it
    │   ├── RuleBlocked                    a conduct rule forbids the action now
    │   ├── ContactErased                  the person had their number deleted: no contact
    │   ├── CsrfFailed
    │   └── OutsideScope                   an API token used beyond its scopes
    ├── Throttled                     429  too many attempts or reveals
    │   ├── TryAgainLater                  a sign-in refused for N minutes
    │   │   ├── LoginThrottled
    │   │   └── SignInThrottled
    │   └── RevealLimited                  past a person's reveal rate or daily ceiling
    ├── Conflict                      409  the state of things does not allow it now
    │   ├── IllegalTransition              a case/offer state machine refusal
    │   ├── DuplicateSubmission            a visit someone submitted first
    │   ├── AssignmentEnded                the case left the verifier's assignment
    │   ├── ContactBlocked                 a contact the rules blocked (kept on record)
    │   ├── OfferExpired
    │   ├── BatchAlreadyRunning
    │   ├── PlanInfeasible                 no lawful plan for the day
    │   ├── NotFitted                      a model used before it was trained
    │   └── AuditChainBroken               an audit chain that does not verify
    ├── StorageFull                   507  no room for evidence: nothing was kept
    ├── DependencyFailed              502  a service we call answered badly or not at all
    │   ├── TravelServiceFailed            the road-network (OSRM) service
    │   └── TasksFailed                    broker tasks that failed or never reported
    │       └── PartitionFailed            delinquency partitions that did not report
    └── KeyMaterialError              500  a personal-data or audit key missing or unusable
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the rules engine imports this module: no cycle at run time
    from doorstep.domain.rules.model import Decision


class DoorstepError(Exception):
    """Base of every error doorstep raises on purpose."""

    code = "doorstep_error"

    def __init__(self, message: str, *, message_zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message


# --- 422: input that cannot be accepted -----------------------------------------------


class InvalidValue(DoorstepError):
    """A value that cannot be accepted (a bad amount, rate, date or term)."""

    code = "invalid_value"


class IngestRejected(InvalidValue):
    """A batch with at least one bad row: nothing of it was written."""

    code = "ingest_rejected"

    def __init__(self, problems_count: int, report_path: str | None = None) -> None:
        super().__init__(
            f"batch rejected: {problems_count} problem(s) found, nothing was written",
            message_zh=f"批次被拒绝：发现 {problems_count} 个问题，未写入任何数据",
        )
        self.problems_count = problems_count
        self.report_path = report_path


class FieldProblem(Protocol):
    @property
    def field(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def message_zh(self) -> str: ...


class InvalidAnswers(InvalidValue):
    """Answers the form cannot accept; each problem names its field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__(
            "; ".join(f"{p.field}: {p.message}" for p in problems),
            message_zh="；".join(f"{p.field}：{p.message_zh}" for p in problems),
        )
        self.problems = list(problems)


class TooFar(InvalidValue):
    """A check-in farther from the planned address than the limit, without a reason."""

    code = "too_far"

    def __init__(self, distance_m: int, limit_m: int) -> None:
        km = f"{distance_m / 1000:.1f}"
        super().__init__(
            f"You are {km} km from the planned address (the limit is {limit_m} m): check in "
            "at the address, or give a reason to check in anyway (the visit will be flagged).",
            message_zh=f"您距计划地址 {km} 公里（上限 {limit_m} 米）：请到达地址后签到，"
            "或说明原因后仍然签到（该外访将被标记）。",
        )
        self.distance_m = distance_m


class ReasonRequired(InvalidValue):
    """A warned action goes ahead only with a reason, which is audited."""

    code = "reason_required"

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            f"{decision.action.value} warned by {decision.explain('en')}: give a reason",
            message_zh=(
                f"{decision.action.value} 触发合规提醒：{decision.explain('zh')}，请填写理由"
            ),
        )
        self.decision = decision


class NotEnoughData(InvalidValue):
    code = "not_enough_data"


class ScoringInputError(InvalidValue):
    """Training or scoring data that the models cannot use (missing columns, bad target)."""

    code = "scoring_input"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        text = "; ".join(self.problems)
        super().__init__(f"unusable scoring input: {text}", message_zh=f"评分输入不可用：{text}")


class ProtectedFeatureError(InvalidValue):
    """A protected attribute (or a feature derived from one) was offered as a model input.

    ``offending`` maps each refused feature name to the protected attribute it was
    recognised as.
    """

    code = "protected_feature"

    def __init__(self, offending: Mapping[str, str]) -> None:
        self.offending = dict(offending)
        listed = ", ".join(f"{name!r} ({what})" for name, what in self.offending.items())
        super().__init__(
            f"protected attributes may not be model inputs: {listed}; drop them from the "
            "feature list (they may still be used for the fairness report)",
            message_zh=f"受保护属性不得作为模型输入：{listed}；请从特征列表中移除"
            "（仍可用于公平性报告）",
        )


class PackError(InvalidValue):
    """A rule pack or override file that cannot be used."""

    code = "invalid_rule_pack"

    def __init__(self, origin: str, rule: str | None, field: str, problem: str) -> None:
        where = f"rule {rule}, field {field}" if rule else f"field {field}"
        where_zh = f"规则 {rule}，字段 {field}" if rule else f"字段 {field}"
        super().__init__(
            f"rule pack {origin}: {where}: {problem}",
            message_zh=f"规则包 {origin}：{where_zh}：{problem}",
        )
        self.origin, self.rule, self.field, self.problem = origin, rule, field, problem


class BadEvidenceName(InvalidValue):
    code = "bad_evidence_name"


class SignatureError(InvalidValue):
    """A webhook request whose signature header is malformed, stale or wrong."""

    code = "bad_signature"


# --- 404 ------------------------------------------------------------------------------


class NotFound(DoorstepError):
    code = "not_found"


# --- 401: who is asking is not known --------------------------------------------------


class Unauthenticated(DoorstepError):
    code = "unauthenticated"


class NotSignedIn(Unauthenticated):
    code = "not_signed_in"


class SessionEnded(NotSignedIn):
    """The session was ended on the server: sign-out (from another copy of the cookie),
    a password change, the account disabled."""

    code = "session_ended"

    def __init__(self) -> None:
        super().__init__(
            "you were signed out (elsewhere, or your password or account changed): sign in again",
            message_zh="您已被登出（在别处退出，或密码、账号已更改），请重新登录",
        )


class SessionExpired(NotSignedIn):
    """The session went unused too long, or reached its lifetime."""

    code = "session_expired"

    def __init__(self) -> None:
        super().__init__("your session expired: sign in again", message_zh="会话已过期，请重新登录")


class TokenExpired(Unauthenticated):
    code = "token_expired"

    def __init__(self) -> None:
        super().__init__(
            "this API token has expired: ask for a new one",
            message_zh="此 API 令牌已过期，请申请新令牌",
        )


class LoginRefused(Unauthenticated):
    code = "login_refused"


class SignInRefused(Unauthenticated):
    code = "sign_in_refused"


# --- 403: known, but not allowed ------------------------------------------------------


class Forbidden(DoorstepError):
    code = "forbidden"


class RuleBlocked(Forbidden):
    """The conduct rules forbid the action: it did not happen."""

    code = "rule_blocked"

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            f"{decision.action.value} blocked by {decision.explain('en')}",
            message_zh=f"{decision.action.value} 被合规规则禁止：{decision.explain('zh')}",
        )
        self.decision = decision


class ContactErased(Forbidden):
    """The number's holder had it deleted (a privacy request): it is never called again."""

    code = "contact_erased"

    def __init__(self) -> None:
        super().__init__(
            "this number's holder asked for their data to be deleted: no further contact",
            message_zh="该号码的持有人已要求删除其个人信息：不得再联系",
        )


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class OutsideScope(Forbidden):
    """An API token used for what its scopes do not cover."""

    code = "outside_scope"

    def __init__(self, needed: str, held: str) -> None:
        super().__init__(
            f"this API token may not do this: it needs the {needed!r} scope (it has {held})",
            message_zh=f"此 API 令牌无权执行此操作：需要 {needed!r} 权限（现有 {held}）",
        )
        self.needed = needed


# --- 429 ------------------------------------------------------------------------------


class Throttled(DoorstepError):
    code = "throttled"


class TryAgainLater(Throttled):
    """A sign-in refused for a while: the words say how long."""

    def __init__(self, minutes: int) -> None:
        super().__init__(
            f"too many attempts: try again in {minutes} minute{'s' if minutes != 1 else ''}",
            message_zh=f"尝试次数过多，请 {minutes} 分钟后再试",
        )
        self.minutes = minutes


class LoginThrottled(TryAgainLater):
    code = "login_throttled"


class SignInThrottled(TryAgainLater):
    code = "login_throttled"


class RevealLimited(Throttled):
    """A reveal past the person's limits: the rule's words (the numbers it enforces) and
    the count that passed them. Nothing was revealed or counted."""

    code = "reveal_limit"

    def __init__(self, rule_id: str, message: str, message_zh: str, why: str) -> None:
        super().__init__(
            f"{rule_id}: {message} ({why})", message_zh=f"{rule_id}：{message_zh}（{why}）"
        )


# --- 409: the state of things does not allow it now -----------------------------------


class Conflict(DoorstepError):
    code = "conflict"


class IllegalTransition(Conflict):
    """An action that the current state of an object does not allow."""

    code = "illegal_transition"


class DuplicateSubmission(Conflict):
    """Another request submitted this visit first (the entry point rolls back and looks
    the submission up by its key)."""


class ContactBlocked(Conflict):
    """A contact attempt the conduct rules blocked: it was not made, and the block is on
    record (the contact log and the rule decisions); `rules` names the rules that fired."""

    code = "contact_blocked"

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            f"contact blocked by {decision.explain('en')}",
            message_zh=f"联系被合规规则禁止：{decision.explain('zh')}",
        )
        self.decision = decision

    @property
    def extra(self) -> dict[str, object]:
        return {
            "rules": [
                {"id": f.rule_id, "message_zh": f.message_zh, "message_en": f.message_en}
                for f in self.decision.fired
            ]
        }


class AssignmentEnded(Conflict):
    """The case is no longer live-assigned to the verifier's team."""

    code = "assignment_ended"


class OfferExpired(Conflict):
    code = "offer_expired"


class BatchAlreadyRunning(Conflict):
    code = "batch_running"


class PlanInfeasible(Conflict):
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


class NotFitted(Conflict):
    """A model used before `fit`."""

    code = "model_not_fitted"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not fitted yet", message_zh=f"{what} 尚未训练")


class AuditChainBroken(Conflict):
    """An audit chain that does not verify, where an operation needs an intact one."""

    code = "audit_chain_broken"


# --- 5xx: our side or a dependency ----------------------------------------------------


class StorageFull(DoorstepError):
    """The evidence store has no room (disk or quota full): nothing of the file was kept."""

    code = "storage_full"

    def __init__(self) -> None:
        super().__init__(
            "the evidence store is full (no space left on the device): nothing was saved, "
            "send the visit again later",
            message_zh="证据存储空间已满（设备无剩余空间）：未保存任何内容，请稍后重新提交",
        )


class DependencyFailed(DoorstepError):
    code = "dependency_failed"


class TravelServiceFailed(DependencyFailed):
    """The road-network service did not answer, or answered something unusable."""

    code = "travel_service_failed"


class TasksFailed(DependencyFailed):
    code = "tasks_failed"


class PartitionFailed(TasksFailed):
    code = "partition_failed"


class KeyMaterialError(DoorstepError):
    """A personal-data or audit key that is missing, malformed or unknown to a stored value."""

    code = "bad_key"
