"""Logging in to the dashboard with a user name and password: the answer carries a session token for the page."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from edgeloop.api import users
from edgeloop.api.deps import Anyone, Store

router = APIRouter(tags=["login"])
log = logging.getLogger("edgeloop.api.writes")


class Credentials(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)


@router.post("/login")
async def login(body: Credentials, conn: Store) -> dict[str, Any]:
    """A session token (`els_...`) to send as `Authorization: Bearer`, valid 12 h or until logout."""
    role = await run_in_threadpool(users.check_password, conn, body.name, body.password)
    if role is None:
        log.warning("failed login as %r", body.name)
        raise HTTPException(401, "wrong user name or password")
    now = time.time()
    token = users.open_session(conn, body.name, now, users.SESSION_S)
    log.info("login: user %s (%s)", body.name, role)
    return {"token": token, "user": body.name, "role": role, "expires": now + users.SESSION_S}


@router.post("/logout")
def logout(who: Anyone, conn: Store) -> dict[str, Any]:
    """End the session this request was made with (a token is revoked with `DELETE /tokens/{id}` instead)."""
    if who.session is None:
        raise HTTPException(400, "this request was not made with a login session")
    return {"ended": users.end_session(conn, who.session)}


@router.get("/me")
def me(who: Anyone) -> dict[str, Any]:
    """Who the caller is and with which role (the dashboard shows or hides its buttons by it)."""
    return {"who": who.who, "role": who.role.name.lower()}
