from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edgeloop.sim.building import BuildingPlant

HOUR = 3600.0
DAY = 86_400.0
WEDNESDAY = 19_676 * DAY  # 2023-11-15, midnight UTC


def quiet_building(zones: int = 3, seed: int = 0) -> BuildingPlant:
    """A building with no planned faults: only what a test injects."""
    return BuildingPlant(zones, seed=seed, start_ts=WEDNESDAY, interval_s=30.0, faults_per_device_day=0.0)


def run(plant: BuildingPlant, hours: float) -> list[tuple[float, str, dict[str, float]]]:
    rows = []
    for _ in range(round(hours * HOUR / plant.interval_s)):
        step = plant.step()
        rows += [(step.ts, d, m) for d, m in step.telemetry]
    return rows


def run_events(plant: BuildingPlant, hours: float) -> list[tuple[str, dict[str, Any]]]:
    return [e for _ in range(round(hours * HOUR / plant.interval_s)) for e in plant.step().events]


def until(plant: BuildingPlant, hour_of_day: float) -> None:
    """Run to the next time the clock shows `hour_of_day`."""
    run(plant, ((hour_of_day * HOUR - plant.now % DAY) % DAY) / HOUR)


def series(rows: list[tuple[float, str, dict[str, float]]], device: str, metric: str) -> np.ndarray[Any, Any]:
    return np.array([m[metric] for _, d, m in rows if d == device])


def test_same_seed_same_building() -> None:
    a, b = BuildingPlant(4, seed=3, start_ts=WEDNESDAY), BuildingPlant(4, seed=3, start_ts=WEDNESDAY)
    assert run(a, 12) == run(b, 12)
    assert a.ground_truth() == b.ground_truth()
    assert run(BuildingPlant(4, seed=4, start_ts=WEDNESDAY), 1) != run(BuildingPlant(4, seed=3, start_ts=WEDNESDAY), 1)


def test_commands_to_one_device_do_not_change_the_faults_of_the_others() -> None:
    quiet = BuildingPlant(4, seed=5, start_ts=WEDNESDAY, interval_s=60.0, faults_per_device_day=2.0)
    busy = BuildingPlant(4, seed=5, start_ts=WEDNESDAY, interval_s=60.0, faults_per_device_day=2.0)
    busy.command("ahu-01", "set_setpoint", {"setpoint": 19.0})
    busy.command("ahu-02", "schedule_maintenance", {"within_h": 7.0})
    run(quiet, 24)
    run(busy, 24)

    def others(plant: BuildingPlant) -> list[tuple[str, str, float]]:
        faults = plant.ground_truth()["faults"]
        return [(f["device"], f["kind"], f["start_ts"]) for f in faults if f["device"] not in ("ahu-01", "ahu-02")]

    assert others(quiet)
    assert others(quiet) == others(busy)


def test_zones_follow_their_setpoints_while_occupied() -> None:
    plant = quiet_building()
    until(plant, 10.0)
    rows = run(plant, 2)
    for device in ("ahu-01", "ahu-02", "ahu-03"):
        assert abs(series(rows, device, "zone_temp").mean() - 23.0) < 0.5
    plant.command("ahu-01", "set_setpoint", {"setpoint": 25.5})
    rows = run(plant, 2)
    assert abs(series(rows, "ahu-01", "zone_temp")[-120:].mean() - 25.5) < 0.5
    assert abs(series(rows, "ahu-02", "zone_temp")[-120:].mean() - 23.0) < 0.5


