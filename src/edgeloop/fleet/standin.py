"""One site's power-cap coordinator as its own process, for a stand-in site with a fixed need.

    python -m edgeloop.fleet.standin --broker mqtt://127.0.0.1:1883 --site a --members a,b,c,d --cap 400 \\
        --want 300 --reserve 10 --lease-s 2 --period-s 0.4 --log a.jsonl

Every loop (`--tick-s`) it takes what arrived, ticks its `CapPeer`, commands its limit (writes it, one JSON line
with the wall-clock time, *before* it publishes the leases that lowered it) and publishes. A command holds for
`--hold-s` (the peer counts borrowed leases only when they outlive it), like a device's fail-safe timer: whoever
reads the log after a SIGKILL knows the site drew its last limit for at most `hold_s` more, then its reserve.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.fleet.coordinator import CapCoordinator, status_line
from edgeloop.fleet.powercap import CapPeer
from edgeloop.io.mqtt import MqttClient


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m edgeloop.fleet.standin", description=__doc__.split("\n")[0])
    p.add_argument("--broker", required=True, help="mqtt://host:port")
    p.add_argument("--site", required=True)
    p.add_argument("--members", required=True, help="the feeder's sites, comma-separated (the same on every site)")
    p.add_argument("--cap", type=float, required=True, help="the feeder's cap, kW")
    p.add_argument("--resource", default="feeder-1")
    p.add_argument("--must", type=float, default=0.0, help="kW this site must draw")
    p.add_argument("--want", type=float, required=True, help="kW this site would draw")
    p.add_argument("--reserve", type=float, default=0.0, help="kW the site draws with no agent")
    p.add_argument("--lease-s", type=float, default=2.0)
    p.add_argument("--period-s", type=float, default=0.4)
    p.add_argument("--skew-s", type=float, default=0.2)
    p.add_argument("--hold-s", type=float, default=0.5)
    p.add_argument("--tick-s", type=float, default=0.05)
    p.add_argument("--duration", type=float, default=10.0, help="real seconds to run")
    p.add_argument("--log", type=Path, required=True, help="JSON lines: each limit commanded")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    members = args.members.split(",")
    start = time.time()
    peer = CapPeer(args.site, args.cap, members, args.reserve, args.lease_s, args.period_s, args.skew_s,
                   args.hold_s, started=start)  # fmt: skip
    coordinator = CapCoordinator(peer, args.resource, Ed25519PrivateKey.generate())
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    with args.log.open("ab", buffering=0) as log:
        async with MqttClient(args.broker, f"edgeloop-coord-{args.site}") as client:
            await client.subscribe(*coordinator.subscriptions(), qos=1)
            while not stop.is_set() and time.time() - start < args.duration:
                for message in client.drain(10_000):
                    coordinator.take(message.topic, message.payload, time.time())
                now = time.time()
                sent = coordinator.tick(now, max(args.must, args.reserve), args.want)
                log.write(status_line(coordinator.status(now)))  # command first, then tell the others
                for topic, payload in sent:
                    client.publish(topic, payload, qos=1)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.tick_s)
            await client.flush(1.0)
    if coordinator.refused:
        print(f"{args.site}: refused {dict(coordinator.refused)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
