"""The error tree: every domain error carries a machine code and zh_CN/en messages."""

from __future__ import annotations


class DoorstepError(Exception):
    """Base of every error doorstep raises on purpose."""

    code = "doorstep_error"

    def __init__(self, message: str, *, message_zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message


class InvalidValue(DoorstepError):
    """A value that cannot be accepted (a bad amount, rate, date or term)."""

    code = "invalid_value"


class IllegalTransition(DoorstepError):
    """An action that the current state of an object does not allow."""

    code = "illegal_transition"


class NotFound(DoorstepError):
    code = "not_found"


class IngestRejected(DoorstepError):
    """A batch with at least one bad row: nothing of it was written."""

    code = "ingest_rejected"

    def __init__(self, problems_count: int, report_path: str | None = None) -> None:
        super().__init__(
            f"batch rejected: {problems_count} problem(s) found, nothing was written",
            message_zh=f"批次被拒绝：发现 {problems_count} 个问题，未写入任何数据",
        )
        self.problems_count = problems_count
        self.report_path = report_path
