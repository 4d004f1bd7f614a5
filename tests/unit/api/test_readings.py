"""Anomaly episodes and newest readings from telemetry chunks that mix series, as the agent stores them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edgeloop.api.readings import anomalies, latest, latest_after
from edgeloop.io.store import SqliteStore


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "site.db", "s1")
    store.write_series([(0, "pump-a", "vibration", 0), (1, "pump-b", "vibration", 0)])
    yield store
    store.close()


def chunk(store: SqliteStore, keys: list[int], ts: list[float], scores: list[float]) -> None:
    """One chunk of bucket 0, written as the agent writes it."""
    k, t = np.array(keys, np.int32), np.array(ts, np.float64)
    v, s = np.arange(len(ts), dtype=np.float64), np.array(scores, np.float32)
    store.write_telemetry([(0, t.min(), t.max(), len(ts), k.tobytes(), t.tobytes(), v.tobytes(), s.tobytes())])
    store.flush()


def test_episodes_are_split_by_series_and_by_a_low_point(conn: SqliteStore) -> None:
    # pump-a: high at 1, 2 (over two chunks), low at 3, high at 4; pump-b: high at 2 only
    chunk(conn, [0, 1, 0, 1], [0.0, 1.0, 1.0, 2.0], [0.1, 0.2, 0.95, 0.97])
    chunk(conn, [0, 0, 0], [2.0, 3.0, 4.0], [0.99, 0.5, 0.92])

    found = anomalies(conn, 0.0, 10.0, 0.9, gap_s=0.0, gap_points=0)

    # newest end first, then by device
    assert [(e["device"], e["start"], e["end"], e["points"]) for e in found] == [
        ("pump-a", 4.0, 4.0, 1), ("pump-a", 1.0, 2.0, 2), ("pump-b", 2.0, 2.0, 1),
    ]  # fmt: skip
    assert found[1]["peak_score"] == pytest.approx(0.99)


def test_one_point_anomalies_a_few_points_apart_are_one_episode(conn: SqliteStore) -> None:
    # a reading a minute: high, 2 low, high, 5 low, high: one episode; then 6 low and high: a second one
    scores = [0.95, 0.1, 0.1, 0.96, *[0.1] * 5, 0.99, *[0.1] * 6, 0.93]
    chunk(conn, [0] * len(scores), [60.0 * i for i in range(len(scores))], scores)

    found = anomalies(conn, 0.0, 1e6, 0.9, gap_s=0.0, gap_points=5)

    assert [(e["start"], e["end"], e["points"]) for e in found] == [(960.0, 960.0, 1), (0.0, 540.0, 3)]
    assert found[1]["peak_score"] == pytest.approx(0.99)
    assert found[1]["peak_value"] == 9.0


def test_high_points_minutes_apart_in_data_time_are_one_episode(conn: SqliteStore) -> None:
    # a reading every 15 s: high points 9 minutes apart (35 low points between) and then 20 minutes apart
    scores = [0.1] * 120
    scores[0], scores[36], scores[116] = 0.95, 0.97, 0.92
    chunk(conn, [0] * 120, [15.0 * i for i in range(120)], scores)

    found = anomalies(conn, 0.0, 1e6, 0.9, gap_s=900.0, gap_points=5)

    assert [(e["start"], e["end"], e["points"]) for e in found] == [(1740.0, 1740.0, 1), (0.0, 540.0, 2)]


def test_a_long_stretch_without_data_separates_episodes(conn: SqliteStore) -> None:
    chunk(conn, [0, 0], [0.0, 7200.0], [0.95, 0.95])  # adjacent points, two hours of data time apart

    found = anomalies(conn, 0.0, 1e6, 0.9, gap_points=5, outage_s=3600.0)

    assert [(e["start"], e["points"]) for e in found] == [(7200.0, 1), (0.0, 1)]


def test_a_time_window_cuts_episodes(conn: SqliteStore) -> None:
    chunk(conn, [0, 0, 0], [1.0, 2.0, 3.0], [0.95, 0.95, 0.95])
    assert [(e["start"], e["points"]) for e in anomalies(conn, 2.0, 10.0, 0.9)] == [(2.0, 2)]
    assert anomalies(conn, 5.0, 10.0, 0.9) == []


def test_the_newest_reading_of_each_series(conn: SqliteStore) -> None:
    chunk(conn, [0, 1, 0], [5.0, 6.0, 7.0], [0.1, 0.2, 0.3])
    assert latest(conn) == {"pump-a": {"vibration": [7.0, 2.0, pytest.approx(0.3)]},
                            "pump-b": {"vibration": [6.0, 1.0, pytest.approx(0.2)]}}  # fmt: skip
    chunk(conn, [1], [8.0], [0.9])
    assert list(latest_after(conn, 1, {})) == ["pump-b"]  # only what came after the first chunk
