"""A site split over partitions decides exactly what one agent decides: the same seeded plant, delivered in the
same batches to one agent and to two partition agents, gives the same decision records, and each device is run
by exactly one partition. The holdout is the site's: every device has the same arm in both runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

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


def agent_for(tmp_path: Path, partition: str | None) -> SiteAgent:
    folder = tmp_path / (partition or "one").replace("/", "-")
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


def run(agent: SiteAgent, batches: list[list[tuple[str, bytes]]]) -> list[dict[str, Any]]:
    link = agent.client
    assert isinstance(link, Loopback)
    for batch in batches:
        for topic, payload in batch:
            link.deliver(topic, payload, retain=topic.endswith("/meta"))
        agent.handle_batch(link.drain(len(batch)))
    agent.store.flush()
    records = [stable(d) for d in agent.store.read_decisions()]
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


def arms(agent: SiteAgent) -> dict[str, Arm]:
    assert agent.books is not None
    return {a.device: a.arm for a in agent.books.record.assignments}
