"""Economics: the shipped defaults load, and every bad value is named by field and line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from edgeloop.ledger import EconomicsError, load_economics, parse_economics

GOOD = """\
currency: EUR
agent_running_cost_per_day: 20
assets:
  pump:
    repair_cost: 8000
    production_value_per_hour: 1000
    typical_failure_downtime_h: 16
    planned_maintenance_cost: 1500
    inspection_cost: 150
    false_alarm_cost: 300
    energy_price_per_kwh: 0.17
    failure_modes: [bearing_wear]
"""


def test_defaults_cover_the_simulator_asset_types() -> None:
    economics = load_economics()

    assert economics.currency == "EUR"
    assert set(economics.assets) >= {"pump", "motor"}
    assert "cavitation" in economics.asset("pump").failure_modes


def test_failure_cost_is_repair_plus_lost_production() -> None:
    pump = parse_economics(GOOD).asset("pump")

    assert pump.failure_cost(downtime_h=2.5) == Decimal("10500.00")
    assert pump.failure_cost() == Decimal("24000.00")  # typical downtime


def test_energy_price_is_exact() -> None:
    assert parse_economics(GOOD).asset("pump").energy_price_per_kwh == Decimal("0.17")


def test_negative_cost_names_field_and_line() -> None:
    with pytest.raises(EconomicsError) as caught:
        parse_economics(GOOD.replace("repair_cost: 8000", "repair_cost: -1"))

    assert caught.value.field == "assets.pump.repair_cost"
    assert caught.value.line == 5
    assert "line 5" in str(caught.value)


def test_missing_field_is_named() -> None:
    with pytest.raises(EconomicsError) as caught:
        parse_economics(GOOD.replace("    inspection_cost: 150\n", ""))

    assert caught.value.field == "assets.pump.inspection_cost"
    assert "required" in caught.value.reason.lower()


def test_unknown_field_is_rejected_at_its_line() -> None:
    with pytest.raises(EconomicsError) as caught:
        parse_economics(GOOD + "    colour: red\n")

    assert caught.value.field == "assets.pump.colour"
    assert caught.value.line == 13


def test_currency_must_be_an_iso_code() -> None:
    with pytest.raises(EconomicsError) as caught:
        parse_economics(GOOD.replace("EUR", "euro"))

    assert (caught.value.field, caught.value.line) == ("currency", 1)


def test_broken_yaml_gives_its_line() -> None:
    with pytest.raises(EconomicsError) as caught:
        parse_economics(GOOD + "  motor: [unclosed\n")

    assert caught.value.line is not None
    assert "YAML" in caught.value.reason


def test_asset_without_economics_names_the_known_ones() -> None:
    with pytest.raises(EconomicsError, match=r"assets\.hvac.*known: pump"):
        parse_economics(GOOD).asset("hvac")


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(GOOD.replace("0.17", "cheap"), encoding="utf-8")

    with pytest.raises(EconomicsError, match=r"^site\.yaml line 11: assets\.pump\.energy_price_per_kwh"):
        load_economics(path)
