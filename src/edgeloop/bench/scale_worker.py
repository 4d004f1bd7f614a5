"""One agent process of `edgeloop bench scale`: the site agents of some sites in one event loop, on the cluster.

    python -m edgeloop.bench.scale_worker '{"url": ..., "sites": [...], "devices": 100, "data_dir": ..., ...}'

It prints `ready` once every site's agent knows its devices (from their retained metas), then runs until its
agents have received points and then nothing more for `stall_s` (or `deadline_s` passes), and prints one JSON
line: points, messages, decisions, the first and last time points arrived, the longest pause in arrivals while
the publishers still published (a killed node's fail-over: how long the agents took to resume), the longest an
agent was without a connection, and the decision latencies. Once the publishers are done, the bench writes
`{"expect_points": N}` on its stdin: with N distinct points stored, a 2 s stall ends the run (a long `stall_s`
waits out a killed node's fail-over and redelivery, not the end of the data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from edgeloop.agent.service import open_agent
from edgeloop.agent.site import SiteAgent
from edgeloop.io.mqtt_teardown import quiet_client_teardown
from edgeloop.io.signals import stop_on_signals
from edgeloop.settings import load_settings


async def serve(spec: dict[str, Any]) -> dict[str, Any]:
    url, devices = str(spec["url"]), int(spec["devices"])
    stall_s, deadline = float(spec.get("stall_s", 3.0)), time.monotonic() + float(spec.get("deadline_s", 300.0))
    stop = asyncio.Event()
    stop_on_signals(stop)
    quiet_client_teardown(asyncio.get_running_loop())
    async with contextlib.AsyncExitStack() as stack:
        agents: list[SiteAgent] = []
        for site in spec["sites"]:
            settings = load_settings(
                None,
                broker={
                    "url": url,
                    "persistent_session": bool(spec.get("qos")),
                    "qos": int(spec.get("qos", 0)),
                    "redelivery_s": float(spec.get("redelivery_s", 0.0)),
                },
                agent={
                    "site": site,
                    "autonomy": int(spec.get("autonomy", 0)),
                    "data_dir": Path(spec["data_dir"]),
                    "batch_max": 20_000,
                },
                ledger={k: spec[k] for k in ("economics", "holdout_draw") if spec.get(k)},
                store={"url": spec["store"]} if spec.get("store") else {},
            )
            agents.append(await stack.enter_async_context(open_agent(settings, url)))
        tasks = [asyncio.create_task(a.run(stop)) for a in agents]
        while any(len(a.registry) < devices for a in agents):
            if time.monotonic() > deadline or any(t.done() for t in tasks):
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                known = [len(a.registry) for a in agents]
                return {"error": f"the agents know {known} devices of {devices} each"}
            await asyncio.sleep(0.05)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        expected: list[dict[str, int]] = []
        threading.Thread(target=_read_expected, args=(expected,), daemon=True).start()
        seen, first, last, checked, pause, publishing = 0, 0.0, 0.0, 0.0, 0.0, True
        down: dict[int, float] = {}  # agent -> when it was first seen without a connection
        offline = 0.0
        while not stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            for i, a in enumerate(agents):
                if not getattr(a.client, "connected", True):
                    down.setdefault(i, time.time())
                elif i in down:
                    offline = max(offline, time.time() - down.pop(i))
            points = sum(a.stats.points for a in agents)
            if points != seen:
                now = time.time()
                if first and publishing:  # a pause that began after the publishers were done is the data's end
                    pause = max(pause, now - last)
                first, seen, last, publishing = first or now, points, now, not expected
            elif seen and time.time() - last > stall_s:
                break
            elif expected and seen >= expected[0]["points"] and time.time() - max(last, checked) > 2.0:
                checked = time.time()  # as many points as were sent, or more: QoS 1 may deliver some twice while
                for a in agents:  # others still wait for redelivery, so the distinct ones are what count
                    await asyncio.to_thread(a.store.flush, 10.0)
                if _arrived(agents, expected[0]):
                    break
        stop.set()
        await asyncio.gather(*tasks)
        for a in agents:
            await asyncio.to_thread(a.store.flush, 10.0)
        distinct = sum(_distinct_points(a) for a in agents)
        records = {a.site: _records(a) for a in agents} if spec.get("records") else {}
        return {
            "sites": list(spec["sites"]),
            "points": sum(a.stats.points for a in agents),
            "messages": sum(a.stats.messages for a in agents),
            "decisions": sum(a.stats.decisions for a in agents),
            "quarantined": sum(a.stats.quarantined for a in agents),
            "distinct": distinct,
            "first": first,
            "last": last,
            "longest_pause_s": round(pause, 2),
            "longest_offline_s": round(offline, 2),
            "latency_s": [x for a in agents for x in a.stats.decision_latency_s],
            "records": records,
            "repeats_dropped": sum(a.stats.repeats_dropped for a in agents),
            "late_readings": sum(a.stats.late_readings for a in agents),
            "reconnections": sum(max(getattr(a.client, "connections", 1) - 1, 0) for a in agents),
        }


def _read_expected(into: list[dict[str, int]]) -> None:
    """The bench's `{"expect_points": N, "expect_usage": M}` line, when it comes (a blocking read: on its own
    thread). `expect_usage`, optional: the usage reports a plant sends last, after all its telemetry."""
    line = sys.stdin.readline()
    with contextlib.suppress(ValueError, KeyError, TypeError):
        doc = orjson.loads(line)
        into.append({"points": int(doc["expect_points"]), "usage": int(doc.get("expect_usage", 0))})


def _arrived(agents: list[SiteAgent], expected: dict[str, int]) -> bool:
    """Every point sent is stored (each once), and so is every usage report."""
    if sum(_distinct_points(a) for a in agents) < expected["points"]:
        return False
    return sum(a.store.count_outcomes("usage") for a in agents) >= expected["usage"]


def _records(agent: SiteAgent) -> dict[str, Any]:
    """What the site's agent decided and booked: its decision records and its ledger's rows."""
    store = agent.store
    return {"decisions": store.read_decisions(), "holdout": store.read_holdout(), "entries": store.read_entries(),
            "days": store.read_days()}  # fmt: skip


def _distinct_points(agent: SiteAgent) -> int:
    """Points stored, each (device, data time) once: what arrived, whatever QoS 1 delivered twice. One read of
    the site's telemetry: series by series, it held the worker's event loop for most of a minute on PostgreSQL
    while its agents still ran, and their connections were dropped for a missed keep-alive."""
    names = [(known.meta.device, metric.name) for known in agent.registry.by_index for metric in known.meta.metrics]
    return sum(len(set(ts.tolist())) for ts, _, _ in agent.store.read_many_series(names).values())


def main() -> None:
    logging.getLogger("gmqtt").setLevel(logging.CRITICAL)  # a lost connection is counted (`reconnections`)
    result = asyncio.run(serve(orjson.loads(sys.argv[1])))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
