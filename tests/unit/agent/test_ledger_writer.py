"""The agent's books: holdout assignment, held-out decisions, outcomes and usage booked, restarts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import orjson
import pytest

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import AgentStore
from edgeloop.ledger import Arm
from edgeloop.model import ArgSpec, AutonomyLevel, CommandSpec, DeviceMeta, MetricSpec
from edgeloop.settings import LedgerSettings, load_settings

if TYPE_CHECKING:
    from tests.conftest import StoreBackend

SITE = "unit"
T0 = 1_700_006_400.0


def meta(device: str) -> DeviceMeta:
    return DeviceMeta(
        device,
        "pump",
        (MetricSpec("vibration", "mm/s", 0.0, 50.0),),
        (CommandSpec("schedule_maintenance", (ArgSpec("within_h", 0.0, 24.0),)),),
    )


@pytest.fixture
def store(store_backend: StoreBackend) -> Iterator[AgentStore]:
    s = store_backend.agent_store(SITE)
    yield s
    s.close()


def make_agent(store: AgentStore, autonomy: AutonomyLevel = AutonomyLevel.ACT) -> tuple[SiteAgent, Loopback]:
    settings = load_settings(None, agent={"site": SITE, "autonomy": autonomy})
    books = LedgerWriter.open(store, settings.ledger)
    link = Loopback()
    policy = make_policy(settings.agent)
    return SiteAgent(settings.agent, link, store, make_learner(), policy, books, clock=lambda: T0 + 1e6), link


def announce(agent: SiteAgent, link: Loopback, devices: list[str]) -> None:
    for d in devices:
        link.deliver(f"edgeloop/v1/{SITE}/{d}/meta", orjson.dumps(meta(d).to_json()), retain=True)
    agent.handle_batch(link.drain(1000))


def telemetry(link: Loopback, devices: list[str], values: list[float], start: int) -> None:
    for i, v in enumerate(values):
        for d in devices:
            payload = {"ts": T0 + 15 * (start + i), "seq": start + i, "metrics": {"vibration": v}}
            link.deliver(f"edgeloop/v1/{SITE}/{d}/telemetry", orjson.dumps(payload))


def test_held_out_devices_are_decided_about_but_sent_nothing(store: AgentStore) -> None:
    agent, link = make_agent(store)
    devices = [f"pump-{i}" for i in range(10)]
    announce(agent, link, devices)
    rng = np.random.default_rng(0)
    telemetry(link, devices, (4.0 + 0.05 * rng.standard_normal(100)).tolist(), 0)
    telemetry(link, devices, [20.0] * 6, 100)  # a sustained jump on every device
    agent.handle_batch(link.drain(10_000))
    store.flush()

    held = set(agent.books.record.devices(Arm.HOLDOUT)) if agent.books else set()
    statuses = dict(store.query("SELECT device, status FROM decisions"))
    assert len(held) == 2
    assert set(statuses) == set(devices)
    assert {d for d, s in statuses.items() if s == "held_out"} == held
    assert {d for d, s in statuses.items() if s == "sent"} == set(devices) - held
    commanded = {m.topic.split("/")[3] for m in link.take_sent() if m.topic.endswith("/cmd")}
    assert commanded == set(devices) - held


def test_held_out_devices_are_not_recommended_either(store: AgentStore) -> None:
    agent, link = make_agent(store, AutonomyLevel.RECOMMEND)
    devices = [f"pump-{i}" for i in range(10)]
    announce(agent, link, devices)
    telemetry(link, devices, [4.0 + 0.05 * (i % 3) for i in range(100)] + [20.0] * 6, 0)
    agent.handle_batch(link.drain(10_000))
    store.flush()
    held = set(agent.books.record.devices(Arm.HOLDOUT)) if agent.books else set()
    statuses = dict(store.query("SELECT device, status FROM decisions"))
    assert {d for d, s in statuses.items() if s == "recommended"} == set(devices) - held
    assert {d for d, s in statuses.items() if s == "held_out"} == held


def test_outcomes_and_usage_are_booked_against_the_devices_arm(store: AgentStore) -> None:
    agent, link = make_agent(store)
    announce(agent, link, ["pump-1", "pump-2", "pump-3"])
    link.deliver(f"edgeloop/v1/{SITE}/pump-1/event", orjson.dumps({"ts": T0, "kind": "failure", "downtime_s": 7200}))
    usage = {"ts": T0, "kind": "usage", "day": int(T0 // 86_400), "energy_kwh": 100.0, "slowdown_h": 0.0}
    link.deliver(f"edgeloop/v1/{SITE}/pump-2/event", orjson.dumps(usage))
    agent.handle_batch(link.drain(100))
    store.flush()

    entries = {(e["device"], e["kind"]): e for e in store.read_entries()}
    assert entries["pump-1", "failure"]["amount"] == "-10000.00"  # repair 8000 + 2 h x 1000
    assert entries["pump-2", "energy"]["amount"] == "-17.00"  # 100 kWh x 0.17
    assert entries["pump-1", "failure"]["arm"] == str(agent.books.record.arm("pump-1") if agent.books else None)


def test_bad_usage_is_quarantined_and_books_nothing(store: AgentStore) -> None:
    agent, link = make_agent(store)
    announce(agent, link, ["pump-1"])
    bad = {"ts": T0, "kind": "usage", "day": 19_676, "energy_kwh": -5.0}
    link.deliver(f"edgeloop/v1/{SITE}/pump-1/event", orjson.dumps(bad))
    agent.handle_batch(link.drain(100))
    store.flush()

    assert store.read_entries() == []
    assert store.count("outcomes") == 0
    reasons = [r[0] for r in store.query("SELECT reason FROM quarantine")]
    assert len(reasons) == 1
    assert "negative" in reasons[0]


def test_every_device_keeps_its_arm_across_a_restart(store_backend: StoreBackend) -> None:
    settings = LedgerSettings()
    store = store_backend.agent_store(SITE)
    books = LedgerWriter.open(store, settings)
    books.assign({f"pump-{i}": "pump" for i in range(20)}, T0)
    store.close()

    store = store_backend.agent_store(SITE)
    again = LedgerWriter.open(store, settings)
    again.assign({"pump-99": "pump"}, T0)
    store.close()
    assert all(again.arm(f"pump-{i}") is books.arm(f"pump-{i}") for i in range(20))
    assert again.arm("pump-99") is not None


def test_changing_the_holdout_seed_of_a_running_site_is_refused(store_backend: StoreBackend) -> None:
    store = store_backend.agent_store(SITE)
    LedgerWriter.open(store, LedgerSettings()).assign({"pump-1": "pump"}, T0)
    store.close()
    store = store_backend.agent_store(SITE)
    try:
        with pytest.raises(ValueError, match="seed=0"):
            LedgerWriter.open(store, LedgerSettings(holdout_seed=5))
    finally:
        store.close()
