"""Every route against every role: no token or an unknown one is 401, a role below the route's is 403, the
route's role and those above it get through (2xx, or the route's own 400/404/409/422 on a made-up id or body).
Errors are problem details. The few public routes are listed too, so that a new route must be placed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from edgeloop.agent.site import SiteAgent
from edgeloop.api import create_app
from edgeloop.settings import Settings

ROLES = ("viewer", "operator", "admin")
ROUTES = [  # method, path, least role, JSON body
    ("GET", "/api/v1/sites", "viewer", None),
    ("GET", "/api/v1/sites/apisite", "viewer", None),
    ("GET", "/api/v1/devices", "viewer", None),
    ("GET", "/api/v1/devices/pump-0", "viewer", None),
    ("GET", "/api/v1/devices/pump-0/telemetry/vibration", "viewer", None),
    ("GET", "/api/v1/anomalies", "viewer", None),
    ("GET", "/api/v1/decisions", "viewer", None),
    ("GET", "/api/v1/decisions/unknown-id", "viewer", None),
    ("GET", "/api/v1/approvals", "viewer", None),
    ("GET", "/api/v1/quarantine", "viewer", None),
    ("GET", "/api/v1/roi", "viewer", None),
    ("GET", "/api/v1/roi/plots", "viewer", None),
    ("GET", "/api/v1/audit/verify", "viewer", None),
    ("GET", "/api/v1/audit/records", "viewer", None),
    ("GET", "/api/v1/events", "viewer", None),
    ("GET", "/api/v1/me", "viewer", None),
    ("POST", "/api/v1/logout", "viewer", None),  # 400 for a token: there is no session to end
    ("GET", "/metrics", "viewer", None),
    ("GET", "/api/v1/policy", "viewer", None),
    ("POST", "/api/v1/approvals/unknown-id/approve", "operator", {"by": "t"}),
    ("POST", "/api/v1/approvals/unknown-id/reject", "operator", {"by": "t"}),
    ("POST", "/api/v1/decisions/unknown-id/verdict", "operator", {"by": "t", "verdict": "unsure"}),
    ("PUT", "/api/v1/policy?by=t", "admin", {"not": "a policy"}),  # 422 for the admin: it got through
    ("GET", "/api/v1/users", "admin", None),
    ("POST", "/api/v1/users", "admin", {"name": "t", "role": "viewer", "password": "short"}),  # 422
    ("DELETE", "/api/v1/users/nobody", "admin", None),  # 404
    ("GET", "/api/v1/tokens", "admin", None),
    ("POST", "/api/v1/tokens", "admin", {"role": "emperor"}),  # 422
    ("DELETE", "/api/v1/tokens/nothing", "admin", None),  # 404
]


@pytest.fixture(scope="module")
def api_site(
    tmp_path_factory: pytest.TempPathFactory,
    site_server: Callable[[Path], AbstractContextManager[tuple[Settings, SiteAgent, str]]],
) -> Iterator[tuple[Settings, SiteAgent, str]]:
    """One site for the whole matrix: no call in it changes what the next one sees (made-up ids, bad bodies)."""
    with site_server(tmp_path_factory.mktemp("roles")) as site:
        yield site


PUBLIC = {("GET", "/api/v1/health"), ("POST", "/api/v1/login")}  # and the page, its files and the OpenAPI docs


@pytest.mark.parametrize(("method", "path", "least", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_route_by_role(
    api_site: tuple[Settings, SiteAgent, str],
    agent_reading_inbox: Callable[[], None],
    auth: Callable[[str], dict[str, str]],
    method: str,
    path: str,
    least: str,
    body: dict[str, str] | None,
) -> None:
    _, _, url = api_site
    base = url.removesuffix("/api/v1")

    def call(headers: dict[str, str]) -> tuple[int, str]:
        with httpx.stream(method, base + path, json=body, headers=headers, timeout=10) as response:
            return response.status_code, response.headers.get("content-type", "")

    assert call({}) == (401, "application/problem+json")
    assert call({"Authorization": "Bearer not-a-token-of-this-site"}) == (401, "application/problem+json")
    for role in ROLES:
        status, kind = call(auth(role))
        if ROLES.index(role) < ROLES.index(least):
            assert (status, kind) == (403, "application/problem+json"), f"{role} on {method} {path}"
        else:
            assert status in (200, 201, 204, 400, 404, 409, 422), f"{role} on {method} {path}: {status}"


def test_every_route_is_in_the_matrix_or_public() -> None:
    app = create_app(Settings())
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    in_matrix = {(m, p.split("?")[0]) for m, p, _, _ in ROUTES} | PUBLIC
    for method, path in served:  # a made-up value fills each {part}
        pattern = re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path))
        assert any(m == method and pattern.fullmatch(p) for m, p in in_matrix), f"{method} {path} not in the matrix"
