"""The demo's live view shows the treated and holdout arms side by side, with the headline's measured figure."""

from __future__ import annotations

from rich.console import Console
from tests.unit.ledger.test_report import report_of

from edgeloop.demo.view import arms_table
from edgeloop.ledger import Arm, SiteEconomics, headline


def test_the_arms_table_shows_each_arm_and_the_measured_difference(economics: SiteEconomics) -> None:
    report, _ = report_of(economics, 0)
    console = Console(width=100, record=True)
    console.print(arms_table(report))
    text = console.export_text()
    cells = {row[0]: row[1:] for row in (line.replace("│", " ").split() for line in text.splitlines()) if row}

    treated, holdout = report.arms[Arm.TREATED], report.arms[Arm.HOLDOUT]
    assert cells["devices"] == [str(treated.devices), str(holdout.devices)]
    assert cells["failures"] == [str(treated.failures), str(holdout.failures)]
    h = headline(report)
    assert h.value_per_device_day is not None
    assert f"{h.value_per_device_day:+,.0f} {report.currency} per device-day" in text
