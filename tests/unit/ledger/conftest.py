"""Plain objects for the ledger tests: economics, a holdout record, decisions and outcomes."""

from __future__ import annotations

import pytest

from edgeloop.ledger import Arm, Assignment, HoldoutRecord, SiteEconomics, parse_economics

ECONOMICS = """\
currency: EUR
agent_running_cost_per_day: 10
assets:
  pump: {repair_cost: 8000, production_value_per_hour: 1000, typical_failure_downtime_h: 16,
         planned_maintenance_cost: 1500, inspection_cost: 150, false_alarm_cost: 300,
         energy_price_per_kwh: 0.2, failure_modes: [bearing_wear, cavitation]}
  motor: {repair_cost: 5000, production_value_per_hour: 500, typical_failure_downtime_h: 10,
          planned_maintenance_cost: 1000, inspection_cost: 100, false_alarm_cost: 200,
          energy_price_per_kwh: 0.2, failure_modes: [bearing_wear]}
"""


@pytest.fixture
def economics() -> SiteEconomics:
    return parse_economics(ECONOMICS)


@pytest.fixture
def holdout() -> HoldoutRecord:
    return HoldoutRecord(
        seed=0,
        fraction=0.5,
        assignments=(
            Assignment("p1", "pump", Arm.TREATED, 0),
            Assignment("p2", "pump", Arm.HOLDOUT, 1),
            Assignment("m1", "motor", Arm.TREATED, 0),
        ),
    )
