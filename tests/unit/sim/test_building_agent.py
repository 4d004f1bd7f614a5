"""The existing site agent on the building, in lockstep through the back-test's path: it sees a short-cycling
chiller, sends maintenance before the compressor fails, and the ledger books the failure it avoided."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeloop.bench.backtest import START_TS, PlantSpec, run_with_agent
from edgeloop.settings import load_settings
from edgeloop.sim.building import BuildingPlant

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class BuildingSpec(PlantSpec):
    site: str = "building"

    def build(self) -> BuildingPlant:  # type: ignore[override]
        return BuildingPlant(self.devices, self.seed, START_TS, self.interval_s, self.site, faults_per_device_day=0.0)


def test_the_agent_catches_a_short_cycling_chiller_before_it_fails() -> None:
    injected: list[float] = []

    def inject(agent: Any, plant: Any, decisions: Any) -> None:
        if not injected and plant.now >= START_TS + 1.45 * DAY:  # a weekday's late morning, after a day of learning
            plant.inject_fault("chiller-01", "short_cycling", magnitude=300.0, hours_to_failure=5.0)
            injected.append(plant.now)

    settings = load_settings(None, ledger={"holdout_fraction": 0.0})  # the only chiller must be a treated device
    run = run_with_agent(BuildingSpec(seed=0, devices=3, days=2, interval_s=30.0), settings, on_block=inject)

    fault = next(f for f in run.truth["faults"] if f["device"] == "chiller-01")
    assert fault["kind"] == "short_cycling"
    assert fault["caught"]
    assert fault["failure_ts"] is None
    assert not run.truth["failures"]
    acted = [a for a in run.truth["actions"] if a["device"] == "chiller-01" and a["ts"] >= injected[0]]
    assert acted[0]["name"] == "schedule_maintenance"
    assert acted[0]["ts"] - injected[0] < 5 * 3600, "before the compressor's 5 h to failure"
    avoided = [e for e in run.entries if e.kind == "avoided_failure"]
    assert [e.device for e in avoided] == ["chiller-01"]
