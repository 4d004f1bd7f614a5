"""Dashboard users (admin): list, create with a password (kept as its scrypt hash), delete."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from edgeloop.api import users
from edgeloop.api.deps import Admin, Store
from edgeloop.api.pages import Paged

router = APIRouter(prefix="/users", tags=["users"])


class NewUser(BaseModel):
    name: str = Field(pattern=users.NAME.pattern, description="the name to log in with")
    role: Literal["viewer", "operator", "admin"]
    password: str = Field(min_length=users.MIN_PASSWORD, max_length=1000)


@router.get("")
def list_users(store: Store, _: Admin, page: Paged) -> dict[str, Any]:
    return page.of(users.listing(store))


@router.post("", status_code=201)
async def create_user(body: NewUser, store: Store, _: Admin) -> dict[str, Any]:
    try:
        await run_in_threadpool(users.create_user, store, body.name, body.role, body.password, time.time())
    except users.UserError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"name": body.name, "role": body.role}


@router.delete("/{name}", status_code=204)
def delete_user(name: str, store: Store, _: Admin) -> Response:
    """Delete a user; their sessions end at once."""
    if not users.delete_user(store, name):
        raise HTTPException(404, f"no user {name!r}")
    return Response(status_code=204)
