"""The REST API served by a real uvicorn server, over real HTTP, on a site store the agent wrote."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
from tests.conftest import fail_the_pending_device
from typer.testing import CliRunner

from edgeloop.agent.site import SiteAgent
from edgeloop.cli import app
from edgeloop.io.loopback import Loopback
from edgeloop.settings import Settings

Auth = Callable[[str], dict[str, str]]


def test_no_token_is_401_and_a_viewer_reads_decisions(api_site: tuple[Settings, SiteAgent, str], auth: Auth) -> None:
    _, _, url = api_site
    assert httpx.get(f"{url}/decisions").status_code == 401
    assert httpx.get(f"{url}/decisions", headers={"Authorization": "Bearer wrong-token-000000000"}).status_code == 401
    decisions = httpx.get(f"{url}/decisions", headers=auth("viewer")).json()
    assert [d["status"] for d in decisions["items"]] == ["pending_approval"]
    one = httpx.get(f"{url}/decisions/{decisions['items'][0]['id']}", headers=auth("viewer")).json()
    assert {g["name"] for g in one["guardrails"]} >= {"envelope", "rate_limit.per_device"}


def test_a_viewer_cannot_approve_but_an_operator_can(
    api_site: tuple[Settings, SiteAgent, str], agent_reading_inbox: Callable[[], None], auth: Auth
) -> None:
    stop_reading = agent_reading_inbox
    _, agent, url = api_site
    pending = httpx.get(f"{url}/approvals", headers=auth("viewer")).json()["items"]
    assert len(pending) == 1
    decision = pending[0]["decision"]
    denied = httpx.post(f"{url}/approvals/{decision}/approve", json={"why": "x"}, headers=auth("viewer"))
    assert denied.status_code == 403

    # a `by` in the body names no one: the answer is signed by the caller the token authenticates
    answer = httpx.post(f"{url}/approvals/{decision}/approve", json={"by": "ceo@corp (admin)", "why": "seen it"},
                        headers=auth("operator"), timeout=10)  # fmt: skip
    again = httpx.post(f"{url}/approvals/{decision}/approve", json={}, headers=auth("operator"), timeout=10)
    stop_reading()
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "approved"}
    assert again.status_code == 409  # already answered
    assert agent.stats.commands_sent == 1
    me = httpx.get(f"{url}/me", headers=auth("operator")).json()["who"]
    answered = httpx.get(f"{url}/approvals?include_answered=true", headers=auth("viewer")).json()["items"]
    assert [a["by"] for a in answered] == [me]
    audit = (agent.settings.audit_dir / "audit.jsonl").read_text()
    assert "ceo@corp" not in audit
    assert me in audit
    assert '"why":"seen it"' in audit  # the operator's why goes into the signed record of the answer


def test_an_approval_shows_the_decisions_score_metrics_rule_reason_and_command(
    api_site: tuple[Settings, SiteAgent, str], auth: Auth
) -> None:
    _, agent, url = api_site
    [item] = httpx.get(f"{url}/approvals", headers=auth("viewer")).json()["items"]
    decision = agent.store.read_decision(item["decision"])
    assert decision is not None
    assert item["state"] == "pending"
    assert (item["score"], item["rule"], item["reason"], item["ts"]) == (
        decision["score"], decision["rule"], decision["reason"], decision["ts"]
    )  # fmt: skip
    assert list(item["metrics"]) == ["vibration"]
    assert item["metrics"]["vibration"] == decision["evidence"]["vibration"]
    assert (item["command"]["name"], item["command"]["args"]) == ("schedule_maintenance", {"within_h": 0.5})


def test_an_approval_expired_by_a_device_failure_is_refused_with_409_and_the_reason(
    api_site: tuple[Settings, SiteAgent, str], auth: Auth
) -> None:
    _, agent, url = api_site
    item = fail_the_pending_device(agent, url, auth("viewer"))

    refused = httpx.post(f"{url}/approvals/{item['decision']}/approve", json={"why": "go"}, headers=auth("operator"))

    assert refused.status_code == 409
    assert refused.json()["detail"] == "refused: the approval expired (device failed)"
    assert agent.store.count("inbox") == 0  # refused before it was queued
    assert httpx.get(f"{url}/approvals", headers=auth("viewer")).json()["total"] == 0
    [expired] = httpx.get(f"{url}/approvals?include_answered=true", headers=auth("viewer")).json()["items"]
    assert (expired["state"], expired["why"], expired["by"]) == ("expired", "device failed", "edgeloop")


def test_the_audit_check_and_the_roi_report_are_served(api_site: tuple[Settings, SiteAgent, str], auth: Auth) -> None:
    _, _, url = api_site
    audit = httpx.get(f"{url}/audit/verify", headers=auth("viewer")).json()
    assert audit["ok"] is True
    assert audit["records"] >= 2  # the holdout assignment and the decision
    assert "trust on first use" in audit["trust"]["source"]  # the pin, not the key file beside the log
    roi = httpx.get(f"{url}/roi", headers=auth("viewer"))
    assert roi.status_code == 200
    assert roi.json()["reconciles"] is True


def test_a_created_token_works_until_it_is_revoked(api_site: tuple[Settings, SiteAgent, str]) -> None:
    settings, _, url = api_site
    where = ["--site", settings.agent.site, "--data-dir", str(settings.agent.data_dir)]
    made = CliRunner().invoke(app, ["token", "create", "--role", "viewer", "--name", "wallboard", *where])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{url}/decisions", headers=headers).status_code == 200
    assert httpx.post(f"{url}/approvals/x/approve", json={}, headers=headers).status_code == 403

    listed = CliRunner().invoke(app, ["token", "list", *where]).stdout
    assert "wallboard" in listed
    assert token not in listed
    assert CliRunner().invoke(app, ["token", "revoke", token.split("_")[1], *where]).exit_code == 0
    assert httpx.get(f"{url}/decisions", headers=headers).status_code == 401


def test_the_token_command_makes_expiring_tokens_and_rotates_them(api_site: tuple[Settings, SiteAgent, str]) -> None:
    settings, _, url = api_site
    where = ["--site", settings.agent.site, "--data-dir", str(settings.agent.data_dir)]
    old = CliRunner().invoke(app, ["token", "create", "--role", "viewer", "--name", "kiosk", "--ttl", "7", *where])
    rotated = CliRunner().invoke(app, ["token", "rotate", old.stdout.strip().split("_")[1], "--grace", "0", *where])
    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip()
    assert httpx.get(f"{url}/decisions", headers={"Authorization": f"Bearer {old.stdout.strip()}"}).status_code == 401
    assert httpx.get(f"{url}/decisions", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    listed = CliRunner().invoke(app, ["token", "list", *where]).stdout.splitlines()
    assert [line.split()[2] for line in listed if line.endswith("kiosk")] == ["revoked", "live"]
    again = CliRunner().invoke(app, ["token", "rotate", old.stdout.strip().split("_")[1], *where])
    assert again.exit_code == 1


def test_devices_telemetry_buckets_and_metrics(api_site: tuple[Settings, SiteAgent, str], auth: Auth) -> None:
    _, _, url = api_site
    devices = httpx.get(f"{url}/devices", headers=auth("viewer")).json()["items"]
    assert len(devices) == 10
    busy = next(d for d in devices if d["last_decision"] is not None)
    assert busy["meta"]["asset_type"] == "pump"

    series = httpx.get(f"{url}/devices/{busy['device']}/telemetry/vibration?points=10", headers=auth("viewer")).json()
    assert len(series["buckets"]) == 10
    assert sum(b["n"] for b in series["buckets"]) == 106  # every point, in 10 time buckets
    assert series["buckets"][-1]["max"] == 20.0
    assert series["buckets"][-1]["score"] > 0.9

    text = httpx.get(url.removesuffix("/api/v1") + "/metrics", headers=auth("viewer")).text
    assert "edgeloop_devices 10" in text
    assert 'edgeloop_decisions{status="pending_approval"} 1' in text
    assert "edgeloop_approvals_pending 1" in text


NEW_POLICY = """version: 1
autonomy: {site: 3}
rules:
  - {name: any, when: {min_score: 0.95}, action: schedule_maintenance, args: {within_h: 1}}
