"""What a request needs: the app's services, a database session, and the actor."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain.access import Actor
from doorstep.domain.errors import NotSignedIn
from doorstep.domain.ports import Clock, SystemClock
from doorstep.integrations.crypto import DataCipher, HmacHasher
from doorstep.services.people import users


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    cipher: DataCipher
    hasher: HmacHasher
    clock: Clock = field(default_factory=SystemClock)
    password_hasher: PasswordHasher = field(default_factory=users.standard_hasher)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.doorstep
    return state


def db_session(request: Request) -> Iterator[Session]:
    """A session per request. Handlers that write call `session.commit()` themselves, so a
    failed commit is an error response and never a success that did not happen."""
    session = Session(app_state(request).engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


DbSession = Annotated[Session, Depends(db_session)]
State = Annotated[AppState, Depends(app_state)]


def request_id(request: Request) -> str:
    return request.headers.get("x-request-id") or secrets.token_hex(8)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_actor(request: Request, session: DbSession) -> Actor:
    """The signed-in user: a bearer token (API clients) or the session cookie (pages)."""
    header = request.headers.get("authorization", "")
    user = None
    if header.lower().startswith("bearer "):
        user = users.user_for_token(session, header[7:].strip())
    elif "user_id" in request.session:
        from doorstep.store.models import User

        candidate = session.get(User, request.session["user_id"])
        if (
            candidate is not None
            and candidate.active
            and request.session.get("login_version") == users.session_stamp(candidate)
        ):
            user = candidate
    if user is None:
        raise NotSignedIn("sign in first", message_zh="请先登录")
    actor = users.actor_for(session, user)
    # End the read-only transaction: its connection goes back to the pool while the request
    # waits for a thread to run its handler. Held across that wait, a burst of requests
    # could hold every pooled connection while the threads that would release them wait
    # for a connection themselves (the pool is smaller than the thread pool).
    session.commit()
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
