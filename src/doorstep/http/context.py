"""What a request needs: the app's services, a database session, and the actor."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain.access import Actor
from doorstep.domain.credentials import Scope
from doorstep.domain.errors import NotSignedIn
from doorstep.domain.ports import Clock, SystemClock
from doorstep.integrations.crypto import DataCipher, HmacHasher
from doorstep.services.people import sessions, tokens, users


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
    """The client's address: the connection's, or, when that is a trusted proxy
    (`DOORSTEP_TRUSTED_PROXIES`), the nearest address in X-Forwarded-For that is not one of
    them (proxies append on the right, so what a client writes on the left is never
    believed). With no trusted proxies the header is ignored altogether."""
    peer = request.client.host if request.client else "unknown"
    networks = app_state(request).settings.proxy_networks
    if not networks or not _within(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    for hop in reversed([h for h in hops if h]):
        try:
            address = ip_address(hop)
        except ValueError:
            break  # not an address: nothing left of it can be believed
        if not any(address in network for network in networks):
            return str(address)
        peer = str(address)
    return peer


def _within(host: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


SESSION_COOKIE = "doorstep_session"
"""The staff session cookie: a random id, nothing else (services.people.sessions)."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def scope_needed(method: str, path: str) -> Scope | None:
    """The API token scope a request needs: the lender's feed needs `feedback`, reading
    `read`, anything else (changing cases and plans, reveals) `write`; /api/me any."""
    if path == "/api/me":
        return None
    if path == "/api/feedback" or path.startswith("/api/feedback/"):
        return Scope.FEEDBACK
    return Scope.READ if method in SAFE_METHODS else Scope.WRITE


def current_actor(request: Request, session: DbSession) -> Actor:
    """The signed-in user: a bearer token within its scopes (API clients), or a live
    server-side session named by the session cookie (pages)."""
    state = app_state(request)
    now = state.clock.now()
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        held = tokens.credential(session, header[7:].strip(), now=now)
        tokens.require(held.scopes, scope_needed(request.method, request.url.path))
        user = held.user
    elif raw_id := request.cookies.get(SESSION_COOKIE):
        user = sessions.user_of(session, raw_id, now=now, times=state.settings.session_times)
    else:
        raise NotSignedIn("sign in first", message_zh="请先登录")
    actor = users.actor_for(session, user)
    # End the transaction (it recorded when the session or token was last used): its
    # connection goes back to the pool while the request waits for a thread to run its
    # handler. Held across that wait, a burst of requests could hold every pooled
    # connection while the threads that would release them wait for a connection
    # themselves (the pool is smaller than the thread pool).
    session.commit()
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
