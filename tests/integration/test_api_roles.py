"""An OWASP-API-style check: every route against every role (anonymous, viewer, operator, admin), with the
status each cell must answer, as one table. Below a route's role the answer is 401 (no one) or 403 (too low);
at or above it the route's own answer to a made-up id or a bad body (200, 400, 404, 409, 422), so that no
cell can pass by being refused for the wrong reason. An unknown token is 401 everywhere but the public routes.
Every answer carries the security headers. A new route must be placed in the table."""

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

WHO = ("anonymous", "viewer", "operator", "admin")
V, A = (401, 200, 200, 200), (401, 403, 403, 200)  # what a viewer may read, what only an admin may


def _by_role(least: str, answer: int) -> tuple[int, ...]:
    """401 for the anonymous, 403 below `least`, `answer` from `least` up."""
    return tuple(401 if w == "anonymous" else 403 if WHO.index(w) < WHO.index(least) else answer for w in WHO)


TABLE: list[tuple[str, str, object, tuple[int, ...]]] = [  # method, path, JSON body, status per WHO
    ("GET", "/api/v1/sites", None, V),
    ("GET", "/api/v1/sites/apisite", None, V),
    ("GET", "/api/v1/devices", None, V),
    ("GET", "/api/v1/devices/pump-0", None, V),
    ("GET", "/api/v1/devices/pump-0/telemetry/vibration", None, V),
    ("GET", "/api/v1/devices/pump-0/events", None, V),
    ("GET", "/api/v1/devices/no-such-device/events", None, _by_role("viewer", 404)),
    ("GET", "/api/v1/anomalies", None, V),
    ("GET", "/api/v1/decisions", None, V),
    ("GET", "/api/v1/decisions/unknown-id", None, _by_role("viewer", 404)),
    ("GET", "/api/v1/approvals", None, V),
    ("GET", "/api/v1/quarantine", None, V),
    ("GET", "/api/v1/roi", None, V),
    ("GET", "/api/v1/roi/plots", None, V),
    ("GET", "/api/v1/roi/series", None, V),
    ("GET", "/api/v1/audit/verify", None, V),
    ("GET", "/api/v1/audit/records", None, V),
    ("GET", "/api/v1/audit/head", None, _by_role("viewer", 404)),  # the test site's agent has not run
    ("GET", "/api/v1/events", None, V),
    ("GET", "/api/v1/me", None, V),
    ("POST", "/api/v1/logout", None, _by_role("viewer", 400)),  # a token has no session to end
    ("GET", "/metrics", None, V),
    ("GET", "/api/v1/policy", None, V),
    ("POST", "/api/v1/approvals/unknown-id/approve", {"why": "t"}, _by_role("operator", 409)),
    ("POST", "/api/v1/approvals/unknown-id/reject", {"why": "t"}, _by_role("operator", 409)),
    ("POST", "/api/v1/decisions/unknown-id/verdict", {"verdict": "unsure"}, _by_role("operator", 409)),
    ("PUT", "/api/v1/policy", {"not": "a policy"}, _by_role("admin", 422)),
    ("GET", "/api/v1/users", None, A),
    ("POST", "/api/v1/users", {"name": "t", "role": "viewer", "password": "short"}, _by_role("admin", 422)),
    ("DELETE", "/api/v1/users/nobody", None, _by_role("admin", 404)),
    ("GET", "/api/v1/tokens", None, A),
    ("POST", "/api/v1/tokens", {"role": "emperor"}, _by_role("admin", 422)),
    ("POST", "/api/v1/tokens/nothing/rotate", None, _by_role("admin", 404)),
    ("DELETE", "/api/v1/tokens/nothing", None, _by_role("admin", 404)),
    # public: the same answer for all
    ("GET", "/api/v1/health", None, (200,) * 4),
    ("POST", "/api/v1/login", {"name": "t"}, (422,) * 4),
    ("GET", "/", None, (200,) * 4),
    ("GET", "/docs", None, (200,) * 4),
    ("GET", "/openapi.json", None, (200,) * 4),
    ("GET", "/static/app.js", None, (200,) * 4),
    ("GET", "/static/swagger/swagger-ui-bundle.js", None, (200,) * 4),
]
PUBLIC = {path for _, path, _, statuses in TABLE if statuses[0] != 401}
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")


@pytest.fixture(scope="module")
def api_site(
    tmp_path_factory: pytest.TempPathFactory,
    site_server: Callable[[Path], AbstractContextManager[tuple[Settings, SiteAgent, str]]],
) -> Iterator[tuple[Settings, SiteAgent, str]]:
    """One site for the whole table: no call in it changes what the next one sees (made-up ids, bad bodies)."""
    with site_server(tmp_path_factory.mktemp("roles")) as site:
        yield site


def test_every_route_answers_every_role_as_the_table_says(
    api_site: tuple[Settings, SiteAgent, str],
    agent_reading_inbox: Callable[[], None],
    auth: Callable[[str], dict[str, str]],
) -> None:
    _, _, url = api_site
    base = url.removesuffix("/api/v1")
    headers = {w: {} if w == "anonymous" else auth(w) for w in WHO}
    wrong: list[str] = []
    with httpx.Client(base_url=base, timeout=10) as client:

        def call(method: str, path: str, body: object, sent: dict[str, str]) -> httpx.Response:
            with client.stream(method, path, json=body, headers=sent) as response:
                return response  # the status and headers; an event stream is not read on

        for method, path, body, statuses in TABLE:
            for who, expected in zip(WHO, statuses, strict=True):
                response = call(method, path, body, headers[who])
                if response.status_code != expected:
                    wrong.append(f"{who} {method} {path}: {response.status_code}, not {expected}")
                if response.status_code >= 400 and response.headers["content-type"] != "application/problem+json":
                    wrong.append(f"{who} {method} {path}: an error that is not a problem detail")
                missing = [h for h in SECURITY_HEADERS if h not in response.headers]
                if missing:
                    wrong.append(f"{who} {method} {path}: no {', '.join(missing)}")
            unknown = call(method, path, body, {"Authorization": "Bearer not-a-token-of-this-site"}).status_code
            if path not in PUBLIC and unknown != 401:
                wrong.append(f"an unknown token on {method} {path}: {unknown}, not 401")
    assert not wrong, "\n".join(wrong)


def test_every_route_is_in_the_table() -> None:
    app = create_app(Settings())
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    in_table = {(m, p.split("?")[0]) for m, p, _, _ in TABLE}
    for method, path in served:  # a made-up value fills each {part}
        pattern = re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path))
        assert any(m == method and pattern.fullmatch(p) for m, p in in_table), f"{method} {path} not in the table"
