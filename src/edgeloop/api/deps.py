"""What every route shares: who calls (a bearer token or a login session) with which role, and the site store
for one request, taken from the stores the app's lifespan keeps open."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edgeloop.api import tokens, users
from edgeloop.io.store import NoStoreError, OperatorStore, OperatorStores
from edgeloop.settings import Settings


class Role(IntEnum):
    """Each role may do what the ones below it may."""

    VIEWER = 1  # read everything but users and tokens
    OPERATOR = 2  # and answer approvals, give verdicts
    ADMIN = 3  # and manage tokens, users and the policy


@dataclass(frozen=True)
class Caller:
    """Who makes a request: `who` names them in the write log and signs their answers to the agent (never the
    token itself): `user NAME`, `token ID (NAME)` or `settings token DIGEST`."""

    role: Role
    who: str
    session: str | None = None  # the session token, when they logged in with a password


_bearer = HTTPBearer(auto_error=False)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": "Bearer"})


def stores_of(request: Request) -> OperatorStores:
    stores: OperatorStores = request.app.state.stores  # opened and closed by the app's lifespan
    return stores


def _identify(request: Request, given: str) -> Caller | None:
    for token, role in settings_of(request).api.tokens.items():
        if secrets.compare_digest(token.encode(), given.encode()):
            # named by a short digest: it tells such tokens apart in the logs and on answers, and shows no secret
            return Caller(Role[role.upper()], f"settings token {hashlib.sha256(token.encode()).hexdigest()[:8]}")
    stores = stores_of(request)
    try:
        store = stores.take()
    except NoStoreError:
        return None
    try:
        if given.startswith("els_"):
            session = users.session_of(store, given, time.time())
            return None if session is None else Caller(Role[session[1].upper()], f"user {session[0]}", given)
        stored = tokens.holder(store, given)
        return None if stored is None else Caller(Role[stored[1].upper()], f"token {stored[0]} ({stored[2]})")
    finally:
        stores.give_back(store)


def caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    if credentials is None:
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>' or log in")
    found = _identify(request, credentials.credentials)
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


def store(request: Request) -> Iterator[OperatorStore]:
    """The site store for one request (the agent writes it; the API reads it and writes only the inbox and
    its own tables of tokens, users and sessions)."""
    stores = stores_of(request)
    try:
        taken = stores.take()
    except NoStoreError:
        path = settings_of(request).agent.db_path
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no site store yet for {path.parent.name}") from None
    try:
        yield taken
    finally:
        stores.give_back(taken)


Store = Annotated[OperatorStore, Depends(store)]
Anyone = Annotated[Caller, Depends(caller)]
Viewer = Annotated[Caller, Depends(require(Role.VIEWER))]
Operator = Annotated[Caller, Depends(require(Role.OPERATOR))]
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
