"""The ledger over time for the dashboard's charts (`GET /roi/series`): one value per day and arm, summing to
what the report says of each arm."""

from __future__ import annotations

import pytest

from edgeloop.ledger import Arm, Draft, EntryKind, HoldoutDesign, Ledger, LedgerRows, money, site_ledger
from edgeloop.ledger.entries import DAY
from edgeloop.web.roi_html import series

DAYS = [19_676, 19_677, 19_678]
RECORD = HoldoutDesign(seed=0).assign({f"p{i}": "pump" for i in range(8)})


def _ledger() -> LedgerRows:
    treated = next(a.device for a in RECORD.assignments if a.arm is Arm.TREATED)
    held = next(a.device for a in RECORD.assignments if a.arm is Arm.HOLDOUT)
    drafts = [
        Draft(treated, "pump", Arm.TREATED, DAYS[0] * DAY + 60, EntryKind.MAINTENANCE, money(-600), "t"),
        Draft(treated, "pump", Arm.TREATED, DAYS[0] * DAY + 90, EntryKind.AVOIDED_FAILURE, money(9000), "t"),
        Draft(held, "pump", Arm.HOLDOUT, DAYS[2] * DAY + 60, EntryKind.FAILURE, money(-8000), "t", quantity=6.0),
    ]
    entries = Ledger().extend(drafts)
    return LedgerRows(RECORD.to_json(), [e.to_json() for e in entries], DAYS)


def test_each_arm_has_a_value_per_day_and_sums_to_the_report() -> None:
    site = site_ledger("plant", _ledger(), n_boot=10)

    found = series(site)

    assert found["days"] == [d * DAY for d in DAYS]
    for arm in Arm:
        mine, report = found["arms"][str(arm)], site.report.arms[arm]
        assert len(mine["net_value"]) == len(mine["downtime_h"]) == len(DAYS)
        assert mine["devices"] == report.devices
        # realized value only: the claimed avoided failure is not in any measured series
        assert sum(mine["net_value"]) * mine["devices"] == pytest.approx(float(report.realized_net_value))
        assert mine["cumulative_net_value"][-1] == pytest.approx(sum(mine["net_value"]))
        assert sum(mine["downtime_h"]) * mine["devices"] == pytest.approx(report.downtime_h)
    assert found["uplift"]["net_value"] == site.report.uplift["net_value"].to_json()
