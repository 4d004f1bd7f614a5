"""Logging in, users and tokens managed through the API, problem details, paging, and the write log."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable

import httpx
import pytest
from typer.testing import CliRunner

from edgeloop.agent.site import SiteAgent
from edgeloop.cli import app
from edgeloop.settings import Settings

Auth = Callable[[str], dict[str, str]]
Site = tuple[Settings, SiteAgent, str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_admin_makes_a_user_who_logs_in_and_out(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    made = httpx.post(f"{url}/users", json={"name": "ana", "role": "operator", "password": "pump-room-7"},
                      headers=auth("admin"))  # fmt: skip
    assert made.status_code == 201, made.text
    assert httpx.post(f"{url}/login", json={"name": "ana", "password": "wrong-one"}).status_code == 401

    session = httpx.post(f"{url}/login", json={"name": "ana", "password": "pump-room-7"}).json()
    assert session["role"] == "operator"
    assert httpx.get(f"{url}/me", headers=bearer(session["token"])).json() == {"who": "user ana", "role": "operator"}
    assert httpx.get(f"{url}/users", headers=bearer(session["token"])).status_code == 403

    assert httpx.post(f"{url}/logout", headers=bearer(session["token"])).json() == {"ended": True}
    assert httpx.get(f"{url}/me", headers=bearer(session["token"])).status_code == 401


def test_a_name_with_five_failed_logins_must_wait(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    httpx.post(f"{url}/users", json={"name": "fy", "role": "viewer", "password": "right-one-1"}, headers=auth("admin"))
    for _ in range(5):
        assert httpx.post(f"{url}/login", json={"name": "fy", "password": "guess-guess"}).status_code == 401
    refused = httpx.post(f"{url}/login", json={"name": "fy", "password": "right-one-1"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "too many failed logins" in refused.json()["detail"]
    time.sleep(int(refused.headers["retry-after"]))  # a back-off, not a lockout: after the wait, one more try
    assert httpx.post(f"{url}/login", json={"name": "fy", "password": "right-one-1"}).status_code == 200


def test_guesses_sent_at_once_are_counted_before_the_password_is_checked(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    httpx.post(f"{url}/users", json={"name": "cy", "role": "viewer", "password": "right-one-2"}, headers=auth("admin"))

    async def guess_60() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            answers = await asyncio.gather(
                *(client.post(f"{url}/login", json={"name": "cy", "password": f"guess-{i:03d}"}) for i in range(60))
            )
        return [a.status_code for a in answers]

    statuses = asyncio.run(guess_60())
    assert statuses.count(401) == 5  # only the free tries reached the password check
    assert statuses.count(429) == 55


def test_deleting_a_user_ends_their_sessions(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    httpx.post(f"{url}/users", json={"name": "bo", "role": "viewer", "password": "night-shift"}, headers=auth("admin"))
    token = httpx.post(f"{url}/login", json={"name": "bo", "password": "night-shift"}).json()["token"]
    assert httpx.get(f"{url}/decisions", headers=bearer(token)).status_code == 200
    assert httpx.delete(f"{url}/users/bo", headers=auth("admin")).status_code == 204
    assert httpx.get(f"{url}/decisions", headers=bearer(token)).status_code == 401
    assert httpx.delete(f"{url}/users/bo", headers=auth("admin")).status_code == 404


def test_the_user_command_makes_lists_and_deletes_users(api_site: Site) -> None:
    settings, _, url = api_site
    where = ["--site", settings.agent.site, "--data-dir", str(settings.agent.data_dir)]
    made = CliRunner().invoke(app, ["user", "create", "cy", "--role", "admin", "--password-stdin", *where],
                              input="a-long-password\n")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert httpx.post(f"{url}/login", json={"name": "cy", "password": "a-long-password"}).json()["role"] == "admin"
    short = CliRunner().invoke(app, ["user", "create", "dee", "--role", "viewer", "--password-stdin", *where],
                               input="short\n")  # fmt: skip
    assert short.exit_code == 2
    assert "at least 8 characters" in short.output
    assert "cy" in CliRunner().invoke(app, ["user", "list", *where]).stdout
    assert CliRunner().invoke(app, ["user", "delete", "cy", *where]).exit_code == 0
    assert httpx.post(f"{url}/login", json={"name": "cy", "password": "a-long-password"}).status_code == 401


def test_an_admin_makes_and_revokes_a_token_through_the_api(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    made = httpx.post(f"{url}/tokens", json={"role": "viewer", "name": "wallboard"}, headers=auth("admin")).json()
    assert httpx.get(f"{url}/sites", headers=bearer(made["token"])).status_code == 200
    listed = httpx.get(f"{url}/tokens", headers=auth("admin")).json()
    assert [t["name"] for t in listed["items"]] == ["wallboard"]
    assert made["token"] not in str(listed)
    assert httpx.delete(f"{url}/tokens/{made['id']}", headers=auth("admin")).status_code == 204
    assert httpx.get(f"{url}/sites", headers=bearer(made["token"])).status_code == 401


def test_a_token_expires_and_rotates(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    made = httpx.post(f"{url}/tokens", json={"role": "viewer", "name": "kiosk", "ttl_days": 30},
                      headers=auth("admin")).json()  # fmt: skip
    assert 29.9 * 86_400 < made["expires"] - time.time() <= 30 * 86_400
    graced = httpx.post(f"{url}/tokens/{made['id']}/rotate", json={"grace_s": 60}, headers=auth("admin")).json()
    assert httpx.get(f"{url}/sites", headers=bearer(made["token"])).status_code == 200  # within its grace
    assert httpx.get(f"{url}/sites", headers=bearer(graced["token"])).status_code == 200
    at_once = httpx.post(f"{url}/tokens/{graced['id']}/rotate", json={"grace_s": 0}, headers=auth("admin")).json()
    assert httpx.get(f"{url}/sites", headers=bearer(graced["token"])).status_code == 401
    assert httpx.get(f"{url}/sites", headers=bearer(at_once["token"])).status_code == 200
    assert httpx.post(f"{url}/tokens/{graced['id']}/rotate", headers=auth("admin")).status_code == 404
    listed = {t["id"]: t for t in httpx.get(f"{url}/tokens", headers=auth("admin")).json()["items"]}
    assert listed[made["id"]]["expires"] <= time.time() + 60
    assert {listed[i]["name"] for i in (made["id"], graced["id"], at_once["id"])} == {"kiosk"}


def test_secrets_in_a_query_string_are_not_logged(api_site: Site, caplog: pytest.LogCaptureFixture) -> None:
    _, _, url = api_site
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)  # the test server runs at "warning"
    httpx.get(f"{url}/decisions?access_token=el_abcd_very-secret&limit=3")
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert any("access_token=REDACTED&limit=3" in line for line in lines), lines
    assert not any("very-secret" in line for line in lines)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("GET", "/decisions", None, 401, "missing bearer token"),
        ("GET", "/decisions/nope", None, 404, "no decision nope"),
        ("GET", "/decisions?limit=0", None, 422, "query.limit"),
        ("POST", "/decisions/nope/verdict", {"verdict": "maybe"}, 422, "body.verdict"),
        ("POST", "/approvals/nope/approve", {}, 409, "no pending approval"),
    ],
)
def test_errors_are_problem_details(
    api_site: Site, agent_reading_inbox: Callable[[], None], auth: Auth,
    method: str, path: str, body: dict[str, str] | None, status: int, says: str,
) -> None:  # fmt: skip
    _, _, url = api_site
    headers = {} if status == 401 else auth("operator")
    response = httpx.request(method, url + path, json=body, headers=headers, timeout=10)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["instance"] == "/api/v1" + path.split("?")[0]
    assert says in problem["detail"]


def test_lists_are_paged_with_their_total(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    first = httpx.get(f"{url}/devices?limit=4", headers=auth("viewer")).json()
    rest = httpx.get(f"{url}/devices?limit=100&offset=4", headers=auth("viewer")).json()
    assert (first["total"], first["limit"], first["offset"], len(first["items"])) == (10, 4, 0, 4)
    assert len(rest["items"]) == 6
    names = [d["device"] for d in first["items"] + rest["items"]]
    assert names == sorted(set(names))


def test_every_write_gets_a_log_line_naming_who(api_site: Site, auth: Auth, caplog: pytest.LogCaptureFixture) -> None:
    _, _, url = api_site
    caplog.set_level(logging.INFO, logger="edgeloop.api.writes")
    httpx.post(f"{url}/tokens", json={"role": "viewer", "name": "kiosk"}, headers=auth("admin"))
    httpx.post(f"{url}/users", json={"name": "ed", "role": "viewer", "password": "pass-word-1"}, headers=auth("admin"))
    httpx.post(f"{url}/login", json={"name": "ed", "password": "nope-nope"})
    httpx.delete(f"{url}/users/ed", headers=auth("viewer"))
    lines = [r.getMessage() for r in caplog.records if r.name == "edgeloop.api.writes"]
    admin, viewer = (f"settings token {hashlib.sha256(auth(r)['Authorization'][7:].encode()).hexdigest()[:8]}"
                     for r in ("admin", "viewer"))  # fmt: skip
    assert f"POST /api/v1/tokens by {admin} [admin]: 201" in lines
    assert f"POST /api/v1/users by {admin} [admin]: 201" in lines
    assert "failed login as 'ed' from 127.0.0.1" in lines
    assert f"DELETE /api/v1/users/ed by {viewer} [viewer]: 403" in lines
    assert not any(auth(r)["Authorization"][7:] in line for r in ("admin", "viewer") for line in lines)
