"""API tokens (admin): list, create (shown once, kept as its SHA-256), revoke."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field

from edgeloop.api import tokens
from edgeloop.api.deps import Admin, Store
from edgeloop.api.pages import Paged

router = APIRouter(prefix="/tokens", tags=["tokens"])


class NewToken(BaseModel):
    role: Literal["viewer", "operator", "admin"]
    name: str = Field("", max_length=100, description="who or what it is for")


@router.get("")
def list_tokens(store: Store, _: Admin, page: Paged) -> dict[str, Any]:
    """Tokens by id, role, name and when they were made or revoked (never the tokens themselves)."""
    return page.of(tokens.listing(store))


@router.post("", status_code=201)
def create_token(body: NewToken, store: Store, _: Admin) -> dict[str, Any]:
    """The token is in this answer only; keep it."""
    token = tokens.create(store, body.role, body.name, time.time())
    return {"id": token.split("_")[1], "token": token, "role": body.role, "name": body.name}


@router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: str, store: Store, _: Admin) -> Response:
    if not tokens.revoke(store, token_id, time.time()):
        raise HTTPException(404, f"no live token {token_id!r}")
    return Response(status_code=204)
