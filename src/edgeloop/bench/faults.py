"""Faults a chaos run injects, each the real thing where the machine allows: a broker that cannot be reached (a
TCP link in front of it that is cut and refused), a disk that is full for one process (its file-size limit
lowered to zero, so every write that would grow a file fails), and a burst of hostile messages."""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import Iterator

import orjson


class CuttableLink:
    """A TCP forwarder to the broker at `host:port`: `down()` cuts every connection through it and refuses new
    ones (to its clients the broker is unreachable), `up()` listens again on the same port. While `swallowing`,
    what the clients send is dropped on the way (a network that loses it): the broker never hears it, so a QoS 1
    publish stays unacknowledged."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.swallowing = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._server is not None

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, from_client: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if from_client and self.swallowing:
                        continue
                    dst.write(data)
                    await dst.drain()
            dst.close()
            self._writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))


def limit_file_size(pid: int, limit: int | None) -> None:
    """Set the file-size limit of process `pid` (None: unlimited). At 0, every write that would grow a file
    fails with EFBIG (Python ignores SIGXFSZ), which the store sees as it sees a full disk."""
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    # only the soft limit moves: raising a hard limit again would need a privilege the bench need not have
    soft = hard if limit is None or (hard != resource.RLIM_INFINITY and limit > hard) else limit
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))


def fuzz_corpus(site: str, devices: list[str], n: int) -> Iterator[tuple[str, bytes, bool]]:
    """`n` hostile messages (topic, payload, retain) aimed at a site's devices: bad JSON, wrong types, numbers
    beyond any sane range, timestamps far outside the window, unknown devices and topics, oversized payloads."""
    bad: list[tuple[str, object]] = [
        ("telemetry", {"ts": -1e24, "metrics": {"x": 1.0}}),
        ("telemetry", {"ts": 1e308, "metrics": {"x": 1.0}}),
        ("telemetry", {"ts": "soon", "metrics": {}}),
        ("telemetry", []),
        ("telemetry", {"metrics": {"x": "NaN"}}),
        ("event", {"kind": "failure", "downtime_s": 1e30}),
        ("event", {"kind": "usage", "energy_kwh": 1e308}),
        ("event", {"ts": 1e308, "kind": "failure"}),
        ("meta", {"device": "x" * 500, "asset_type": 3}),
        ("cmd/ack", {"id": "not-a-command", "status": "done"}),
        ("state", {"online": [1, 2, 3]}),
    ]
    raw = [b"{", b"\xff\xfe", b"null", b"[" * 10_000, b"1" * 300_000]
    for i in range(n):
        device = devices[i % len(devices)] if i % 7 else "Not_A_Device"
        if i % 5 == 4:
            yield f"edgeloop/v1/{site}/{device}/telemetry", raw[(i // 5) % len(raw)], False
            continue
        channel, body = bad[i % len(bad)]
        yield f"edgeloop/v1/{site}/{device}/{channel}", orjson.dumps(body), False
