"""The power-cap bench's runs: the evening peak, with and without coordination, and an agent killed in it."""

from __future__ import annotations

import pytest

from edgeloop.bench.powercap import BenchConfig, RunResult, addressed_to, run_fleet

EVENING = BenchConfig(seed=1, hours=2.0, start_h=18.0, cap_kw=420.0, kill="depot", kill_at_h=0.5, restart_after_h=0.5)


@pytest.fixture(scope="module")
def runs() -> dict[str, RunResult]:
    return {
        "uncoordinated": run_fleet(EVENING, coordinated=False, kill=False),
        "killed": run_fleet(EVENING, coordinated=True, kill=True),
    }


def test_without_coordination_the_evening_goes_over_the_cap(runs: dict[str, RunResult]) -> None:
    base = runs["uncoordinated"]

    assert base.seconds_over_cap > 0


def test_coordinated_sites_stay_under_the_cap_while_the_depots_agent_is_killed_and_restarted(
    runs: dict[str, RunResult],
) -> None:
    killed = runs["killed"]

    assert killed.seconds_over_cap == 0
    assert killed.peak_kw <= EVENING.cap_kw
    assert killed.refused == 0


def test_a_site_takes_the_others_needs_and_only_its_own_leases() -> None:
    assert addressed_to("edgeloop/v1/_fleet/coord/feeder-1/need/depot", "building-1")
    assert not addressed_to("edgeloop/v1/_fleet/coord/feeder-1/need/depot", "depot")
    assert addressed_to("edgeloop/v1/_fleet/coord/feeder-1/lease/building-1/depot", "depot")
    assert not addressed_to("edgeloop/v1/_fleet/coord/feeder-1/lease/building-1/depot", "building-2")
