"""What every route shares: the caller's role from a bearer token, and the site store opened for one request."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterator
from enum import IntEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edgeloop.api import tokens
from edgeloop.settings import Settings


class Role(IntEnum):
    """Each role may do what the ones below it may."""

    VIEWER = 1  # read decisions, approvals, the ROI report, the audit check
    OPERATOR = 2  # and answer approvals, give verdicts
    ADMIN = 3  # and everything added for administrators


_bearer = HTTPBearer(auto_error=False)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def caller_role(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Role:
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token", {"WWW-Authenticate": "Bearer"})
    given = credentials.credentials
    for token, role in settings_of(request).api.tokens.items():
        if secrets.compare_digest(token.encode(), given.encode()):
            return Role[role.upper()]
    path = settings_of(request).agent.db_path
    if path.exists():
        conn = sqlite3.connect(path, timeout=10)
        try:
            stored = tokens.role_of(conn, given)
        finally:
            conn.close()
        if stored is not None:
            return Role[stored.upper()]
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown token", {"WWW-Authenticate": "Bearer"})


def require(least: Role) -> Callable[[Role], Role]:
    def check(role: Annotated[Role, Depends(caller_role)]) -> Role:
        if role < least:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {least.name.lower()} role")
        return role

    return check


def store(request: Request) -> Iterator[sqlite3.Connection]:
    """The site store for one request (the agent writes it; the API reads it and writes only the inbox)."""
    path = settings_of(request).agent.db_path
    if not path.exists():
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no site store yet for {path.parent.name}")
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False)  # FastAPI may close it on another thread
    try:
        yield conn
    finally:
        conn.close()


Store = Annotated[sqlite3.Connection, Depends(store)]
Viewer = Annotated[Role, Depends(require(Role.VIEWER))]
Operator = Annotated[Role, Depends(require(Role.OPERATOR))]
