"""What every route shares: who calls (a bearer token or a login session) with which role, and the site store
opened for one request."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edgeloop.api import tokens, users
from edgeloop.settings import Settings


class Role(IntEnum):
    """Each role may do what the ones below it may."""

    VIEWER = 1  # read everything but users and tokens
    OPERATOR = 2  # and answer approvals, give verdicts
    ADMIN = 3  # and manage tokens, users and the policy


@dataclass(frozen=True)
class Caller:
    """Who makes a request: `who` names them in the write log (never the token itself)."""

    role: Role
    who: str
    session: str | None = None  # the session token, when they logged in with a password


_bearer = HTTPBearer(auto_error=False)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": "Bearer"})


def _identify(settings: Settings, given: str) -> Caller | None:
    for token, role in settings.api.tokens.items():
        if secrets.compare_digest(token.encode(), given.encode()):
            return Caller(Role[role.upper()], "a token from the settings")
    path = settings.agent.db_path
    if not path.exists():
        return None
    conn = sqlite3.connect(path, timeout=10)
    try:
        if given.startswith("els_"):
            session = users.session_of(conn, given, time.time())
            return None if session is None else Caller(Role[session[1].upper()], f"user {session[0]}", given)
        stored = tokens.holder(conn, given)
        return None if stored is None else Caller(Role[stored[1].upper()], f"token {stored[0]} ({stored[2]})")
    finally:
        conn.close()


def caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    if credentials is None:
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>' or log in")
    found = _identify(settings_of(request), credentials.credentials)
    if found is None:
        raise _unauthorized("unknown, revoked or expired token")
    request.state.caller = found  # for the write log
    return found


def require(least: Role) -> Callable[[Caller], Caller]:
    def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role < least:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {least.name.lower()} role")
        return who

    return check


def store(request: Request) -> Iterator[sqlite3.Connection]:
    """The site store for one request (the agent writes it; the API reads it and writes only the inbox and
    its own tables of tokens, users and sessions)."""
    path = settings_of(request).agent.db_path
    if not path.exists():
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no site store yet for {path.parent.name}")
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False)  # FastAPI may close it on another thread
    try:
        yield conn
    finally:
        conn.close()


Store = Annotated[sqlite3.Connection, Depends(store)]
Anyone = Annotated[Caller, Depends(caller)]
Viewer = Annotated[Caller, Depends(require(Role.VIEWER))]
Operator = Annotated[Caller, Depends(require(Role.OPERATOR))]
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
