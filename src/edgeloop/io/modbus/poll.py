"""Talking to one Modbus TCP gateway: a connection with reconnects and backoff, reads and writes that fail with
a reason, and the poll loop that reads each device behind it on its schedule.

Each device is polled every `poll_s` of its model, at its own phase within the period, so that a gateway's
requests spread evenly over time instead of bursting at each tick. A poll that starts a whole period late is
missed (counted, not made up); the lateness of the others is the poll-time jitter. A gateway that accepts
several connections (`connections` in the map) is polled over that many, its devices shared among them: one
connection carries one request at a time, so its round trip bounds how many devices it can poll per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusException

from edgeloop.io.modbus.map import STATUS, TIMESTAMP, DeviceRef, Gateway, Model, Read, Register, plan_reads

log = logging.getLogger(__name__)
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # its frame dumps would flood a plant's log on each fault

#: exception codes by which a gateway says that the slave behind it is not there or did not answer
NOT_THERE = {ExcCodes.GATEWAY_PATH_UNAVIABLE, ExcCodes.GATEWAY_NO_RESPONSE}
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


class ModbusFaultError(Exception):
    """A read or write that did not give a good answer. `reason` is for quarantine (its prefix before the colon
    is the kind: `modbus exception`, `modbus garbled answer`, `modbus no answer`, `modbus gateway unreachable`);
    `raw` is what came on the wire, if anything; `answered` says whether the slave itself answered."""

    def __init__(self, reason: str, raw: bytes = b"", answered: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw
        self.answered = answered


def exception_name(code: int) -> str:
    """
    >>> exception_name(2)
    'illegal address'
    """
    try:
        return ExcCodes(code).name.lower().replace("_", " ")
    except ValueError:
        return "unknown exception code"


class GatewayLink:
    """One TCP connection to a gateway; requests go one at a time (many gateways serve a single request at once),
    and a lost connection is opened again after a backoff that doubles up to 30 s."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._client: AsyncModbusTcpClient | None = None  # made on the loop that polls: pymodbus binds to it
        self.lock = asyncio.Lock()
        self.write_lock = asyncio.Lock()  # a write and its read-back are not split by another write
        self.reconnects = 0
        self._received = b""
        self._backoff = 0.0
        self._next_try = 0.0

    @property
    def client(self) -> AsyncModbusTcpClient:
        assert self._client is not None, "connect first"
        return self._client

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self._received += data[:4096]
        return data

    async def _connect(self) -> None:
        if self._client is None:
            g = self.gateway
            self._client = AsyncModbusTcpClient(g.host, port=g.port, timeout=g.timeout_s, retries=0, reconnect_delay=0,
                                                trace_packet=self._trace)  # fmt: skip
        if self._client.connected:
            return
        now = time.monotonic()
        if now < self._next_try:
            raise ModbusFaultError(
                f"modbus gateway unreachable: {self.gateway.name} (next try in {self._next_try - now:.1f} s)"
            )
        ok = False
        with contextlib.suppress(Exception):
            ok = await self._client.connect()
        if not ok:
            self._backoff = min(BACKOFF_MAX_S, self._backoff * 2 if self._backoff else BACKOFF_FIRST_S)
            self._next_try = time.monotonic() + self._backoff
            raise ModbusFaultError(f"modbus gateway unreachable: {self.gateway.name} (retry in {self._backoff:.1f} s)")
        self.reconnects += 1
        self._backoff = 0.0

    async def call(self, what: str, unit: int, request: Callable[[AsyncModbusTcpClient], Any]) -> Any:
        """Send one request and return its answer; raises ModbusFaultError with the reason."""
        async with self.lock:
            await self._connect()
            self._received = b""
            where = f"{what} of unit {unit} at {self.gateway.name}"
            try:
                answer = await request(self.client)
            except ModbusException as exc:
                raw, self._received = self._received, b""
                if raw:  # bytes came but made no answer: resynchronise on a fresh connection
                    self.client.close()
                    raise ModbusFaultError(f"modbus garbled answer: {where} ({exc})", raw) from None
                raise ModbusFaultError(f"modbus no answer: {where} within {self.gateway.timeout_s:g} s") from None
            if answer.isError():
                code = int(getattr(answer, "exception_code", 0))
                if code in NOT_THERE:  # the gateway answered for a slave that did not
                    raise ModbusFaultError(f"modbus no answer: 0x{code:02x} {exception_name(code)}, {where}")
                raise ModbusFaultError(f"modbus exception: 0x{code:02x} {exception_name(code)}, {where}",
                                  self._received, answered=True)  # fmt: skip
            return answer

    async def read(self, read: Read, unit: int) -> list[int]:
        """The registers (or bits, as 0/1) of one coalesced read."""
        a, n = read.address, read.count
        calls: dict[str, Callable[[AsyncModbusTcpClient], Any]] = {
            "holding": lambda c: c.read_holding_registers(a, count=n, device_id=unit),
            "input": lambda c: c.read_input_registers(a, count=n, device_id=unit),
            "coil": lambda c: c.read_coils(a, count=n, device_id=unit),
            "discrete": lambda c: c.read_discrete_inputs(a, count=n, device_id=unit),
        }
        answer = await self.call(f"{read.function} {a}-{a + n - 1}", unit, calls[read.function])
        values = answer.bits if read.function in ("coil", "discrete") else answer.registers
        if len(values) < n:
            where = f"{read.function} {a}-{a + n - 1} of unit {unit} at {self.gateway.name}"
            reason = f"modbus short answer: {where} gave {len(values)} of {n}"
            raise ModbusFaultError(reason, self._received, answered=True)
        return [int(v) for v in values[:n]]

    async def write(self, register: Register, value: float, unit: int) -> float:
        """Write `value` to a holding register or coil, read it back and return the read-back value."""
        a = register.address
        async with self.write_lock:
            if register.function == "coil":
                await self.call(f"write coil {a}", unit, lambda c: c.write_coil(a, bool(value), device_id=unit))
            else:
                words = register.encode(value)
                await self.call(f"write holding {a}", unit, lambda c: c.write_registers(a, words, device_id=unit))
            back = await self.read(Read(register.function, a, register.words, (("", register),)), unit)
        return register.decode(back)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


