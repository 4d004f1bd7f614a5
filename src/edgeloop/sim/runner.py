"""Runs a simulated plant on a real broker: retained meta, telemetry on a paced simulated clock, device events,
and commands acted on and acked. Works for any plant with the FactoryPlant shape (`step`, `command`, `metas`), and
over any `Transport` that takes v1 messages: the broker client, or a protocol server (`edgeloop.sim.protocols`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from edgeloop.io.topics import Channel, TopicError, device_topic, parse_device_topic, site_filter
from edgeloop.io.transport import Transport
from edgeloop.model import DeviceMeta

log = logging.getLogger(__name__)


class StepLike(Protocol):
    @property
    def ts(self) -> float: ...
    @property
    def telemetry(self) -> list[tuple[str, dict[str, float]]]: ...
    @property
    def events(self) -> list[tuple[str, dict[str, Any]]]: ...


class Plant(Protocol):
    site: str
    devices: list[str]
    now: float

    def metas(self) -> list[DeviceMeta]: ...
    def step(self) -> StepLike: ...
    def command(self, device: str, name: str, args: Mapping[str, float]) -> tuple[str, str]: ...
    def close_day(self) -> list[tuple[str, dict[str, Any]]]: ...
    def ground_truth(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class SimStats:
    steps: int = 0
    messages: int = 0
    events: int = 0
    commands: int = 0
    rejected_commands: int = 0
    repeated_commands: int = 0  # command ids delivered again (QoS 1, an agent's resend): acked again, not run
    executed_commands: int = 0  # command ids run (once each)
    sim_ts: float = 0.0


class PlantRunner:
    """Publishes a plant over MQTT, or through a protocol link of `sim.protocols`. `speed` is simulated seconds
    per real second (0: as fast as possible)."""

    def __init__(
        self, plant: Plant, client: Transport, speed: float = 1440.0, interval_s: float = 15.0, telemetry_qos: int = 0
    ) -> None:
        self.plant = plant
        self.telemetry_qos = telemetry_qos
        self.client = client
        self.speed = speed
        self.interval_s = interval_s
        self.stats = SimStats()
        self._seq: dict[str, int] = {}
        self._answered: dict[str, tuple[str, bytes, bool]] = {}  # command id -> its ack: a repeat runs once

    async def start(self) -> None:
        site = self.plant.site
        await self.client.subscribe(site_filter(site, Channel.CMD), qos=1)
        for meta in self.plant.metas():
            topic = device_topic(site, meta.device, Channel.META)
            self.client.publish(topic, orjson.dumps(meta.to_json()), qos=1, retain=True)
            self.client.publish(device_topic(site, meta.device, Channel.STATE), b"online", qos=1, retain=True)
        await self.client.flush()

    async def run(
        self,
        stop: asyncio.Event,
        sim_seconds: float | None = None,
        on_step: Callable[[SimStats], None] | None = None,
    ) -> SimStats:
        """Step until `stop` is set or `sim_seconds` of simulated time have passed."""
        await self.start()
        t0 = time.monotonic()
        end_steps = None if sim_seconds is None else int(sim_seconds // self.interval_s)
        while not stop.is_set() and (end_steps is None or self.stats.steps < end_steps):
            due = self._steps_due(time.monotonic() - t0)
            if end_steps is not None:
                due = min(due, end_steps)
            burst = 0
            # commands are answered between bursts: a short burst keeps their latency in plant time short
            most = max(1, 2_000 // max(1, len(self.plant.devices)))
            while self.stats.steps < due and burst < most:
                self._publish_step(self.plant.step())
                burst += 1
            self.answer_commands()
            if on_step is not None:
                on_step(self.stats)
            await asyncio.sleep(0.002 if burst == 0 else 0)
        closing = self.plant.close_day()
        self.stats.events += len(closing)
        for topic, payload, qos in encode_events(self.plant.site, self.plant.now, closing):
            self.client.publish(topic, payload, qos)  # the unfinished day's usage, so its energy is booked too
        for device in self.plant.devices:
            self.client.publish(device_topic(self.plant.site, device, Channel.STATE), b"offline", qos=1, retain=True)
        self.answer_commands()
        await self.client.flush()
        return self.stats

    def _steps_due(self, elapsed: float) -> int:
        if self.speed <= 0:
            return self.stats.steps + 50
        return int(elapsed * self.speed / self.interval_s)

    def _publish_step(self, step: StepLike) -> None:
        publish = self.client.publish
        for topic, payload, qos in encode_step(self.plant.site, step, self._seq, self.telemetry_qos):
            publish(topic, payload, qos, False)
        self.stats.steps += 1
        self.stats.messages += len(step.telemetry)
        self.stats.events += len(step.events)
        self.stats.sim_ts = step.ts

    def answer_commands(self) -> None:
        """Act on and ack every command that has arrived (the run loop does this between steps)."""
        for message in self.client.drain(10_000):
            repeat = _command_id(message.payload) in self._answered
            ack = apply_command(self.plant, message.topic, message.payload, self._answered)
            if ack is None:
                continue
            if repeat:
                self.stats.repeated_commands += 1
            else:
                self.stats.executed_commands += 1
            self.stats.commands += 1
            self.stats.rejected_commands += ack[2]
            self.client.publish(ack[0], ack[1], qos=1)


def encode_step(
    site: str, step: StepLike, seqs: dict[str, int], telemetry_qos: int = 0
) -> list[tuple[str, bytes, int]]:
    """(topic, payload, qos) of one step's telemetry and events; `seqs` holds each device's next sequence number."""
    out: list[tuple[str, bytes, int]] = []
    for device, metrics in step.telemetry:
        seq = seqs.get(device, 0)
        seqs[device] = seq + 1
        out.append(
            (
                f"edgeloop/v1/{site}/{device}/telemetry",
                orjson.dumps({"ts": step.ts, "seq": seq, "metrics": metrics}),
                telemetry_qos,
            )
        )
    out += encode_events(site, step.ts, step.events)
    return out


def encode_events(site: str, ts: float, events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, bytes, int]]:
    return [
        (device_topic(site, device, Channel.EVENT), orjson.dumps({"ts": ts, **event}), 1) for device, event in events
    ]


def _command_id(payload: bytes) -> str | None:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return str(doc.get("id")) if isinstance(doc, dict) else None


#: command ids a simulated plant remembers, so a command delivered twice (QoS 1, an agent's resend) runs once
ANSWERED_KEPT = 10_000


def apply_command(
    plant: Plant, topic: str, payload: bytes, answered: dict[str, tuple[str, bytes, bool]] | None = None
) -> tuple[str, bytes, bool] | None:
    """Act on one command message: the ack's topic and payload, and whether it was rejected (None: not a command).
    A command whose id is in `answered` is not run again: its first ack is sent again."""
    try:
        device = parse_device_topic(topic).device
        doc = orjson.loads(payload)
        cmd_id, name, args = str(doc["id"]), str(doc["name"]), doc.get("args", {})
        if not isinstance(args, dict) or not all(isinstance(v, int | float) for v in args.values()):
            raise ValueError("args must be an object of numbers")
    except (TopicError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        log.warning("ignored a bad command on %s: %s", topic, exc)
        return None
    if answered is not None and cmd_id in answered:
        return answered[cmd_id]
    status, detail = plant.command(device, name, args)
    ack = {"id": cmd_id, "status": status, "detail": detail, "ts": plant.now}
    result = device_topic(plant.site, device, Channel.ACK), orjson.dumps(ack), status != "done"
    if answered is not None:
        answered[cmd_id] = result
        while len(answered) > ANSWERED_KEPT:
            del answered[next(iter(answered))]
    return result


def write_ground_truth(plant: Plant, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    truth = {**plant.ground_truth(), "end_ts": plant.now}
    path.write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