def test_a_raised_setpoint_sheds_load_at_once_then_saves_a_little_as_estimated() -> None:
    held, raised = quiet_building(), quiet_building()
    until(held, 13.0)
    until(raised, 13.0)
    estimate = raised.setpoint_shift(2.0)
    assert all(status == "done" for status, _ in raised.shift_setpoints(2.0).values())
    assert raised.setpoints() == {"ahu-01": 25.0, "ahu-02": 25.0, "ahu-03": 25.0}
    run(held, 0.25)
    run(raised, 0.25)
    shed = raised.power_kw() - held.power_kw()
    assert estimate.immediate_kw < -10.0
    assert 0.9 < shed / estimate.immediate_kw < 1.1
    assert 0.5 < estimate.duration_h < 1.5
    run(held, 1.75)
    run(raised, 1.75)
    saved = raised.power_kw() - held.power_kw()
    assert estimate.steady_kw < 0
    assert 0.7 < saved / estimate.steady_kw < 1.3
    assert raised.setpoint_shift_kw(-2.0) > 0, "lowering them again costs power"
    assert raised.power_kw() == pytest.approx(sum(raised.device_power_kw().values()))


def test_a_leaking_valve_costs_energy_and_capacity() -> None:
    healthy, leaking = quiet_building(), quiet_building()
    until(healthy, 8.0)
    until(leaking, 8.0)
    leaking.inject_fault("ahu-01", "leaking_valve", hours_to_failure=10.0)
    good, bad = run(healthy, 8), run(leaking, 8)
    energy = {p: p.ground_truth()["energy_kwh"]["chiller-01"] for p in (healthy, leaking)}
    assert energy[leaking] > energy[healthy] + 5.0
    assert series(bad, "ahu-01", "valve_pos")[-120:].mean() > series(good, "ahu-01", "valve_pos")[-120:].mean() + 0.05


def test_an_untreated_leaking_valve_fails_after_hours_of_chilled_water() -> None:
    plant = quiet_building()
    until(plant, 7.0)
    plant.inject_fault("ahu-02", "leaking_valve", hours_to_failure=3.0)
    events = run_events(plant, 3.5)
    failure = next(e for d, e in events if d == "ahu-02" and e["kind"] == "failure")
    assert failure["fault"] == "leaking_valve"
    assert failure["downtime_s"] >= 8 * HOUR
    assert [d for _, d, _ in run(plant, 1) if d == "ahu-02"] == [], "a failed air handler publishes nothing"
    assert plant.command("ahu-02", "set_setpoint", {"setpoint": 22.0}) == (
        "rejected",
        "device has failed and is under repair",
    )


def test_maintenance_clears_a_leak_and_reports_what_it_found() -> None:
    plant = quiet_building()
    plant.inject_fault("ahu-01", "leaking_valve")
    run(plant, 1)
    assert plant.active_faults("ahu-01") == ["leaking_valve"]
    assert plant.command("ahu-01", "schedule_maintenance", {"within_h": 0.0}) == ("done", "maintenance in 0 h")
    events = [e for d, e in run_events(plant, 1.5) if d == "ahu-01"]
    assert [e["kind"] for e in events] == ["maintenance_started", "repaired"]
    assert events[0]["found"] == "leaking_valve"
    fault = plant.ground_truth()["faults"][0]
    assert fault["caught"]
    assert fault["cleared_ts"] is not None
    assert fault["failure_ts"] is None
    assert plant.active_faults("ahu-01") == []


def test_a_drifting_sensor_reads_away_from_the_zone_and_the_zone_follows() -> None:
    plant = quiet_building()
    until(plant, 6.0)
    plant.inject_fault("ahu-03", "sensor_drift", magnitude=0.2)
    rows = run(plant, 10)
    gap = series(rows, "ahu-03", "zone_temp") - series(rows, "ahu-03", "return_temp")
    assert gap[-120:].mean() - gap[:120].mean() > 1.5
    assert plant.zone_temps()["ahu-03"] < 23.0 - 1.0, "the controller holds the wrong temperature"
    assert abs(plant.zone_temps()["ahu-02"] - 23.0) < 0.5


def test_a_short_cycling_chiller_toggles_and_wears_out() -> None:
    healthy, cycling = quiet_building(), quiet_building()
    until(healthy, 10.0)
    until(cycling, 10.0)
    cycling.inject_fault("chiller-01", "short_cycling", magnitude=300.0, hours_to_failure=4.0)
    good, bad = run(healthy, 2), run(cycling, 2)
    toggles = {
        name: int(np.abs(np.diff(series(rows, "chiller-01", "running"))).sum())
        for name, rows in (("good", good), ("bad", bad))
    }
    assert toggles["good"] <= 2
    assert toggles["bad"] >= 20
    events = run_events(cycling, 3)
    assert ("chiller-01", "short_cycling") in {(d, e.get("fault")) for d, e in events if e["kind"] == "failure"}


