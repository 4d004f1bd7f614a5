from __future__ import annotations

import numpy as np

from edgeloop.sim.factory import FactoryPlant

HOUR = 3600.0


def run(plant: FactoryPlant, hours: float) -> list[tuple[float, str, dict[str, float]]]:
    rows = []
    for _ in range(int(hours * HOUR / plant.interval_s)):
        step = plant.step()
        rows += [(step.ts, d, m) for d, m in step.telemetry]
    return rows


def first_fault(plant: FactoryPlant, kind: str, hours: float = 48) -> dict[str, object]:
    run(plant, hours)
    return next(f for f in plant.ground_truth()["faults"] if f["kind"] == kind)


def test_same_seed_same_plant() -> None:
    a, b = FactoryPlant(6, seed=4), FactoryPlant(6, seed=4)
    assert run(a, 12) == run(b, 12)
    assert a.ground_truth() == b.ground_truth()


def test_commands_on_one_device_do_not_change_the_faults_of_others() -> None:
    quiet, busy = FactoryPlant(10, seed=5), FactoryPlant(10, seed=5)
    busy.command("pump-001", "reduce_speed", {"factor": 0.5})
    busy.command("motor-002", "stop", {})
    run(quiet, 36)
    run(busy, 36)

    def others(plant: FactoryPlant) -> list[tuple[str, str, float]]:
        faults = plant.ground_truth()["faults"]
        return [(f["device"], f["kind"], f["start_ts"]) for f in faults if f["device"] not in ("pump-001", "motor-002")]

    assert others(quiet) == others(busy)


def test_untreated_bearing_wear_raises_vibration_and_ends_in_a_failure_with_downtime() -> None:
    plant = FactoryPlant(20, seed=0)
    rows = run(plant, 30)
    fault = next(f for f in plant.ground_truth()["faults"] if f["kind"] == "bearing_wear" and f["failure_ts"])
    vib = [(t, m["vibration"]) for t, d, m in rows if d == fault["device"]]
    early = np.mean([v for t, v in vib if fault["start_ts"] - 3 * HOUR <= t < fault["start_ts"]])
    late = np.mean([v for t, v in vib if fault["failure_ts"] - 0.5 * HOUR <= t < fault["failure_ts"]])
    assert late > 2 * early
    failure = next(f for f in plant.ground_truth()["failures"] if f["device"] == fault["device"])
    assert failure["downtime_s"] >= 8 * HOUR
    down = [t for t, d, _ in rows if d == fault["device"] and fault["failure_ts"] < t < fault["failure_ts"] + 8 * HOUR]
    assert down == [], "a failed device publishes nothing while it is repaired"


def test_maintenance_clears_a_developing_fault_and_reports_what_it_found() -> None:
    plant = FactoryPlant(20, seed=0)
    fault = first_fault(plant, "bearing_wear", hours=9)
    assert fault["failure_ts"] is None
    assert plant.command(str(fault["device"]), "schedule_maintenance", {"within_h": 0.0}) == (
        "done",
        "maintenance in 0 h",
    )
    events = [
        e for _ in range(int(1.5 * HOUR / plant.interval_s)) for d, e in plant.step().events if d == fault["device"]
    ]
    assert [e["kind"] for e in events] == ["maintenance_started", "repaired"]
    assert events[1]["found"] == "bearing_wear"
    cleared = next(f for f in plant.ground_truth()["faults"] if f["id"] == fault["id"])
    assert cleared["caught"]
    assert cleared["cleared_ts"] is not None
    assert cleared["failure_ts"] is None


def test_reduce_speed_delays_the_failure() -> None:
    normal, slowed = FactoryPlant(20, seed=0), FactoryPlant(20, seed=0)
    fault = first_fault(normal, "bearing_wear", hours=30)
    run(slowed, (fault["start_ts"] - slowed.now) / HOUR + 0.1)
    slowed.command(str(fault["device"]), "reduce_speed", {"factor": 0.5})
    run(slowed, 30)
    later = next(f for f in slowed.ground_truth()["faults"] if f["id"] == fault["id"])
    assert later["failure_ts"] is None or later["failure_ts"] > fault["failure_ts"] + 2 * HOUR


def test_commands_outside_their_envelope_or_unknown_are_rejected() -> None:
    plant = FactoryPlant(2, seed=0)
    assert plant.command("pump-001", "schedule_maintenance", {"within_h": 99})[0] == "rejected"
    assert plant.command("pump-001", "self_destruct", {})[0] == "rejected"
    assert plant.command("pump-404", "stop", {})[0] == "rejected"
    assert [a["status"] for a in plant.ground_truth()["actions"]] == ["rejected"] * 3


def test_a_stopped_device_publishes_nothing_until_started() -> None:
    plant = FactoryPlant(2, seed=0)
    plant.command("motor-002", "stop", {})
    assert {d for _, d, _ in run(plant, 1)} == {"pump-001"}
    plant.command("motor-002", "start", {})
    assert {d for _, d, _ in run(plant, 1)} == {"pump-001", "motor-002"}


def test_a_stuck_sensor_repeats_one_value() -> None:
    plant = FactoryPlant(20, seed=0)
    rows = run(plant, 40)
    fault = next(f for f in plant.ground_truth()["faults"] if f["kind"] == "stuck")
    end = fault["cleared_ts"] or rows[-1][0]
    values = {m[fault["metric"]] for t, d, m in rows if d == fault["device"] and fault["start_ts"] < t < end}
    assert len(values) == 1
