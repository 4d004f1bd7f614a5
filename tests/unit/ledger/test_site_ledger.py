"""A site's ledger from the rows its store hands over: the report over them, `--since`, and what cannot be reported."""

from __future__ import annotations

import pytest

from edgeloop.ledger import HoldoutDesign, LedgerRows, ReportError, roi_summary, site_ledger

DAYS = [19_676, 19_677, 19_678, 19_679]
HOLDOUT = HoldoutDesign(seed=0).assign({f"p{i}": "pump" for i in range(8)}).to_json()


def test_a_site_without_a_holdout_record_has_no_report() -> None:
    with pytest.raises(ReportError, match="no holdout record yet"):
        site_ledger("plant", LedgerRows(None, [], DAYS))


def test_every_assigned_device_is_observed_on_every_day_with_data() -> None:
    ledger = site_ledger("plant", LedgerRows(HOLDOUT, [], DAYS), n_boot=10)

    assert (ledger.site, ledger.report.days, len(ledger.observations)) == ("plant", 4, 8 * 4)


def test_since_a_number_of_days_counts_back_from_the_last_day_with_data() -> None:
    ledger = site_ledger("plant", LedgerRows(HOLDOUT, [], DAYS), since="2d", n_boot=10)

    assert sorted({o.day for o in ledger.observations}) == DAYS[-2:]


def test_a_since_that_is_not_a_date_is_refused_with_the_forms_it_takes() -> None:
    with pytest.raises(ReportError, match="7d"):
        site_ledger("plant", LedgerRows(HOLDOUT, [], DAYS), since="last week")


def test_the_summary_counts_the_devices_of_each_arm() -> None:
    summary = roi_summary(site_ledger("plant", LedgerRows(HOLDOUT, [], DAYS), n_boot=10))

    assert summary["treated_devices"] + summary["holdout_devices"] == 8  # type: ignore[operator]