"""


def test_an_admin_replaces_the_policy_after_validation_and_the_agent_applies_it(
    api_site: tuple[Settings, SiteAgent, str], agent_reading_inbox: Callable[[], None], auth: Auth
) -> None:
    _, agent, url = api_site
    assert httpx.get(f"{url}/policy", headers=auth("viewer")).json()["policy"]["autonomy"]["site"] == 2
    put = f"{url}/policy?why=night+shift"
    assert httpx.put(put, content=NEW_POLICY, headers=auth("operator")).status_code == 403

    bad = httpx.put(put, content=NEW_POLICY.replace("site: 3", "site: 7"), headers=auth("admin"))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["line"] == 2

    good = httpx.put(put, content=NEW_POLICY, headers=auth("admin"), timeout=10)
    assert good.json() == {"status": "applied"}
    assert agent.policy.policy.autonomy.site == 3
    assert httpx.get(f"{url}/policy", headers=auth("viewer")).json()["policy"]["autonomy"]["site"] == 3
    audit = (agent.settings.audit_dir / "audit.jsonl").read_text()
    assert audit.count('"kind":"policy"') == 2  # the one at start and the change


def test_the_signed_audit_head_is_served_as_the_agent_published_it(
    api_site: tuple[Settings, SiteAgent, str], auth: Auth
) -> None:
    import asyncio

    from edgeloop.audit.head import read_head
    from edgeloop.audit.trust import trust_anchor

    settings, agent, url = api_site
    asyncio.run(agent.publish_audit_head())

    served = httpx.get(f"{url}/audit/head", headers=auth("viewer"))

    assert served.status_code == 200
    head = read_head(served.content, trust_anchor(settings.agent.audit_dir).key)
    assert head.records == agent.audit.records if agent.audit else False


def test_a_late_reading_stored_unscored_leaves_the_telemetry_buckets_readable(
    api_site: tuple[Settings, SiteAgent, str], auth: Auth
) -> None:
    """A reading that comes after newer ones is stored without a score (NaN, `Newest.split_late`): a bucket of
    only such readings has no score (null), and one with scored readings too keeps their highest."""
    _, agent, url = api_site
    busy = next(d["device"] for d in httpx.get(f"{url}/devices", headers=auth("viewer")).json()["items"]
                if d["last_decision"] is not None)  # fmt: skip
    link = agent.client
    assert isinstance(link, Loopback)
    first = float(agent.store.read_series(busy, "vibration")[0][0])
    for ts in (first - 3600, first + 7):
        link.deliver(f"edgeloop/v1/{agent.site}/{busy}/telemetry",
                     orjson.dumps({"ts": ts, "metrics": {"vibration": 5.0}}))  # fmt: skip
    agent.handle_batch(link.drain(10))
    agent.store.flush()
    assert agent.stats.late_readings == 2

    alone = httpx.get(f"{url}/devices/{busy}/telemetry/vibration?points=2", headers=auth("viewer"))
    mixed = httpx.get(f"{url}/devices/{busy}/telemetry/vibration?points=2&from={first}", headers=auth("viewer"))

    assert alone.status_code == 200, alone.text
    buckets = alone.json()["buckets"]
    assert sum(b["n"] for b in buckets) == 108
    assert buckets[0]["n"] == 1  # the late reading alone, an hour before the others
    assert buckets[0]["score"] is None
    assert buckets[-1]["score"] > 0.9
    first_half = mixed.json()["buckets"][0]
    assert first_half["n"] > 2
    assert first_half["score"] is not None  # the scored readings' highest, not NaN
