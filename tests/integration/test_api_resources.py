"""Sites, device state, anomalies, a decision's audit record, the ledger's plots and the live event stream."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
from tests.conftest import T0

from edgeloop.agent.site import SiteAgent
from edgeloop.settings import Settings

Auth = Callable[[str], dict[str, str]]
Site = tuple[Settings, SiteAgent, str]


def test_the_site_overview_counts_what_the_agent_stored(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    sites = httpx.get(f"{url}/sites", headers=auth("viewer")).json()
    assert sites["total"] == 1
    site = sites["items"][0]
    assert (site["site"], site["devices"], site["decisions"], site["pending_approvals"]) == ("apisite", 10, 1, 1)
    assert httpx.get(f"{url}/sites/elsewhere", headers=auth("viewer")).status_code == 404


def test_a_device_state_has_its_newest_reading_and_score(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    devices = httpx.get(f"{url}/devices", headers=auth("viewer")).json()["items"]
    busy = next(d for d in devices if d["last_decision"] is not None)
    state = httpx.get(f"{url}/devices/{busy['device']}", headers=auth("viewer")).json()["state"]
    assert state["health"] == "anomalous"
    assert state["metrics"]["vibration"]["value"] == 20.0
    assert state["score"] > 0.9
    assert {d["state"]["health"] for d in devices if d is not busy} == {"unknown"}  # no telemetry from them


def test_anomalies_are_the_runs_of_high_scores(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    found = httpx.get(f"{url}/anomalies?min_score=0.9", headers=auth("viewer")).json()
    assert found["total"] == 1
    episode = found["items"][0]
    assert episode["metric"] == "vibration"
    assert episode["peak_value"] == 20.0
    assert 1 <= episode["points"] <= 6  # the six readings of 20 mm/s, as many as scored that high
    assert httpx.get(f"{url}/anomalies?device=pump-x", headers=auth("viewer")).json()["total"] == 0


def test_a_decision_comes_with_its_checked_audit_record(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    decision = httpx.get(f"{url}/decisions", headers=auth("viewer")).json()["items"][0]
    audit = httpx.get(f"{url}/decisions/{decision['id']}", headers=auth("viewer")).json()["audit"]
    assert (audit["intact"], audit["signed"], audit["matches_store"]) == (True, True, True)
    records = httpx.get(f"{url}/audit/records?limit=50", headers=auth("viewer")).json()
    assert any(r["hash"] == audit["hash"] and r["seq"] == audit["seq"] for r in records["items"])


def test_the_ledger_plots_are_svg(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    plots = httpx.get(f"{url}/roi/plots", headers=auth("viewer"), timeout=30).json()
    assert set(plots) == {"cumulative_value", "downtime", "value_by_action"}
    assert all(svg.startswith("<svg") for svg in plots.values())


def test_the_event_stream_starts_with_the_newest_readings(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    events: dict[str, object] = {}
    with httpx.stream("GET", f"{url}/events", headers=auth("viewer"), timeout=10) as stream:
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events[kind] = orjson.loads(line.removeprefix("data: "))
            if "approvals" in events:
                break
    readings = events["readings"]
    assert isinstance(readings, dict)
    (device,) = readings
    assert readings[device]["vibration"][1] == 20.0
    assert events["approvals"] == {"pending": 1}


def test_a_device_s_events_are_listed_newest_first_without_acks(api_site: Site, auth: Auth) -> None:
    _, agent, url = api_site
    link = agent.client
    for ts, kind in ((T0 + 2000, "failure"), (T0 + 5000, "repaired")):
        link.deliver("edgeloop/v1/apisite/pump-3/event", orjson.dumps({"ts": ts, "kind": kind}))
    agent.handle_batch(link.drain(10))
    agent.store.flush()

    events = httpx.get(f"{url}/devices/pump-3/events", headers=auth("viewer")).json()["items"]

    assert [(e["kind"], e["ts"]) for e in events] == [("repaired", T0 + 5000), ("failure", T0 + 2000)]
    assert httpx.get(f"{url}/devices/pump-4/events", headers=auth("viewer")).json()["items"] == []
    assert httpx.get(f"{url}/devices/nothing/events", headers=auth("viewer")).status_code == 404


def test_the_ledger_series_has_one_value_per_day_and_arm(api_site: Site, auth: Auth) -> None:
    _, _, url = api_site
    found = httpx.get(f"{url}/roi/series", headers=auth("viewer"), timeout=30).json()
    n = len(found["days"])
    assert n >= 1
    assert set(found["arms"]) == {"treated", "holdout"}
    for arm in found["arms"].values():
        assert len(arm["net_value"]) == len(arm["downtime_h"]) == len(arm["cumulative_net_value"]) == n
    assert set(found["uplift"]) >= {"net_value", "downtime_h"}
