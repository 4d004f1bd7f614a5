"""`edgeloop bench scale` runs its phases on a three-node cluster and leaves no process behind; the phase that
SIGKILLs a node at QoS 1 loses nothing."""

from __future__ import annotations

import orjson
import psutil
import pytest

from edgeloop.bench.scale import scale

pytestmark = pytest.mark.integration


@pytest.mark.timeout(400)
def test_the_scale_bench_measures_each_agent_count_and_loses_nothing_when_a_node_dies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = set(_children())  # the session's own brokers (fixtures of other tests) may be running already
    code = scale(sites=2, devices=10, agents=(1, 2), seconds=2.0, json_out=True, kill=True)

    doc = orjson.loads(capsys.readouterr().out)
    phases = doc["phases"]
    assert code == 0
    assert [(p["agents"], p["qos"]) for p in phases] == [(1, 0), (2, 0), (2, 1)]
    assert all(p["points_per_s"] > 0 and p["broker_in_msgs_per_s"] > 0 for p in phases)
    assert all(p["p99_decision_latency_ms"] is not None for p in phases)
    killed = phases[-1]
    assert killed["killed_node"] is not None
    assert killed["published"] > 0
    assert killed["lost"] == 0
    assert set(_children()) - before == set()  # every process the bench started is gone


def _children() -> list[str]:
    """This process's children, but multiprocessing's resource tracker (it lives as long as the test process)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "resource_tracker" not in line:
            found.append(line)
    return found
