"""Logging in to the dashboard with a user name and password: the answer carries a session token for the page."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from edgeloop.api import users
from edgeloop.api.deps import Anyone, Store

router = APIRouter(tags=["login"])
log = logging.getLogger("edgeloop.api.writes")


class Credentials(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)


MAX_FAILURES = 5  # failed logins for one name within FAILURE_WINDOW_S before it must wait
FAILURE_WINDOW_S = 300.0


@router.post("/login")
async def login(body: Credentials, store: Store, request: Request) -> dict[str, Any]:
    """A session token (`els_...`) to send as `Authorization: Bearer`, valid 12 h or until logout. After 5
    failed logins for a name within 5 minutes, that name is refused (429) until the oldest is 5 minutes old."""
    failures: dict[str, list[float]] = request.app.state.failed_logins
    now = time.time()
    if len(failures) > 10_000:  # names tried at random must not grow it without end
        for name in [n for n, times in failures.items() if times[-1] <= now - FAILURE_WINDOW_S]:
            del failures[name]
    recent = [t for t in failures.get(body.name, []) if t > now - FAILURE_WINDOW_S]
    if len(recent) >= MAX_FAILURES:
        wait = int(recent[0] + FAILURE_WINDOW_S - now) + 1
        raise HTTPException(
            429, f"too many failed logins as {body.name!r}: try again in {wait} s", {"Retry-After": str(wait)}
        )
    role = await run_in_threadpool(users.check_password, store, body.name, body.password)
    if role is None:
        failures[body.name] = [*recent, now]
        log.warning("failed login as %r", body.name)
        raise HTTPException(401, "wrong user name or password")
    failures.pop(body.name, None)
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
