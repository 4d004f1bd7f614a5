"""Holdout: stratified, deterministic, independent of announcement order, stable as devices are added."""

from __future__ import annotations

import pytest

from edgeloop.ledger import Arm, HoldoutDesign, HoldoutRecord


def fleet(n_pumps: int, n_motors: int, start: int = 0) -> dict[str, str]:
    devices = {f"pump-{i:03d}": "pump" for i in range(start, start + n_pumps)}
    devices.update({f"motor-{i:03d}": "motor" for i in range(start, start + n_motors)})
    return devices


def held(record: HoldoutRecord, asset_type: str) -> int:
    return sum(a.arm is Arm.HOLDOUT for a in record.assignments if a.asset_type == asset_type)


@pytest.mark.parametrize(("n", "fraction"), [(25, 0.2), (7, 0.2), (30, 0.33), (100, 0.1)])
def test_each_asset_type_holds_out_its_fraction_within_one(n: int, fraction: float) -> None:
    record = HoldoutDesign(seed=3, fraction=fraction).assign(fleet(n, n + 3))

    assert abs(held(record, "pump") - n * fraction) < 1
    assert abs(held(record, "motor") - (n + 3) * fraction) < 1


def test_default_fraction_is_a_fifth() -> None:
    record = HoldoutDesign(seed=0).assign(fleet(25, 25))

    assert (held(record, "pump"), held(record, "motor")) == (5, 5)


def test_same_seed_gives_the_same_record() -> None:
    assert HoldoutDesign(seed=11).assign(fleet(20, 20)) == HoldoutDesign(seed=11).assign(fleet(20, 20))


def test_announcement_order_does_not_matter() -> None:
    devices = fleet(20, 20)
    backwards = dict(reversed(list(devices.items())))

    assert HoldoutDesign(seed=5).assign(devices) == HoldoutDesign(seed=5).assign(backwards)


def test_other_seeds_draw_other_holdouts() -> None:
    holdouts = {frozenset(HoldoutDesign(seed=s).assign(fleet(25, 25)).devices(Arm.HOLDOUT)) for s in range(5)}

    assert len(holdouts) == 5


def test_devices_added_later_never_move_earlier_ones() -> None:
    design = HoldoutDesign(seed=2)
    first = design.assign(fleet(10, 10))

    later = design.assign(fleet(10, 10) | fleet(7, 4, start=100), first)
    later = design.assign({"pump-999": "pump"}, later)

    assert later.assignments[: len(first.assignments)] == first.assignments
    assert len(later.assignments) == 20 + 11 + 1


def test_balance_holds_across_batches() -> None:
    design = HoldoutDesign(seed=9)
    record = None
    for batch in range(10):
        record = design.assign({f"pump-{batch}-{i}": "pump" for i in range(3)}, record)

    assert record is not None
    assert abs(held(record, "pump") - 30 * 0.2) < 1


def test_zero_fraction_holds_out_nothing() -> None:
    assert HoldoutDesign(seed=1, fraction=0.0).assign(fleet(10, 10)).devices(Arm.HOLDOUT) == []


def test_a_record_from_another_design_is_refused() -> None:
    record = HoldoutDesign(seed=1).assign(fleet(3, 3))

    with pytest.raises(ValueError, match="seed=1"):
        HoldoutDesign(seed=2).assign(fleet(4, 4), record)


def test_record_round_trips_through_json() -> None:
    record = HoldoutDesign(seed=4).assign(fleet(6, 6))

    assert HoldoutRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_fraction_outside_zero_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        HoldoutDesign(seed=0, fraction=fraction)
