"""What an agent leaves unsettled survives its restart: commands still waiting for their ack, and a simulated
device runs a command delivered twice only once."""

from __future__ import annotations

from pathlib import Path

import orjson

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.model import AutonomyLevel
from edgeloop.settings import Settings, load_settings
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.runner import apply_command

T0 = 1_700_006_400.0
META = {"device": "pump-1", "asset_type": "pump", "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}},
        "commands": {"schedule_maintenance": {"args": {"within_h": {"low": 0, "high": 24}}}}}  # fmt: skip


def agent_on(settings: Settings, link: Loopback, now: list[float]) -> SiteAgent:
    store = SqliteStore(settings.agent.db_path, "s1")
    return SiteAgent(settings.agent, link, store, make_learner(settings.agent), make_policy(settings.agent),
                     LedgerWriter.open(store, settings.ledger), clock=lambda: now[0])  # fmt: skip


def test_a_command_sent_before_a_restart_is_still_settled_by_its_ack_after_it(tmp_path: Path) -> None:
    settings = load_settings(None, agent={"site": "s1", "data_dir": tmp_path, "autonomy": AutonomyLevel.ACT,
                                          "sustain": 2}, ledger={"holdout_fraction": 0.0})  # fmt: skip
    now, link = [T0], Loopback()
    first = agent_on(settings, link, now)
    link.deliver("edgeloop/v1/s1/pump-1/meta", orjson.dumps(META), retain=True)
    for i, v in enumerate([3.0] * 60 + [45.0] * 4):
        link.deliver(
            "edgeloop/v1/s1/pump-1/telemetry", orjson.dumps({"ts": T0 - 1000 + 15 * i, "metrics": {"vibration": v}})
        )
    first.handle_batch(link.drain(1000))
    (command,) = [orjson.loads(m.payload) for m in link.take_sent() if m.topic.endswith("/cmd")]
    first.store.close()  # the agent stops before the ack comes

    again = agent_on(settings, link, now)
    link.deliver("edgeloop/v1/s1/pump-1/cmd/ack", orjson.dumps({"id": command["id"], "status": "done"}))
    again.handle_batch(link.drain(10))
    again.store.flush()

    assert again.stats.commands_acked == 1
    assert again.store.query("SELECT status FROM commands WHERE id=?", (command["id"],)) == [("done",)]
    assert again.stats.quarantined == 0
    again.store.close()


def test_a_command_left_unanswered_across_a_restart_times_out_after_it(tmp_path: Path) -> None:
    settings = load_settings(None, agent={"site": "s1", "data_dir": tmp_path})
    store = SqliteStore(settings.agent.db_path, "s1")
    store.write_command("c1", "d1", "pump-1", "schedule_maintenance", {"within_h": 1.0}, T0)
    store.close()
    now = [T0 + 100]

    agent = agent_on(settings, Loopback(), now)
    waiting = list(agent.dispatcher.pending)
    now[0] += settings.agent.ack_timeout_s + 1
    agent.sweep_timeouts()
    agent.store.flush()

    assert waiting == ["c1"]
    assert agent.store.query("SELECT status FROM commands WHERE id='c1'") == [("timeout",)]
    agent.store.close()


def test_a_simulated_device_runs_a_command_delivered_twice_once_and_acks_it_again() -> None:
    plant = FactoryPlant(4, seed=0, start_ts=T0)
    device = plant.devices[0]
    payload = orjson.dumps({"id": "c1", "name": "schedule_maintenance", "args": {"within_h": 0.5}, "decision": "d1"})
    answered: dict[str, tuple[str, bytes, bool]] = {}

    first = apply_command(plant, f"edgeloop/v1/{plant.site}/{device}/cmd", payload, answered)
    actions = len(plant.ground_truth()["actions"])
    second = apply_command(plant, f"edgeloop/v1/{plant.site}/{device}/cmd", payload, answered)

    assert first == second
    assert actions >= 1
    assert len(plant.ground_truth()["actions"]) == actions


def test_an_event_sent_again_after_its_ack_was_lost_is_booked_once(tmp_path: Path) -> None:
    """A failure the agent handled and stored, whose ack the broker never got (a kill, a connection that broke), is
    sent again: booked twice, the ledger would count the failure's cost twice."""
    settings = load_settings(None, agent={"site": "s1", "data_dir": tmp_path}, ledger={"holdout_fraction": 0.0})
    now, link = [T0], Loopback()
    agent = agent_on(settings, link, now)
    link.deliver("edgeloop/v1/s1/pump-1/meta", orjson.dumps(META), retain=True)
    agent.handle_batch(link.drain(10))
    failure = orjson.dumps({"kind": "failure", "ts": T0 - 100, "downtime_s": 3600})
    for dup in (False, True):
        link.deliver("edgeloop/v1/s1/pump-1/event", failure, dup=dup)
        agent.handle_batch(link.drain(10))

    agent.store.flush()
    assert agent.store.count_outcomes("failure") == 1
    assert agent.stats.failures == 1
    assert agent.stats.repeats_dropped == 1
    agent.store.close()


def test_hostile_telemetry_held_after_a_restart_is_quarantined_with_its_reason_when_the_hold_ends(
    tmp_path: Path,
) -> None:
    """Held messages are ordered by a time read from their bytes; one with no readable time loses nothing: it is
    handed over with the rest and the decoder rejects it, with its reason."""
    settings = load_settings(None, agent={"site": "s1", "data_dir": tmp_path})
    now, link = [T0], Loopback()
    agent = agent_on(settings, link, now)
    link.deliver("edgeloop/v1/s1/pump-1/meta", orjson.dumps(META), retain=True)
    agent.handle_batch(link.drain(10))
    agent.holdback.start(until=T0 + 32)
    for payload in (b"{", orjson.dumps({"ts": "soon", "metrics": {}}), orjson.dumps([]),
                    orjson.dumps({"ts": T0 - 15, "metrics": {"vibration": 3.0}})):  # fmt: skip
        link.deliver("edgeloop/v1/s1/pump-1/telemetry", payload)
    agent.handle_batch(link.drain(10))
    assert agent.holdback.held == 4
    assert agent.stats.points == 0
    now[0] += 33
    agent.handle_batch([])

    agent.store.flush()
    assert agent.holdback.held == 0
    assert agent.stats.points == 1
    reasons = agent.stats.quarantine_reasons
    assert sum(reasons.values()) == 3
    assert any(r.startswith("malformed JSON") for r in reasons)
    agent.store.close()
