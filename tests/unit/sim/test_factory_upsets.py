"""Process upsets in the factory: demand dips with nothing wrong, on a random stream of their own."""

from __future__ import annotations

from edgeloop.sim.factory import FactoryPlant


def run(plant: FactoryPlant, steps: int) -> list[dict[str, dict[str, float]]]:
    return [dict(plant.step().telemetry) for _ in range(steps)]


def test_an_upset_slows_the_device_for_its_minutes_and_changes_nothing_else() -> None:
    plain = FactoryPlant(6, seed=4, faults_per_device_day=0.0)
    upset = FactoryPlant(6, seed=4, faults_per_device_day=0.0, upsets_per_device_day=3.0)
    a, b = run(plain, 2_400), run(upset, 2_400)  # 10 h: past the 4 h warm-up
    truth = upset.ground_truth()["upsets"]
    assert truth
    assert not plain.ground_truth()["upsets"]
    u = truth[0]
    assert 0.6 <= u["depth"] <= 0.8
    assert 3 * 60 <= u["end_ts"] - u["start_ts"] <= 12 * 60
    step = int((u["start_ts"] - plain.start_ts) // plain.interval_s) + 1  # the first step inside it
    during = b[step][u["device"]]["speed"] / a[step][u["device"]]["speed"]
    assert abs(during - u["depth"]) < 0.01
    assert a[: step - 1] == b[: step - 1]  # the same plant until the first upset: its noise and setup are untouched
    assert not upset.ground_truth()["faults"]  # an upset is no fault


def test_upsets_leave_the_fault_plan_as_it_was() -> None:
    plain = FactoryPlant(20, seed=2)
    upset = FactoryPlant(20, seed=2, upsets_per_device_day=1.0)
    run(plain, 2_000)
    run(upset, 2_000)
    starts = [(f["device"], f["kind"]) for f in plain.ground_truth()["faults"]]
    assert starts
    assert starts == [(f["device"], f["kind"]) for f in upset.ground_truth()["faults"]]
