"""The depot: buses charge, leave at their deadline, and a bus that leaves short is a costed failure."""

from __future__ import annotations

from edgeloop.ledger import Attribution, EntryKind, HoldoutDesign, Usage, load_economics
from edgeloop.model import Outcome
from edgeloop.sim.depot import DepotPlant

DAY = 86_400.0


def run(plant: DepotPlant, hours: float, kw: float | None = None) -> list[tuple[str, dict[str, object]]]:
    events = []
    for _ in range(int(hours * 3600 / plant.interval_s)):
        if kw is not None:
            for d in plant.devices:
                plant.command(d, "set_power", {"kw": kw})
        events += plant.step().events
    return events


def test_an_unmanaged_depot_charges_at_full_power_and_meets_every_deadline() -> None:
    plant = DepotPlant(n_chargers=4, seed=3, start_ts=0.0)

    events = run(plant, 48)

    departures = [e for _, e in events if e["kind"] == "departure"]
    assert len(departures) == 8
    assert not any(e["missed"] for e in departures)
    assert plant.ground_truth()["summary"]["missed_deadlines"] == 0


def test_a_bus_left_uncharged_misses_its_deadline_and_is_a_failure_with_a_downtime() -> None:
    plant = DepotPlant(n_chargers=2, seed=3, start_ts=0.0)

    events = run(plant, 36, kw=0.0)

    failures = [e for _, e in events if e["kind"] == "failure"]
    assert [e["fault"] for e in failures] == ["missed_deadline", "missed_deadline"]
    assert all(float(str(e["downtime_s"])) > 0 for e in failures)


def test_a_power_limit_holds_until_its_failsafe_time_then_falls_back() -> None:
    plant = DepotPlant(n_chargers=1, seed=3, start_ts=DAY + 22 * 3600.0, hold_s=60.0, failsafe_kw=6.0)
    plant.step()  # last night's bus leaves, tonight's (here since before 21:00) plugs in
    plant.step()

    plant.command("charger-01", "set_power", {"kw": 30.0})
    held = [plant.step() and plant.power_kw() for _ in range(4)]
    after = [plant.step() and plant.power_kw() for _ in range(2)]

    assert held == [30.0, 30.0, 30.0, 30.0]
    assert after == [6.0, 6.0]


def test_usage_events_report_each_chargers_energy_of_the_day() -> None:
    plant = DepotPlant(n_chargers=3, seed=1, start_ts=0.0)

    events = run(plant, 25)

    usage = [e for _, e in events if e["kind"] == "usage"]
    assert len(usage) == 3
    assert sum(float(str(e["energy_kwh"])) for e in usage) > 100


def test_the_ledger_books_a_missed_departure_as_a_failure_and_a_days_charging_as_energy() -> None:
    events = run(DepotPlant(n_chargers=1, seed=3, start_ts=0.0), 36, kw=0.0)
    attribution = Attribution(load_economics(), HoldoutDesign(seed=0, fraction=0.0).assign({"charger-01": "charger"}))

    failure = next(e for _, e in events if e["kind"] == "failure")
    drafts = attribution.on_outcome(Outcome("depot", "charger-01", 1.0, "failure", detail=failure))
    drafts += attribution.on_usage(Usage("charger-01", 0, 120.0))

    assert [(d.rule, d.kind) for d in drafts] == [("F1", EntryKind.FAILURE), ("E1", EntryKind.ENERGY)]
    assert drafts[0].amount < 0
