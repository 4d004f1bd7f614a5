"""The device lifecycle the factory and the building share (`edgeloop.sim.lifecycle`)."""

from __future__ import annotations

from edgeloop.sim.building import BuildingPlant
from edgeloop.sim.factory import FactoryPlant

HOUR = 3600.0


def test_a_fault_due_during_maintenance_starts_when_the_device_runs_again() -> None:
    plant = BuildingPlant(1, seed=0, start_ts=0.0, interval_s=60.0, faults_per_device_day=0.0)
    plant.command("ahu-01", "schedule_maintenance", {"within_h": 0.0})
    plant.inject_fault("ahu-01", "stuck_damper")

    first = plant.step()
    down = []
    for _ in range(58):  # the rest of the hour of maintenance
        plant.step()
        down.append(plant.active_faults("ahu-01"))
    events = [e for _ in range(3) for _, e in plant.step().events]

    assert [e["kind"] for _, e in first.events] == ["maintenance_started"]
    assert down == [[]] * 58
    assert {"kind": "repaired", "reason": "maintenance", "found": None} in events
    assert plant.active_faults("ahu-01") == ["stuck_damper"]
    assert plant.ground_truth()["faults"][0]["start_ts"] >= HOUR


def test_a_factory_with_no_faults_planned_runs_without_any() -> None:
    plant = FactoryPlant(n_devices=2, seed=0, start_ts=0.0, faults_per_device_day=0.0, warmup_s=0.0)

    for _ in range(240):
        plant.step()

    assert plant.ground_truth()["faults"] == []
