from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from edgeloop.io.store import BUCKET, StoreError, chunk_rows

if TYPE_CHECKING:
    from tests.conftest import StoreBackend


def test_telemetry_round_trips_through_chunks(store_backend: StoreBackend) -> None:
    store = store_backend.agent_store()
    # two devices in different buckets, interleaved, two metrics each
    device = np.array([0, BUCKET, 0, BUCKET, 0, 0])
    keys = np.array([0, 2, 1, 3, 0, 1])
    ts = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 2.0])
    values = np.array([10.0, 20.0, 11.0, 21.0, 12.0, 13.0])
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    store.write_series([(0, "a", "x", 0), (1, "a", "y", 0), (2, "b", "x", 1), (3, "b", "y", 1)])
    rows = chunk_rows(device, keys, ts, values, scores)
    assert len(rows) == 2
    store.write_telemetry(rows)
    store.flush()
    t, v, s = store.read_series("a", "x")
    assert t.tolist() == [1.0, 2.0]
    assert v.tolist() == [10.0, 12.0]
    assert s.tolist() == pytest.approx([0.1, 0.5])
    assert store.points() == 6
    store.close()


def test_many_series_are_read_at_once_each_as_read_alone(store_backend: StoreBackend) -> None:
    """What the agent reads to put late readings in place: several series, over devices in different buckets,
    in one call; a series with nothing stored comes back empty."""
    store = store_backend.agent_store()
    device = np.array([0, BUCKET, 0, BUCKET, 0, 0, BUCKET])
    keys = np.array([0, 2, 1, 3, 0, 1, 2])
    ts = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0])
    values = np.array([10.0, 20.0, 11.0, 21.0, 12.0, 13.0, 22.0])
    store.write_series([(0, "a", "x", 0), (1, "a", "y", 0), (2, "b", "x", 1), (3, "b", "y", 1)])
    store.write_telemetry(chunk_rows(device, keys, ts, values, np.zeros(7)))
    store.flush()
    names = [("a", "x"), ("b", "x"), ("b", "y"), ("c", "x")]

    many = store.read_many_series(names, 1.5, 3.0)

    assert sorted(many) == sorted(names)
    for name in names:
        alone = store.read_series(*name, 1.5, 3.0)
        assert [a.tolist() for a in many[name]] == [a.tolist() for a in alone]
    assert many["a", "x"][1].tolist() == [12.0]
    assert many["b", "x"][1].tolist() == [22.0]
    assert many["b", "y"][0].shape == many["c", "x"][0].shape == (0,)
    store.close()


def test_a_bad_statement_stops_the_writer_and_is_raised(store_backend: StoreBackend) -> None:
    store = store_backend.agent_store()
    store.write("INSERT INTO nowhere VALUES (1)", [()])  # type: ignore[attr-defined]  # the back ends' test hook
    store.flush()
    with pytest.raises(StoreError, match="nowhere"):
        store.check()
    store.close()


def test_a_device_s_events_come_newest_first_without_acks_or_usage(store_backend: StoreBackend) -> None:
    store = store_backend.agent_store()
    store.write_outcome("a", 10.0, 100.0, "failure", "d1", {"reason": "bearing"})
    store.write_outcome("a", 20.0, 101.0, "ack_done", "d1", {})
    store.write_outcome("a", 30.0, 102.0, "usage", None, {})
    store.write_outcome("a", 40.0, 103.0, "repaired", None, {})
    store.write_outcome("b", 50.0, 104.0, "failure", None, {})
    store.flush()

    events = store.read_events("a", 10)

    assert [(e["kind"], e["ts"], e["decision"]) for e in events] == [("repaired", 40.0, None), ("failure", 10.0, "d1")]
    assert events[1]["detail"] == {"reason": "bearing"}
    assert [e["kind"] for e in store.read_events("a", 1)] == ["repaired"]
    assert store.has_outcome("a", 10.0, "failure")
    assert not store.has_outcome("a", 10.0, "repaired")
    assert not store.has_outcome("b", 10.0, "failure")
    store.close()
