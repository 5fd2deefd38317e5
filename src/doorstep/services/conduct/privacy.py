"""Privacy operations (PIPL), one import for the pages, the API and the command line:
requests and their steps (`privacy_requests`), answering them (`privacy_answers`), the
copy for an access request (`privacy_export`), what the staff see (`privacy_view`), the
processing record (`privacy_record`), and whether a number may be contacted."""

from __future__ import annotations

from doorstep.services.conduct.privacy_answers import ACTIONS, complete, take
from doorstep.services.conduct.privacy_export import export
from doorstep.services.conduct.privacy_record import render as render_record
from doorstep.services.conduct.privacy_record import replace_in as replace_record
from doorstep.services.conduct.privacy_record import section_of as record_section
from doorstep.services.conduct.privacy_requests import (
    NewRequest,
    Policy,
    assert_contactable,
    file_from_portal,
    file_request,
    get_request,
    normal_phone,
    policy_of,
    refuse,
    require_handler,
    resume,
    start,
    verify,
)
from doorstep.services.conduct.privacy_view import (
    RequestRow,
    RequestView,
    listing,
    requests_of_borrower,
    summary,
    view,
)

__all__ = [
    "ACTIONS",
    "NewRequest",
    "Policy",
    "RequestRow",
    "RequestView",
    "assert_contactable",
    "complete",
    "export",
    "file_from_portal",
    "file_request",
    "get_request",
    "listing",
    "normal_phone",
    "policy_of",
    "record_section",
    "refuse",
    "render_record",
    "replace_record",
    "requests_of_borrower",
    "require_handler",
    "resume",
    "start",
    "summary",
    "take",
    "verify",
    "view",
]
