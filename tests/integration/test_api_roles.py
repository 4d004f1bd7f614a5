"""Every route against every role: no token or an unknown one is 401, a role below the route's is 403, the
route's role and those above it get through (2xx, or the route's own 404/409 on a made-up id)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from edgeloop.agent.site import SiteAgent
from edgeloop.settings import Settings

ROLES = ("viewer", "operator", "admin")
ROUTES = [  # method, path, least role, JSON body
    ("GET", "/api/v1/devices", "viewer", None),
    ("GET", "/api/v1/devices/pump-0/telemetry/vibration", "viewer", None),
    ("GET", "/api/v1/decisions", "viewer", None),
    ("GET", "/api/v1/decisions/unknown-id", "viewer", None),
    ("GET", "/api/v1/approvals", "viewer", None),
    ("GET", "/api/v1/quarantine", "viewer", None),
    ("GET", "/api/v1/roi", "viewer", None),
    ("GET", "/api/v1/audit/verify", "viewer", None),
    ("GET", "/metrics", "viewer", None),
    ("GET", "/api/v1/policy", "viewer", None),
    ("POST", "/api/v1/approvals/unknown-id/approve", "operator", {"by": "t"}),
    ("POST", "/api/v1/approvals/unknown-id/reject", "operator", {"by": "t"}),
    ("POST", "/api/v1/decisions/unknown-id/verdict", "operator", {"by": "t", "verdict": "unsure"}),
    ("PUT", "/api/v1/policy?by=t", "admin", {"not": "a policy"}),  # 422 for the admin: it got through
]


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

    def call(headers: dict[str, str]) -> int:
        return httpx.request(method, base + path, json=body, headers=headers, timeout=10).status_code

    assert call({}) == 401
    assert call({"Authorization": "Bearer not-a-token-of-this-site"}) == 401
    for role in ROLES:
        status = call(auth(role))
        if ROLES.index(role) < ROLES.index(least):
            assert status == 403, f"{role} on {method} {path}"
        else:
            assert status in (200, 404, 409, 422), f"{role} on {method} {path}: {status}"
