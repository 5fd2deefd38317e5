"""The borrower portal's sign-in: a one-time code sent by SMS to the mobile we hold for
the loan's borrower, then a session of its own (a random token whose hash is stored),
never a staff session. Asking for codes is throttled by client address and codes sent by
loan, and tries by code, each counted and judged in one statement so that requests sent
at once cannot pass the limit together; every refusal reads the same, so neither a loan
number nor a mobile number can be probed."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.credentials import (
    PORTAL_ASKS_PER_ADDRESS,
    PORTAL_CODES_PER_LOAN,
    minutes_until,
)
from doorstep.domain.errors import SignInRefused, SignInThrottled
from doorstep.domain.ports import KeyedHasher
from doorstep.integrations.sms import SmsSender
from doorstep.services.conduct import audit
from doorstep.services.repayment.offers import borrower_actor
from doorstep.store.models import PortalCode, PortalSession
from doorstep.store.repositories import offers as repo
from doorstep.store.repositories import throttles

CODE_LIFETIME = timedelta(minutes=5)
MAX_TRIES = 5
SESSION_LIFETIME = timedelta(hours=2)


def _digits(text: str) -> str:
    cleaned = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    return cleaned[2:] if cleaned.startswith("86") and len(cleaned) == 13 else cleaned


def _code_hash(hasher: KeyedHasher, loan_id: str, code: str) -> str:
    return hasher.digest(f"portal-code|{loan_id}|{code}")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_code(
    session: Session,
    sender: SmsSender,
    hasher: KeyedHasher,
    loan_id: str,
    mobile: str,
    address: str,
    now: datetime,
) -> None:
    """Send a one-time code to the mobile when it is the loan's borrower's; the same
    refusal whether the loan or the number is wrong, so neither can be probed. Every
    request counts towards its address's limit; a code sent, towards its loan's."""
    loan_id, number = loan_id.strip(), _digits(mobile)
    until = throttles.claim(session, f"portal:asks:{address}", PORTAL_ASKS_PER_ADDRESS, now)
    if until is not None:
        raise SignInThrottled(minutes_until(until, now))
    loan = repo.loan(session, loan_id) if loan_id else None
    if (
        loan is None
        or len(number) != 11
        or not repo.mobile_matches(session, loan.customer_id, hasher.digest(number))
    ):
        raise SignInRefused(
            "the loan number and mobile number do not match our records",
            message_zh="贷款编号与手机号码不匹配",
        )
    until = throttles.claim(session, f"portal:codes:{loan.loan_id}", PORTAL_CODES_PER_LOAN, now)
    if until is not None:
        raise SignInThrottled(minutes_until(until, now))
    code = f"{secrets.randbelow(10**6):06d}"
    repo.expire_codes(session, loan.loan_id, now)
    session.add(
        PortalCode(
            loan_id=loan.loan_id,
            customer_id=loan.customer_id,
            code_hash=_code_hash(hasher, loan.loan_id, code),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
            address=address,
        )
    )
    session.flush()
    sender.send(number, f"【doorstep】您的验证码 {code}，5 分钟内有效。Your code: {code}")


def _expired() -> SignInRefused:
    return SignInRefused(
        "the code has expired or was not sent: ask for a new one",
        message_zh="验证码已过期或未发送，请重新获取",
    )


def verify_code(
    session: Session, hasher: KeyedHasher, loan_id: str, code: str, now: datetime
) -> str:
    """A borrower session token for the right code; a wrong one counts a try (the 5th
    wrong try ends the code), an expired or used one is refused. The try is counted before
    the code is compared, in one conditional UPDATE, so of N tries sent at once at most
    `MAX_TRIES` are compared."""
    loan_id = loan_id.strip()
    latest = repo.latest_code(session, loan_id) if loan_id else None
    if latest is None or latest.used_at is not None or latest.expires_at <= now:
        raise _expired()
    tries = throttles.take_code_try(session, latest.id, MAX_TRIES, now)
    if tries is None:  # taken by tries sent at the same time, or used meanwhile
        session.refresh(latest)
        if latest.used_at is None and latest.tries >= MAX_TRIES:
            raise SignInRefused(
                "too many wrong codes: ask for a new one",
                message_zh="验证码错误次数过多，请重新获取",
            )
        raise _expired()
    if not secrets.compare_digest(latest.code_hash, _code_hash(hasher, loan_id, code.strip())):
        left = MAX_TRIES - tries
        raise SignInRefused(
            f"wrong code: {left} tries left", message_zh=f"验证码错误，还可尝试 {left} 次"
        )
    if not throttles.use_code(session, latest.id, now):
        raise _expired()
    token = secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            token_hash=_token_hash(token),
            customer_id=latest.customer_id,
            loan_id=loan_id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    audit.record(
        session,
        borrower_actor(latest.customer_id),
        "portal.sign_in",
        "customer",
        latest.customer_id,
        {"loan": loan_id},
    )
    return token


def borrower_for(session: Session, token: str | None, now: datetime) -> str | None:
    """The customer id of a live borrower session, else None."""
    if not token:
        return None
    row = repo.portal_session(session, _token_hash(token))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    return row.customer_id


def sign_out(session: Session, token: str | None, now: datetime) -> None:
    row = repo.portal_session(session, _token_hash(token)) if token else None
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.flush()
