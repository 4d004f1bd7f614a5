"""A site split over partitions decides exactly what one agent decides: the same seeded plant, delivered in the
same batches to one agent and to two partition agents, gives the same decision records, and each device is run
by exactly one partition. The holdout is the site's: every device has the same arm in both runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from edgeloop.agent import checkpoint, lifecycle
from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.ledger import Arm
from edgeloop.model import Partition
from edgeloop.settings import SettingsError, load_settings
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.runner import encode_events, encode_step

SITE = "split"
T0 = 1_700_000_000.0


#: guardrails that count the site's actions: each partition counts its own, against its share of the limit
SITE_WIDE = {"rate_limit.per_site", "max_stopped"}


def stable(decision: dict[str, Any]) -> dict[str, Any]:
    """The record without the fresh uuids of the decision and its command, and without the counts in the
    details of the site-wide guardrails (their verdicts stay)."""
    out = {k: v for k, v in decision.items() if k != "id"}
    if isinstance(out.get("action"), dict):
        out["action"] = {k: v for k, v in out["action"].items() if k not in ("id", "decision")}
    out["guardrails"] = [{k: v for k, v in g.items() if not (g["name"] in SITE_WIDE and k == "detail")}
                         for g in out["guardrails"]]  # fmt: skip
    return out


def agent_for(tmp_path: Path, partition: str | None, shared: bool = False) -> SiteAgent:
    """An agent of the site, or of one partition, with its own data folder (`shared`: the site's one data folder,
    where the partitions' folders are inside the site's, as `edgeloop agent` lays them out)."""
    folder = tmp_path if shared else tmp_path / (partition or "one").replace("/", "-")
    settings = load_settings(None, agent={"site": SITE, "autonomy": 3, "data_dir": folder, "partition": partition},
                             ledger={"holdout_draw": "device", "holdout_fraction": 0.5})  # fmt: skip
    cfg = settings.agent
    cfg.site_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(cfg.db_path, SITE)
    return SiteAgent(cfg, Loopback(), store, make_learner(cfg), make_policy(cfg),
                     LedgerWriter.open(store, settings.ledger), clock=lambda: T0 + 86_400)  # fmt: skip


def plant_batches(hours: float) -> list[list[tuple[str, bytes]]]:
    plant = FactoryPlant(24, seed=5, start_ts=T0, faults_per_device_day=2.0)
    metas = [(f"edgeloop/v1/{SITE}/{m.device}/meta", orjson.dumps(m.to_json())) for m in plant.metas()]
    batches, seqs, batch = [metas], {}, []
    for _ in range(int(hours * 240)):
        step = plant.step()
        batch += [(t, p) for t, p, _ in encode_step(SITE, step, seqs)]
        if len(batch) >= 2000:
            batches.append(batch)
            batch = []
    batches.append(batch + [(t, p) for t, p, _ in encode_events(SITE, plant.now, plant.close_day())])
    return batches


def run(agent: SiteAgent, batches: list[list[tuple[str, bytes]]], close: bool = True) -> list[dict[str, Any]]:
    link = agent.client
    assert isinstance(link, Loopback)
    for batch in batches:
        for topic, payload in batch:
            link.deliver(topic, payload, retain=topic.endswith("/meta"))
        agent.handle_batch(link.drain(len(batch)))
    agent.store.flush()
    records = [stable(d) for d in agent.store.read_decisions()]
    if close:
        agent.store.close()
    return sorted(records, key=lambda d: (d["device"], d["ts"]))


@pytest.fixture(scope="module")
def batches() -> list[list[tuple[str, bytes]]]:
    return plant_batches(hours=12)


def test_two_partitions_decide_exactly_what_one_agent_decides(
    tmp_path: Path, batches: list[list[tuple[str, bytes]]]
) -> None:
    one = agent_for(tmp_path, None)
    parts = [agent_for(tmp_path, "0/2"), agent_for(tmp_path, "1/2")]

    whole = run(one, batches)
    split = sorted([r for p in parts for r in run(p, batches)], key=lambda d: (d["device"], d["ts"]))

    assert {d["status"] for d in whole} == {"sent", "held_out"}  # both arms decided on
    assert split == whole


def test_each_device_is_run_by_one_partition_with_the_arm_the_site_drew(
    tmp_path: Path, batches: list[list[tuple[str, bytes]]]
) -> None:
    one = agent_for(tmp_path, None)
    parts = [agent_for(tmp_path, "0/2"), agent_for(tmp_path, "1/2")]

    run(one, batches[:1])
    for p in parts:
        run(p, batches[:1])
    site_arms = arms(one)
    part_arms = [arms(p) for p in parts]

    assert set(part_arms[0]).isdisjoint(part_arms[1])
    assert part_arms[0] | part_arms[1] == site_arms
    assert all(Partition(i, 2).owns(d) for i, a in enumerate(part_arms) for d in a)
    assert Arm.HOLDOUT in site_arms.values()
    assert [p.stats.other_partitions for p in parts] == [len(part_arms[1]), len(part_arms[0])]


def test_a_partitioned_agent_needs_the_holdout_drawn_per_device() -> None:
    with pytest.raises(SettingsError, match="holdout_draw: device"):
        load_settings(None, agent={"site": SITE, "partition": "0/2"})


def test_each_partition_keeps_its_rows_under_a_key_of_its_own_in_a_shared_store() -> None:
    keys = [load_settings(None, agent={"site": SITE, "partition": part}, ledger={"holdout_draw": "device"},
                          store={"url": "postgresql://127.0.0.1:5432/fleet"}).agent.store_site
            for part in (None, "0/2", "1/2")]  # fmt: skip
    assert keys == [SITE, f"{SITE}--p0of2", f"{SITE}--p1of2"]


def arms(agent: SiteAgent) -> dict[str, Arm]:
    assert agent.books is not None
    return {a.device: a.arm for a in agent.books.record.assignments}


def test_partitions_started_from_the_site_agents_checkpoint_decide_what_it_goes_on_deciding(tmp_path: Path) -> None:
    """P goes from 1 to 2: each new partition takes the site agent's learnt state over from its checkpoint and
    decides, on the data that follows, what the site agent would have; started cold, they would not."""
    batches = plant_batches(hours=24)
    half = len(batches) // 2
    first, second = batches[:half], [batches[0], *batches[half:]]  # the metas again, as the broker retains them
    one = agent_for(tmp_path, None, shared=True)
    run(one, first, close=False)
    checkpoint.write(one.settings.checkpoint_path, checkpoint.encode(one.learnt_state()))
    since = max(d["ts"] for d in one.store.read_decisions()) if one.store.read_decisions() else 0.0
    went_on = [d for d in run(one, second[1:]) if d["ts"] > since]

    warm, cold = [], []
    for label in ("0/2", "1/2"):
        part = agent_for(tmp_path, label, shared=True)
        found = checkpoint.handover(tmp_path / SITE, Partition.parse(label), part.settings.checkpoint_path)
        assert found is not None
        assert part.resume(found[0])
        warm += run(part, second)
        cold += run(agent_for(tmp_path / "cold", label), second)

    assert went_on
    assert sorted(warm, key=lambda d: (d["device"], d["ts"])) == went_on
    assert sorted(cold, key=lambda d: (d["device"], d["ts"])) != went_on


class Subscriptions(Loopback):
    """A loopback that records what the agent subscribes to."""

    def __init__(self) -> None:
        super().__init__()
        self.subscribed: list[str] = []

    async def subscribe(self, *topics: str, qos: int = 0) -> None:
        self.subscribed.extend(topics)


@pytest.mark.parametrize(
    ("partition", "qos", "expected"),
    [(None, 1, [f"edgeloop/v1/{SITE}/#"]),
     (None, 0, [f"edgeloop/v1/{SITE}/+/{c}" for c in ("meta", "event", "cmd/ack", "state", "telemetry")]),
     ("0/2", 1, [f"edgeloop/v1/{SITE}/+/{c}" for c in ("meta", "event", "cmd/ack", "state")])],
    ids=["whole site at QoS 1", "whole site at QoS 0", "a partition"],
)  # fmt: skip
async def test_a_whole_site_at_qos_1_comes_through_one_subscription(
    tmp_path: Path, partition: str | None, qos: int, expected: list[str]
) -> None:
    """One subscription, so that a broker with a queue per subscription (NATS) keeps a device's readings, events
    and acks in order (tests/integration/test_event_order.py); a partition's telemetry topics come per device, as
    their metas make them known."""
    agent = agent_for(tmp_path, partition)
    agent.client = link = Subscriptions()
    agent.telemetry_qos = qos

    await lifecycle.start(agent)

    assert link.subscribed == expected