@dataclass(slots=True)
class PollStats:
    """What a gateway's polling did: for the bench and the gateway's progress lines."""

    polls: int = 0
    missed: int = 0
    failed: int = 0
    requests: int = 0
    registers: int = 0
    lateness_s: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))


@dataclass(slots=True)
class Reading:
    """One device's good answer: its metrics, the sample time its timestamp register gave and the value of its
    status register (None where the map has none)."""

    ref: DeviceRef
    values: dict[str, float]
    stamp: float | None
    status: int | None = None


class DevicePoller:
    """Polls the devices behind one gateway on their schedules; hands each reading or fault to the callbacks."""

    def __init__(
        self,
        gateway: Gateway,
        models: dict[str, Model],
        on_reading: Callable[[Reading], None],
        on_fault: Callable[[DeviceRef, ModbusFaultError], None],
    ) -> None:
        self.gateway = gateway
        self.models = models
        self.links = [GatewayLink(gateway) for _ in range(gateway.connections)]
        self.link_of = {ref.id: self.links[i % len(self.links)] for i, ref in enumerate(gateway.devices)}
        self.on_reading = on_reading
        self.on_fault = on_fault
        self.stats = PollStats()
        self._plans = {name: plan_reads(model) for name, model in models.items()}

    async def poll(self, ref: DeviceRef) -> None:
        """Read one device once; a fault in any of its reads fails the whole poll."""
        values: dict[str, float] = {}
        stamp = status = None
        link = self.link_of[ref.id]
        try:
            for read in self._plans[ref.model]:
                words = await link.read(read, ref.unit)
                self.stats.requests += 1
                self.stats.registers += read.count
                for name, register in read.points:
                    at = register.address - read.address
                    value = register.decode(words[at : at + register.words])
                    if name == TIMESTAMP:
                        stamp = value
                    elif name == STATUS:
                        status = round(value)
                    else:
                        values[name] = value
        except ModbusFaultError as fault:
            self.stats.failed += 1
            self.on_fault(ref, fault)
            return
        self.on_reading(Reading(ref, values, stamp, status))

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every device at its phase of its model's period until `stop` is set, over each connection."""
        lanes = [[ref for ref in self.gateway.devices if self.link_of[ref.id] is link] for link in self.links]
        await asyncio.gather(*(self._run_lane(devices, stop) for devices in lanes))
        for link in self.links:
            link.close()

    async def _run_lane(self, devices: list[DeviceRef], stop: asyncio.Event) -> None:
        start = time.monotonic()
        queue: list[tuple[float, int]] = []
        for i, ref in enumerate(devices):
            period = self.models[ref.model].poll_s
            queue.append((start + period * i / max(1, len(devices)), i))
        heapq.heapify(queue)
        while not stop.is_set() and queue:
            due, i = heapq.heappop(queue)
            ref = devices[i]
            period = self.models[ref.model].poll_s
            now = time.monotonic()
            if due > now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), due - now)
                if stop.is_set():
                    break
                now = time.monotonic()
            late = now - due
            if late >= period:  # a whole period late: those polls are missed, not made up
                skipped = int(late // period)
                self.stats.missed += skipped
                due += skipped * period
                late -= skipped * period
            self.stats.lateness_s.append(late)
            self.stats.polls += 1
            await self.poll(ref)
            heapq.heappush(queue, (due + period, i))
