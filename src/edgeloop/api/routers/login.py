"""Logging in to the dashboard with a user name and password: the answer carries a session token for the page."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from edgeloop.api import users
from edgeloop.api.deps import Anyone, Store
from edgeloop.api.throttle import LoginGuard

router = APIRouter(tags=["login"])
log = logging.getLogger("edgeloop.api.writes")


class Credentials(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)


@router.post("/login")
async def login(body: Credentials, store: Store, request: Request) -> dict[str, Any]:
    """A session token (`els_...`) to send as `Authorization: Bearer`, valid 12 h or until logout. Failed
    logins slow down the next ones: past a few free tries per name, per client address and per pair of them,
    each try waits longer after the last (429 with `Retry-After`), up to a minute for a name tried from
    many addresses."""
    guard: LoginGuard = request.app.state.login_guard
    now = time.time()
    address = request.client.host if request.client else "unknown"
    attempt = guard.admit(body.name, address, now)
    if not attempt.counted:
        wait = math.ceil(attempt.wait_s)
        raise HTTPException(429, f"too many failed logins: try again in {wait} s", {"Retry-After": str(wait)})
    role = await run_in_threadpool(users.check_password, store, body.name, body.password)
    if role is None:
        log.warning("failed login as %r from %s", body.name, address)
        raise HTTPException(401, "wrong user name or password")
    guard.succeeded(attempt)
    token = users.open_session(store, body.name, now, users.SESSION_S)
    log.info("login: user %s (%s)", body.name, role)
    return {"token": token, "user": body.name, "role": role, "expires": now + users.SESSION_S}


@router.post("/logout")
def logout(who: Anyone, store: Store) -> dict[str, Any]:
    """End the session this request was made with (a token is revoked with `DELETE /tokens/{id}` instead)."""
    if who.session is None:
        raise HTTPException(400, "this request was not made with a login session")
    return {"ended": users.end_session(store, who.session)}


@router.get("/me")
def me(who: Anyone) -> dict[str, Any]:
    """Who the caller is and with which role (the dashboard shows or hides its buttons by it)."""
    return {"who": who.who, "role": who.role.name.lower()}
