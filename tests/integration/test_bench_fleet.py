"""`edgeloop bench fleet` on a small fleet: every site's decisions and ledger are the same through one broker
and through the three-node cluster, and the fleet ROI report read from the shared PostgreSQL store is the sum of
the sites' reports."""

from __future__ import annotations

import orjson
import pytest
from tests.conftest import POSTGRES

from edgeloop.bench.scale_fleet import fleet

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)
def test_a_fleet_decides_and_books_the_same_through_one_broker_and_the_cluster(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = fleet(sites=2, devices=6, agents=2, hours=9.0, store=POSTGRES, json_out=True)  # a decision or two a site

    doc = orjson.loads(capsys.readouterr().out)
    one, cluster = doc["runs"]
    assert (one["broker"], cluster["broker"]) == ("one broker", "nats cluster x3")
    for run in (one, cluster):
        assert run["points_stored"] == run["points_sent"] > 0
    assert one["decisions"] > 0  # something to compare: decisions and booked outcomes
    assert one["entries"] > 0
    # every site decided and booked the same; a score may differ in its last digits after readings that came late
    assert all(set(d) <= {"scores"} for d in doc["sites_differing"].values()), (doc["sites_differing"], doc["runs"])
    for check in doc["fleet_report_vs_sum_of_sites"]:
        assert check["net_value"][2]
        assert check["entries"][2]
        assert all(equal for _, _, equal in check.values())
    assert doc["equal"] is True
    assert code == 0
