"""A site's Modbus devices as a v1 `Transport`: polls become telemetry, writes become commands, faults quarantine.

What the agent gets, per device of the map:
- `meta` (retained) from the map on the device's first good answer, and `state` `online`;
- `telemetry` `{"ts", "seq", "metrics"}` for each good poll; `ts` is the device's timestamp register when the
  map declares one (and a poll that finds the same timestamp again brings no new sample), else the poll time;
  values out of the metric's range are delivered as they are, so the agent's decoder quarantines them
  (`out of range: ...`);
- device events from the status register when the map declares one: `failure`, `maintenance_started` (with
  `found` when the state says the maintenance found a fault), `stopped` when it turns failed, maintenance or
  stopped; `repaired` or `started` when it runs again;
- a `bad_input` event (quarantined with its reason) for each exception answer, garbled or short frame and
  non-finite value, and when a device stops answering (`offline_after` polls in a row) together with `state`
  `offline`.

What the agent publishes on a device's `cmd` topic becomes a write within the map's envelope, read back; the
read-back is the ack (`done` when it equals what was written, `rejected` with the reason otherwise). Everything
else the agent publishes (its state, decisions, stats) has no Modbus meaning and is counted in `unrouted`.

The polling runs on an event loop of its own, in its own thread: the agent's micro-batches are synchronous and
can hold a loop for tens of milliseconds, which would make every poll behind them late. Messages cross to the
agent's loop through a deque and a wake-up; commands cross to the polling loop as coroutines.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from edgeloop.io.inbound import bad_input_event
from edgeloop.io.link import Link, ProtocolError
from edgeloop.io.modbus.map import Gateway, RegisterMap, load_map
from edgeloop.io.modbus.poll import DevicePoller, ModbusFaultError, PollStats, Reading
from edgeloop.io.topics import Channel, TopicError, device_topic, parse_device_topic
from edgeloop.io.transport import Message, Polled

log = logging.getLogger(__name__)


class ModbusAdapter(Polled):
    """Polls a map's gateways concurrently and speaks v1 to the agent. Use `open_modbus` to run it."""

    def __init__(self, site: str, register_map: RegisterMap, clock: Callable[[], float] = time.time) -> None:
        self.site = site
        self.map = register_map
        self.clock = clock
        self.pollers = [DevicePoller(g, register_map.models, self._on_reading, self._on_fault)
                        for g in register_map.gateways]  # fmt: skip
        self._where = {ref.id: (poller, ref) for poller in self.pollers for ref in poller.gateway.devices}
        self._inbox: deque[Message] = deque()
        self._wakeup = asyncio.Event()  # on the agent's loop
        self._agent_loop: asyncio.AbstractEventLoop | None = None
        self.poll_loop: asyncio.AbstractEventLoop | None = None  # where the pollers and the writes run
        self._seq: dict[str, int] = {}
        self._stamp: dict[str, float] = {}
        self._state: dict[str, str] = {}
        self._failures: dict[str, int] = {}
        self._described: set[str] = set()
        self._offline: set[str] = set()
        self._commands: set[concurrent.futures.Future[None]] = set()
        self.unrouted = 0

    # -- polls into messages ---------------------------------------------------------------------------------------

    def _deliver(self, device: str, channel: Channel, payload: bytes, retain: bool = False) -> None:
        self._inbox.append(Message(device_topic(self.site, device, channel), payload, retain))
        loop = self._agent_loop
        if loop is None:
            self._wakeup.set()
        elif not self._wakeup.is_set():
            loop.call_soon_threadsafe(self._wakeup.set)

    def _describe(self, device: str) -> None:
        poller, ref = self._where[device]
        meta = self.map.meta(ref, poller.gateway)
        self._deliver(device, Channel.META, orjson.dumps(meta.to_json()), retain=True)
        self._deliver(device, Channel.STATE, b"online", retain=True)
        self._described.add(device)

    def _on_reading(self, reading: Reading) -> None:
        device = reading.ref.id
        self._failures[device] = 0
        if device not in self._described:
            self._describe(device)
        elif device in self._offline:
            self._offline.discard(device)
            self._deliver(device, Channel.STATE, b"online", retain=True)
        now = self.clock()
        if reading.status is not None:
            self._on_status(reading, now)
        bad = [name for name, value in reading.values.items() if not math.isfinite(value)]
        if bad:
            raw = orjson.dumps({k: str(v) for k, v in reading.values.items()})
            self._deliver(device, Channel.EVENT, bad_input_event(
                f"non-finite value: metric {bad[0]!r} of unit {reading.ref.unit} reads {reading.values[bad[0]]}",
                raw, now))  # fmt: skip
            return
        ts = now
        if reading.stamp is not None:
            if reading.stamp <= 0 or self._stamp.get(device) == reading.stamp:
                return  # the device has no sample yet, or no new one since the last poll
            self._stamp[device] = ts = reading.stamp
        seq = self._seq.get(device, 0)
        self._seq[device] = seq + 1
        self._deliver(device, Channel.TELEMETRY, orjson.dumps({"ts": ts, "seq": seq, "metrics": reading.values}))

    def _on_status(self, reading: Reading, now: float) -> None:
        device = reading.ref.id
        states = self.map.models[reading.ref.model].states
        state = states.get(reading.status if reading.status is not None else -1, "running")
        before = self._state.get(device)
        self._state[device] = state
        if before is None or before == state:
            return  # first sight tells no change
        ts = reading.stamp if reading.stamp is not None and reading.stamp > 0 else now
        found = {"found": before == "maintenance_found"}
        if state == "running":
            doc: dict[str, Any] = (
                {"kind": "started"} if before == "stopped"
                else {"kind": "repaired", "reason": "failure"} if before == "failed"
                else {"kind": "repaired", "reason": "maintenance", **found}
            )  # fmt: skip
        elif state.startswith("maintenance"):
            doc = {"kind": "maintenance_started", "found": state == "maintenance_found"}
        else:
            doc = {"kind": "failure" if state == "failed" else "stopped"}
        self._deliver(device, Channel.EVENT, orjson.dumps({"ts": ts, **doc, "source": "modbus status register"}))

    def _on_fault(self, ref: Any, fault: ModbusFaultError) -> None:
        device = ref.id
        poller = self._where[device][0]
        failures = self._failures[device] = self._failures.get(device, 0) + 1
        now = self.clock()
        if fault.answered or fault.raw:  # the answer itself is bad input, each time it comes
            self._deliver(device, Channel.EVENT, bad_input_event(fault.reason, fault.raw, now))
        if failures == poller.gateway.offline_after and device not in self._offline:
            self._offline.add(device)
            if device not in self._described:
                self._describe(device)  # so that the agent knows the device whose absence it is told of
            reason = f"modbus slave not answering: {fault.reason} ({failures} polls in a row)"
            self._deliver(device, Channel.EVENT, bad_input_event(reason, fault.raw, now))
            self._deliver(device, Channel.STATE, b"offline", retain=True)

    # -- Transport -------------------------------------------------------------------------------------------------

    async def subscribe(self, *topics: str, qos: int = 0) -> None:
        return None  # every device of the map is delivered; there is nothing to choose

    def drain(self, max_items: int) -> list[Message]:
        inbox = self._inbox
        n = min(max_items, len(inbox))
        return [inbox.popleft() for _ in range(n)]

    async def wait(self, timeout: float) -> None:
        if self._inbox:
            return
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        try:
            parsed = parse_device_topic(topic)
        except TopicError:
            parsed = None
        if parsed is None or parsed.channel is not Channel.CMD or parsed.device not in self._where:
            self.unrouted += 1
            return
        if self.poll_loop is None:
            self.unrouted += 1
            return
        future = asyncio.run_coroutine_threadsafe(self._command(parsed.device, payload), self.poll_loop)
        self._commands.add(future)
        future.add_done_callback(self._commands.discard)

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the commands under way have their acks (or `timeout`)."""
        if not self._commands:
            return True
        waiting = [asyncio.wrap_future(f) for f in list(self._commands)]
        _, pending = await asyncio.wait(waiting, timeout=timeout)
        return not pending

    # -- commands --------------------------------------------------------------------------------------------------

    async def _command(self, device: str, payload: bytes) -> None:
        try:
            doc = orjson.loads(payload)
            command_id, name, args = str(doc["id"]), str(doc["name"]), doc.get("args") or {}
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.warning("ignored a bad command for %s: %s", device, exc)
            return
        status, detail = await self.write_command(device, name, args)
        if status is None:
            return  # no answer: the agent times the command out, since the device may still have acted
        ack = {"id": command_id, "status": status, "detail": detail, "ts": self.clock()}
        self._deliver(device, Channel.ACK, orjson.dumps(ack))

    async def write_command(self, device: str, name: str, args: dict[str, Any]) -> tuple[str | None, str]:
        """Write one command within the map's envelope and read it back: (`done`/`rejected`/None, detail)."""
        poller, ref = self._where[device]
        command = self.map.models[ref.model].commands.get(name)
        if command is None:
            return "rejected", f"command {name!r} is not in the Modbus map of {ref.model!r}"
        if command.arg is not None and command.range is not None:
            value = args.get(command.arg)
            if not isinstance(value, int | float) or isinstance(value, bool):
                return "rejected", f"argument {command.arg!r} must be a number"
            low, high = command.range
            if not low <= value <= high:
                return "rejected", f"{command.arg}={value} outside [{low}, {high}]"
        else:
            value = command.value if command.value is not None else 0.0
        target = command.write
        try:
            back = await poller.link_of[device].write(target, float(value), ref.unit)
        except ModbusFaultError as fault:
            if fault.answered:
                return "rejected", fault.reason
            log.warning("command %s to %s: %s", name, device, fault.reason)
            return None, fault.reason
        except ValueError as exc:
            return "rejected", str(exc)
        where = f"{target.function} {target.address} of unit {ref.unit}"
        if abs(back - float(value)) > abs(target.scale) / 2 + 1e-9 * max(1.0, abs(back)):
            return "rejected", f"wrote {value} to {where}, read back {back}"
        return "done", f"{name}: wrote {value} to {where}, read back {back}"

    # -- running ---------------------------------------------------------------------------------------------------

    @property
    def stats(self) -> PollStats:
        """The pollers' figures summed (lateness from every gateway)."""
        total = PollStats()
        for poller in self.pollers:
            s = poller.stats
            total.polls += s.polls
            total.missed += s.missed
            total.failed += s.failed
            total.requests += s.requests
            total.registers += s.registers
            total.lateness_s.extend(s.lateness_s)
        return total

    def gateways(self) -> list[Gateway]:
        return [p.gateway for p in self.pollers]


@contextlib.asynccontextmanager
async def open_modbus(link: Link) -> AsyncIterator[ModbusAdapter]:
    """Poll the map's gateways (on a thread of their own) while the block runs; the adapter is the transport."""
    if link.map is None:
        raise ProtocolError("protocol modbus needs a register map (--map FILE)")
    adapter = ModbusAdapter(link.site, load_map(link.map))
    adapter._agent_loop = asyncio.get_running_loop()
    started = threading.Event()
    stop: list[asyncio.Event] = []

    async def poll_all() -> None:
        stop.append(asyncio.Event())
        adapter.poll_loop = asyncio.get_running_loop()
        started.set()
        await asyncio.gather(*(poller.run(stop[0]) for poller in adapter.pollers), return_exceptions=True)

    thread = threading.Thread(target=asyncio.run, args=(poll_all(),), name=f"modbus-{link.site}", daemon=True)
    thread.start()
    await asyncio.to_thread(started.wait, 10)
    try:
        yield adapter
    finally:
        await adapter.flush(timeout=5.0)
        if adapter.poll_loop is not None and stop:
            adapter.poll_loop.call_soon_threadsafe(stop[0].set)
        await asyncio.to_thread(thread.join, 10)
