"""One agent process of `edgeloop bench scale`: the site agents of some sites in one event loop, on the cluster.

    python -m edgeloop.bench.scale_worker '{"url": ..., "sites": [...], "devices": 100, "data_dir": ..., ...}'

It prints `ready` once every site's agent knows its devices (from their retained metas), then runs until its
agents have received points and then nothing more for `stall_s` (or `deadline_s` passes), and prints one JSON
line: points, messages, decisions, the first and last time points arrived, and the decision latencies. Once the
publishers are done, the bench writes `{"expect_points": N}` on its stdin: with N distinct points stored, a 2 s
stall ends the run (a long `stall_s` waits out a killed node's fail-over and redelivery, not the end of the data).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from edgeloop.agent.service import open_agent
from edgeloop.agent.site import SiteAgent
from edgeloop.io.signals import stop_on_signals
from edgeloop.settings import load_settings


async def serve(spec: dict[str, Any]) -> dict[str, Any]:
    url, devices = str(spec["url"]), int(spec["devices"])
    stall_s, deadline = float(spec.get("stall_s", 3.0)), time.monotonic() + float(spec.get("deadline_s", 300.0))
    stop = asyncio.Event()
    stop_on_signals(stop)
    async with contextlib.AsyncExitStack() as stack:
        agents: list[SiteAgent] = []
        for site in spec["sites"]:
            settings = load_settings(
                None,
                broker={"url": url, "persistent_session": bool(spec.get("qos")), "qos": int(spec.get("qos", 0))},
                agent={"site": site, "autonomy": 0, "data_dir": Path(spec["data_dir"]), "batch_max": 20_000},
                ledger={"economics": spec["economics"]},
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
        expected: list[int] = []
        threading.Thread(target=_read_expected, args=(expected,), daemon=True).start()
        seen, first, last, checked = 0, 0.0, 0.0, 0.0
        while not stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            points = sum(a.stats.points for a in agents)
            if points != seen:
                now = time.time()
                first, seen, last = first or now, points, now
            elif seen and time.time() - last > stall_s:
                break
            elif expected and seen >= expected[0] and time.time() - max(last, checked) > 2.0:
                checked = time.time()  # as many points as were sent, or more: QoS 1 may deliver some twice while
                for a in agents:  # others still wait for redelivery, so the distinct ones are what count
                    await asyncio.to_thread(a.store.flush, 10.0)
                if sum(_distinct_points(a) for a in agents) >= expected[0]:
                    break
        stop.set()
        await asyncio.gather(*tasks)
        for a in agents:
            await asyncio.to_thread(a.store.flush, 10.0)
        distinct = sum(_distinct_points(a) for a in agents)
        return {
            "sites": list(spec["sites"]),
            "points": sum(a.stats.points for a in agents),
            "messages": sum(a.stats.messages for a in agents),
            "decisions": sum(a.stats.decisions for a in agents),
            "quarantined": sum(a.stats.quarantined for a in agents),
            "distinct": distinct,
            "first": first,
            "last": last,
            "latency_s": [x for a in agents for x in a.stats.decision_latency_s],
        }


def _read_expected(into: list[int]) -> None:
    """The bench's `{"expect_points": N}` line, when it comes (a blocking read: on its own thread)."""
    line = sys.stdin.readline()
    with contextlib.suppress(ValueError, KeyError, TypeError):
        into.append(int(orjson.loads(line)["expect_points"]))


def _distinct_points(agent: SiteAgent) -> int:
    """Points stored, each (device, data time) once: what arrived, whatever QoS 1 delivered twice."""
    total = 0
    for known in agent.registry.by_index:
        for metric in known.meta.metrics:
            total += len(set(agent.store.read_series(known.meta.device, metric.name)[0].tolist()))
    return total


def main() -> None:
    result = asyncio.run(serve(orjson.loads(sys.argv[1])))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
