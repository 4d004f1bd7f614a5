"""`edgeloop bench store`: the PostgreSQL store against SQLite, measured in one run.

1. ingest: telemetry chunks as the agent makes them (a micro-batch of consecutive devices, one chunk row per
   bucket of 64 devices) written through each store's writer thread and committed: points/s into PostgreSQL
   (binary COPY, group commit) and into SQLite (`executemany`, group commit).
2. agent: the throughput bench's end-to-end phase (decode, score, store) on SQLite, then on PostgreSQL, with
   the same load through the same broker; the ratio of the two rates.

The PostgreSQL figures are taken in a schema made for the run and dropped after it, so the bench can run on
a database that holds real sites.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from rich.console import Console
from rich.table import Table

from edgeloop.bench.loadgen import Load
from edgeloop.bench.throughput import through_agent
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.store import AgentStore, SqliteStore, chunk_rows
from edgeloop.io.store.postgres import PgStore
from edgeloop.io.store.postgres.schema import scratch_schema, where

TARGET_COPY_POINTS_PER_S = 300_000.0
TARGET_RATIO = 0.8


@dataclass(slots=True)
class StoreResult:
    postgres: str
    points_per_batch: int
    batches: int
    copy_points_per_s: float
    copy_rows_per_s: float
    sqlite_points_per_s: float
    agent_sqlite_points_per_s: float
    agent_postgres_points_per_s: float
    agent_ratio: float
    agent_series: int
    seconds: float
    copy_target_met: bool
    ratio_target_met: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def batches(devices: int, per_batch: int, count: int, t0: float) -> list[list[tuple[Any, ...]]]:
    """Chunk rows of `count` micro-batches of `per_batch` points (one metric per device, devices in turn)."""
    rng = np.random.default_rng(0)
    out = []
    for b in range(count):
        first = (b * per_batch) % devices
        device = (first + np.arange(per_batch)) % devices
        ts = np.asarray(t0 + b + np.arange(per_batch) * 1e-6, dtype=np.float64)
        out.append(chunk_rows(device, device, ts, rng.normal(size=per_batch), rng.random(per_batch)))
    return out


def ingest(store: AgentStore, work: list[list[tuple[Any, ...]]]) -> float:
    """Seconds from the first write to the last commit."""
    start = time.perf_counter()
    for rows in work:
        store.write_telemetry(rows)
    store.flush()
    store.check()
    return time.perf_counter() - start


def run(
    pg_url: str,
    broker: str,
    series: int,
    seconds: float,
    per_batch: int,
    n_batches: int,
    progress: Callable[[str], None],
) -> StoreResult:
    work = batches(series, per_batch, n_batches, time.time() - 3600)
    points = per_batch * n_batches
    rows = sum(len(b) for b in work)
    with (
        tempfile.TemporaryDirectory(prefix="edgeloop-bench-store-") as tmp,
        scratch_schema(pg_url, "edgeloop_bench") as url,
    ):
        progress(f"1/3 ingest: {points:,} points in {n_batches} batches ({rows:,} chunk rows) ...")
        pg = PgStore(url, "benchcopy")
        ingest(pg, work[:2])  # partitions made, connections warm
        copy_s = ingest(pg, work)
        pg.close()
        lite = SqliteStore(Path(tmp) / "copy.db", "benchcopy")
        ingest(lite, work[:2])
        lite_s = ingest(lite, work)
        lite.close()
        progress(f"    PostgreSQL COPY {points / copy_s:,.0f} points/s; SQLite {points / lite_s:,.0f} points/s")
        devices = series
        site = f"bench{int(time.time()) % 100000}"
        progress(f"2/3 agent end to end on SQLite: {seconds:g} s over {devices:,} devices ...")
        _, _, lite_rate, *_ = asyncio.run(through_agent(broker, Load(broker, site + "s", devices, 1, seconds),
                                                        Path(tmp) / "s"))  # fmt: skip
        progress(f"    {lite_rate:,.0f} points/s")
        progress("3/3 agent end to end on PostgreSQL, the same load ...")
        _, _, pg_rate, *_ = asyncio.run(through_agent(broker, Load(broker, site + "p", devices, 1, seconds),
                                                      Path(tmp) / "p", url))  # fmt: skip
        progress(f"    {pg_rate:,.0f} points/s ({pg_rate / max(lite_rate, 1e-9):.0%} of SQLite's)")
    copy_rate = points / copy_s
    ratio = pg_rate / max(lite_rate, 1e-9)
    return StoreResult(
        postgres=_redacted(pg_url),
        points_per_batch=per_batch,
        batches=n_batches,
        copy_points_per_s=round(copy_rate, 1),
        copy_rows_per_s=round(rows / copy_s, 1),
        sqlite_points_per_s=round(points / lite_s, 1),
        agent_sqlite_points_per_s=round(lite_rate, 1),
        agent_postgres_points_per_s=round(pg_rate, 1),
        agent_ratio=round(ratio, 3),
        agent_series=devices,
        seconds=seconds,
        copy_target_met=copy_rate >= TARGET_COPY_POINTS_PER_S,
        ratio_target_met=ratio >= TARGET_RATIO,
    )


def _redacted(url: str) -> str:
    return "postgresql://" + where(url)


def bench_store(
    postgres: str,
    broker: str | None = None,
    series: int = 10_000,
    seconds: float = 10.0,
    per_batch: int = 20_000,
    n_batches: int = 50,
    json_out: bool = False,
) -> int:
    """Run the store bench and print its figures (a table, or one JSON line); 1 when a target is missed."""
    console = Console(stderr=True)

    def go(url: str) -> StoreResult:
        return run(postgres, url, series, seconds, per_batch, n_batches, console.print)

    if broker:
        result = go(broker)
    else:
        with EmbeddedBroker() as embedded:
            result = go(embedded.url)
    if json_out:
        sys.stdout.write(orjson.dumps(result.as_dict()).decode() + "\n")
    else:
        table = Table(title=f"edgeloop bench store ({result.postgres})")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for key, value in result.as_dict().items():
            table.add_row(
                key, f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
            )
        Console().print(table)
    return 0 if result.copy_target_met and result.ratio_target_met else 1
