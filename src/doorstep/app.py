"""The web application: JSON API under /api, pages elsewhere, one process."""

from __future__ import annotations

import logging
from pathlib import Path

from argon2 import PasswordHasher
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

from doorstep.api.routes import audit as audit_api
from doorstep.api.routes import cases as cases_api
from doorstep.api.routes import conduct as conduct_api
from doorstep.api.routes import disputes as disputes_api
from doorstep.api.routes import feedback as feedback_api
from doorstep.api.routes import me as me_api
from doorstep.api.routes import offers as offers_api
from doorstep.api.routes import privacy as privacy_api
from doorstep.api.routes import reveals as reveals_api
from doorstep.config import Settings
from doorstep.domain.ports import Clock, SystemClock
from doorstep.http import errors
from doorstep.http.context import AppState
from doorstep.http.headers import SecurityHeaders
from doorstep.http.limits import RefuseNul, RequestSizeLimit, refuse_nul_in_multipart
from doorstep.integrations.crypto import local_secret
from doorstep.integrations.keys import audit_keyring, key_location_warnings, personal_data_keys
from doorstep.services.conduct import audit
from doorstep.services.people import users
from doorstep.store import migrate
from doorstep.store.db import make_engine
from doorstep.web.forms import error_page
from doorstep.web.routes import alerts as alert_pages
from doorstep.web.routes import auth as auth_pages
from doorstep.web.routes import batch as batch_pages
from doorstep.web.routes import case_holds as case_hold_pages
from doorstep.web.routes import cases as case_pages
from doorstep.web.routes import dashboard as dashboard_pages
from doorstep.web.routes import feedback as feedback_pages
from doorstep.web.routes import models as model_pages
from doorstep.web.routes import offers as offer_pages
from doorstep.web.routes import plans as plan_pages
from doorstep.web.routes import portal as portal_pages
from doorstep.web.routes import portal_plans as portal_plan_pages
from doorstep.web.routes import portal_privacy as portal_privacy_pages
from doorstep.web.routes import privacy as privacy_pages
from doorstep.web.routes import quality as quality_pages
from doorstep.web.routes import rules as rule_pages
from doorstep.web.routes import tasks as task_pages
from doorstep.web.routes import visits as visit_pages
from doorstep.web.security import check_csrf

log = logging.getLogger("doorstep")

# The JSON API first, then the pages; every router checks CSRF on unsafe cookie requests.
ROUTERS = (
    cases_api.router,
    conduct_api.router,
    disputes_api.router,
    audit_api.router,
    feedback_api.router,
    me_api.router,
    privacy_api.router,
    reveals_api.router,
    offers_api.router,
    auth_pages.router,
    case_pages.router,
    case_hold_pages.router,
    dashboard_pages.router,
    batch_pages.router,
    feedback_pages.router,
    model_pages.router,
    plan_pages.router,
    rule_pages.router,
    quality_pages.router,
    offer_pages.router,
    portal_pages.router,
    portal_privacy_pages.router,
    privacy_pages.router,
    portal_plan_pages.router,
    visit_pages.router,
    alert_pages.router,
    task_pages.router,
)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    migrate_schema: bool = True,
    clock: Clock | None = None,
    password_hasher: PasswordHasher | None = None,
) -> FastAPI:
    settings = settings or Settings()
    engine = engine or make_engine(settings.resolved_database_url)
    cipher, hasher = personal_data_keys(settings)
    for warning in key_location_warnings(settings):
        log.warning(warning)
    if migrate_schema:
        migrate.upgrade(engine, keys=(cipher, hasher))
    audit.use_keys(engine, audit_keyring(settings))
    app = FastAPI(
        title="doorstep",
        version="0.1.0",
        description="Home-visit verification of overdue consumer loans.",
    )
    app.state.doorstep = AppState(
        settings,
        engine,
        cipher,
        hasher,
        clock or SystemClock(),
        password_hasher or users.standard_hasher(),
    )
    # Only the sign-in forms' CSRF token lives in this signed cookie; a signed-in person's
    # session is a server-side row (services.people.sessions, http.context.SESSION_COOKIE).
    secret = settings.session_secret or local_secret(settings.secrets_dir / "session.key")
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="doorstep_form",
        max_age=12 * 3600,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    errors.install(app, render_page=error_page)
    app.add_middleware(RefuseNul)  # inside the size limit, which bounds what it reads
    app.add_middleware(RequestSizeLimit, max_bytes=settings.max_request_bytes)
    # outermost: every answer, the refusals of the middlewares inside included
    app.add_middleware(SecurityHeaders, tile_url=settings.map_tile_url)
    # the multipart check first: it reads the form with the app's limits
    checks = [Depends(refuse_nul_in_multipart), Depends(check_csrf)]
    for router in ROUTERS:
        app.include_router(router, dependencies=checks)
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    return app
