"""Every error as an RFC 9457 problem detail (`application/problem+json`): type, title, status, detail, instance.

Routes raise `HTTPException` as usual; a `detail` that is a dict adds its members to the problem (the policy
check adds `field`, `line` and `reason`). Request validation errors list each bad field under `errors`.

>>> problem(404, "no decision x", "/api/v1/decisions/x").body
b'{"type":"about:blank","title":"Not Found","status":404,"detail":"no decision x","instance":"/api/v1/decisions/x"}'
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class ProblemResponse(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem(
    status: int, detail: str, instance: str, headers: dict[str, str] | None = None, **extra: Any
) -> ProblemResponse:
    """A problem detail response; `extra` members go after the standard ones."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": instance, **extra}
    return ProblemResponse(body, status_code=status, headers=headers)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    extra: dict[str, Any] = {}
    detail = exc.detail
    if isinstance(detail, dict):
        extra = {k: v for k, v in detail.items() if k not in ("type", "title", "status", "instance")}
        detail = str(extra.pop("detail", extra.get("reason", HTTPStatus(exc.status_code).phrase)))
    return problem(exc.status_code, str(detail), request.url.path, dict(exc.headers or {}), **extra)


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"where": ".".join(str(p) for p in e.get("loc", ())), "reason": str(e.get("msg", ""))} for e in exc.errors()
    ]
    said = "; ".join(f"{e['where']}: {e['reason']}" for e in errors[:3])
    return problem(422, f"the request is not valid: {said}", request.url.path, errors=errors)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, f"internal error ({type(exc).__name__}); see the server log", request.url.path)


def install(app: FastAPI) -> None:
    """Make every error of `app` a problem detail."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