def test_a_damper_stuck_open_on_a_hot_afternoon_costs_energy() -> None:
    healthy, stuck = quiet_building(), quiet_building()
    until(healthy, 11.0)
    until(stuck, 11.0)
    stuck.inject_fault("ahu-01", "stuck_damper", magnitude=1.0)
    run(healthy, 4)
    bad = run(stuck, 4)
    assert series(bad, "ahu-01", "damper_pos").mean() > 0.95
    assert sum(stuck.ground_truth()["energy_kwh"].values()) > sum(healthy.ground_truth()["energy_kwh"].values()) + 5


@pytest.mark.parametrize(
    ("device", "name", "args", "reason"),
    [
        ("ahu-01", "set_setpoint", {"setpoint": 35.0}, "setpoint=35.0 outside [18.0, 28.0]"),
        ("ahu-01", "set_fan_speed", {"fraction": 0.1}, "fraction=0.1 outside [0.3, 1.0]"),
        ("ahu-01", "set_economizer", {"on": 0.5}, "on=0.5 must be 0 or 1"),
        ("ahu-01", "set_setpoint", {}, "missing argument 'setpoint'"),
        ("ahu-01", "reduce_speed", {"factor": 0.5}, "unknown command 'reduce_speed' for a air_handler"),
        ("chiller-01", "set_setpoint", {"setpoint": 23.0}, "unknown command 'set_setpoint' for a chiller"),
        ("chiller-01", "set_chw_setpoint", {"setpoint": 2.0}, "setpoint=2.0 outside [5.0, 10.0]"),
        ("ahu-09", "set_setpoint", {"setpoint": 23.0}, "unknown device 'ahu-09'"),
    ],
)
def test_commands_outside_their_envelope_are_rejected_with_a_reason(
    device: str, name: str, args: dict[str, float], reason: str
) -> None:
    plant = quiet_building()
    assert plant.command(device, name, args) == ("rejected", reason)
    assert plant.ground_truth()["actions"][-1]["status"] == "rejected"


def test_commands_inside_their_envelope_act() -> None:
    plant = quiet_building()
    until(plant, 12.0)
    assert plant.command("ahu-02", "set_fan_speed", {"fraction": 0.4}) == ("done", "fan speed at most 0.40")
    assert plant.command("ahu-02", "set_economizer", {"on": 0}) == ("done", "economizer off")
    assert plant.command("chiller-01", "set_chw_setpoint", {"setpoint": 9.0}) == ("done", "chilled water at 9.0 degC")
    rows = run(plant, 1)
    assert series(rows, "ahu-02", "fan_speed").max() <= 0.41
    assert abs(series(rows, "chiller-01", "chw_supply_temp")[-20:].mean() - 9.0) < 0.5


def test_ground_truth_lists_the_planned_faults_and_the_day_books_energy_and_comfort() -> None:
    plant = BuildingPlant(6, seed=0, start_ts=WEDNESDAY, faults_per_device_day=1.0)
    events = run_events(plant, 24)
    truth = plant.ground_truth()
    kinds = {f["kind"] for f in truth["faults"]}
    assert kinds
    assert kinds <= {"stuck_damper", "leaking_valve", "sensor_drift", "short_cycling"}
    assert truth["summary"]["faults"] == len(truth["faults"])
    assert all(f["device"] in truth["devices"] for f in truth["faults"])
    usage = [(d, e) for d, e in events if e["kind"] == "usage"]
    assert {d for d, _ in usage} == set(plant.devices)
    assert sum(e["energy_kwh"] for _, e in usage) == pytest.approx(truth["summary"]["energy_kwh"], rel=0.01)
    assert all("comfort_degree_h" in e for d, e in usage if d.startswith("ahu"))
