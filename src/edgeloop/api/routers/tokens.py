"""API tokens (admin): list, create (shown once, kept as its SHA-256), rotate, revoke."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field

from edgeloop.api import tokens
from edgeloop.api.deps import Admin, Store
from edgeloop.api.pages import Paged

router = APIRouter(prefix="/tokens", tags=["tokens"])
DAY_S = 86_400.0


class NewToken(BaseModel):
    role: Literal["viewer", "operator", "admin"]
    name: str = Field("", max_length=100, description="who or what it is for")
    ttl_days: float = Field(tokens.TTL_S / DAY_S, gt=0, le=3650, description="days until it expires")


class Rotation(BaseModel):
    grace_s: float = Field(
        tokens.ROTATE_GRACE_S, ge=0, le=30 * DAY_S, description="seconds the old token still works (0: none)"
    )
    ttl_days: float = Field(tokens.TTL_S / DAY_S, gt=0, le=3650, description="days until the new one expires")


@router.get("")
def list_tokens(store: Store, _: Admin, page: Paged) -> dict[str, Any]:
    """Tokens by id, role, name and when they were made, expire or were revoked (never the tokens themselves)."""
    return page.of(tokens.listing(store))


@router.post("", status_code=201)
def create_token(body: NewToken, store: Store, _: Admin) -> dict[str, Any]:
    """The token is in this answer only; keep it."""
    now = time.time()
    token = tokens.create(store, body.role, body.name, now, body.ttl_days * DAY_S)
    return {"id": tokens.id_of(token), "token": token, "role": body.role, "name": body.name,
            "expires": now + body.ttl_days * DAY_S}  # fmt: skip


@router.post("/{token_id}/rotate", status_code=201)
def rotate_token(token_id: str, store: Store, _: Admin, body: Rotation | None = None) -> dict[str, Any]:
    """A new token for the same role and name (in this answer only); the old one stops working after
    `grace_s` seconds (a day unless told otherwise)."""
    asked = body or Rotation()
    now = time.time()
    token = tokens.rotate(store, token_id, now, asked.grace_s, asked.ttl_days * DAY_S)
    if token is None:
        raise HTTPException(404, f"no live token {token_id!r}")
    return {"id": tokens.id_of(token), "token": token, "replaces": token_id, "old_expires": now + asked.grace_s,
            "expires": now + asked.ttl_days * DAY_S}  # fmt: skip


@router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: str, store: Store, _: Admin) -> Response:
    if not tokens.revoke(store, token_id, time.time()):
        raise HTTPException(404, f"no live token {token_id!r}")
    return Response(status_code=204)
