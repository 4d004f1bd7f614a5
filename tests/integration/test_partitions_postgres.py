"""Partitions on the shared PostgreSQL store: two partition agents, each keeping its rows under its own key in one
database, decide exactly what one agent decides on the same seeded plant, and the site's ledger is the sum of
theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import postgres_schema
from tests.unit.agent.test_partitions import SITE, T0, plant_batches, run

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import open_operator_store, open_store
from edgeloop.settings import Settings, load_settings

pytestmark = pytest.mark.integration


def settings_for(tmp_path: Path, url: str, partition: str | None) -> Settings:
    return load_settings(None, agent={"site": SITE, "autonomy": 3, "data_dir": tmp_path, "partition": partition},
                         ledger={"holdout_draw": "device", "holdout_fraction": 0.5}, store={"url": url})  # fmt: skip


def agent_on(settings: Settings) -> SiteAgent:
    cfg = settings.agent
    cfg.site_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    return SiteAgent(cfg, Loopback(), store, make_learner(cfg), make_policy(cfg),
                     LedgerWriter.open(store, settings.ledger), clock=lambda: T0 + 86_400)  # fmt: skip


def test_two_partitions_on_postgresql_decide_what_one_agent_decides_and_keep_the_sites_ledger(tmp_path: Path) -> None:
    batches = plant_batches(hours=12)
    with postgres_schema() as one_url, postgres_schema() as shared_url:
        whole = run(agent_on(settings_for(tmp_path / "one", one_url, None)), batches)
        parts = [settings_for(tmp_path / "split", shared_url, p) for p in ("0/2", "1/2")]
        split = sorted([r for s in parts for r in run(agent_on(s), batches)], key=lambda d: (d["device"], d["ts"]))
        with open_operator_store(settings_for(tmp_path / "one", one_url, None)) as one:
            site_entries = len(one.read_entries())
            sites = one.read_sites()
        with open_operator_store(parts[0]) as shared:
            keys = shared.read_sites()
            part_entries = sum(len(shared.for_site(k).read_entries()) for k in keys)

    assert {d["status"] for d in whole} == {"sent", "held_out"}
    assert split == whole
    assert sites == [SITE]
    assert keys == [f"{SITE}--p0of2", f"{SITE}--p1of2"]
    assert part_entries == site_entries > 0
