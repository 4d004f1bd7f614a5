"""On-delays per alarm class, learnt from how long false alarms' anomalies lasted."""

from __future__ import annotations

import pytest

from edgeloop.learn.ondelay import OnDelay, alarm_class


def test_a_class_without_false_alarms_does_not_wait() -> None:
    od = OnDelay()
    od.transient("pump/current", 300.0)
    assert od.delay("pump/vibration") == 0.0
    assert od.delay("motor/current") == 0.0


def test_the_delay_outlasts_most_of_the_classes_false_alarms() -> None:
    od = OnDelay(quantile=0.9, margin_s=120.0, max_s=3600.0)
    lasted = [300.0, 420.0, 360.0, 480.0, 390.0, 450.0, 330.0, 400.0, 440.0, 470.0]
    for s in lasted:
        od.transient("pump/current", s)
    outlasted = sum(s < od.delay("pump/current") for s in lasted)
    assert outlasted == len(lasted)
    assert od.delay("pump/current") < max(lasted) + 120.0 + 1e-9


def test_the_delay_never_exceeds_its_cap_and_zero_turns_it_off() -> None:
    capped, off = OnDelay(max_s=600.0), OnDelay(max_s=0.0)
    for od in (capped, off):
        od.transient("pump/current", 10_000.0)
    assert capped.delay("pump/current") == 600.0
    assert off.delay("pump/current") == 0.0


def test_only_the_newest_false_alarms_count() -> None:
    od = OnDelay(quantile=1.0, margin_s=0.0, keep=3)
    for s in (900.0, 100.0, 100.0, 100.0):
        od.transient("pump/current", s)
    assert od.delay("pump/current") == 100.0


def test_each_miss_drops_the_longest_wait_until_none_is_left() -> None:
    od = OnDelay(margin_s=0.0)
    for s in (300.0, 600.0):
        od.transient("pump/current", s)

    assert od.missed("pump/current") is True
    assert od.delay("pump/current") == 300.0
    assert od.missed("pump/current") is True
    assert od.delay("pump/current") == 0.0
    assert od.missed("pump/current") is False


def test_the_learnt_delays_survive_a_restart() -> None:
    od = OnDelay()
    for s in (200.0, 300.0):
        od.transient("motor/bearing_temp", s)
    again = OnDelay()
    again.restore(od.to_json())
    assert again.delays() == od.delays() != {}


def test_the_class_is_led_by_the_highest_scoring_metric() -> None:
    assert alarm_class("motor", {"current": 0.4, "bearing_temp": 0.97}) == "motor/bearing_temp"


@pytest.mark.parametrize(
    "args", [{"quantile": 0.0}, {"margin_s": -1.0}, {"max_s": -5.0}, {"min_false": 0}, {"min_false": 21}]
)
def test_nonsense_settings_are_refused(args: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|cannot be"):
        OnDelay(**args)
