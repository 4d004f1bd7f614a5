"""A site's inbound messages sorted at the edge: telemetry for the fast decoder, everything else typed.

Meta, event (with usage reports) and ack payloads become typed values here, or a `Rejected` with its reason,
so the agent never parses bytes nor looks at a topic suffix. What needs the agent's state (is the device
known? is the command pending?) the agent checks itself.

>>> split = InboundSplitter("s1")
>>> batch = split([Message("edgeloop/v1/s1/p1/event", b'{"kind": "failure", "ts": 5}', False),
...                Message("edgeloop/v1/s1/p1/cmd/ack", b'{"id": "c1", "status": "maybe"}', False)], now=10.0)
>>> [(e.device, e.kind, e.ts) for e in batch.controls], [r.reason for r in batch.rejected]
([('p1', 'failure', 5.0)], ["bad cmd/ack: ack status must be 'done' or 'rejected', not 'maybe'"])

A protocol adapter (`edgeloop.io.protocols`) that finds input bad before it is a v1 message (a Modbus exception
answer, a garbled frame, a slave that stopped answering) reports it as a `bad_input` event, which goes straight
to quarantine with the adapter's reason and raw bytes; as an event, it crosses a broker from a gateway too.

>>> event = bad_input_event("modbus exception: 0x02 illegal data address", b"\\x83\\x02", ts=5.0)
>>> split([Message("edgeloop/v1/s1/p1/event", event, False)], now=10.0).rejected[0].reason
'modbus exception: 0x02 illegal data address'
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from edgeloop.io.decode import MAX_PAST_S, RAW_KEPT, Rejected
from edgeloop.io.topics import AGENT, Channel, TopicError, device_topic, parse_device_topic
from edgeloop.io.transport import Message
from edgeloop.model import AckStatus, DeviceMeta

#: the longest downtime an event may report (a year): bounded so that no amount overflows the ledger's money
MAX_DOWNTIME_S = 366 * 86_400.0
#: the most energy one device may report for one day (10 GWh: beyond any single machine)
MAX_ENERGY_KWH = 1e7


@dataclass(frozen=True, slots=True)
class MetaUpdate:
    """A device's retained description."""

    device: str
    meta: DeviceMeta
    topic: str = field(default="", compare=False, repr=False)  # where it came from, and its bytes: for quarantine
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class UsageReport:
    """A device-day's usage: `{"kind": "usage", "day": <UTC day index>, "energy_kwh", "slowdown_h"}`."""

    day: int
    energy_kwh: float
    slowdown_h: float


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something that happened to a device (failure, repaired, maintenance_started, usage, ...), as it said."""

    device: str
    kind: str
    ts: float  # data time; the arrival time when the device gave none
    decision: str | None  # the decision the device names, if it names one
    downtime_s: float | None
    usage: UsageReport | None
    doc: dict[str, Any]  # the whole payload, kept with the outcome
    topic: str = field(default="", compare=False, repr=False)
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CommandAck:
    """A device's answer to a command."""

    device: str
    command: str
    status: AckStatus
    detail: str
    topic: str = field(default="", compare=False, repr=False)
    raw: bytes = field(default=b"", compare=False, repr=False)


#: the event kind of input a protocol adapter found bad: `{"kind": "bad_input", "ts", "reason", "raw": <hex>}`
BAD_INPUT = "bad_input"

Control = MetaUpdate | DeviceEvent | CommandAck
CHANNEL: dict[type[Control], Channel] = {MetaUpdate: Channel.META, DeviceEvent: Channel.EVENT, CommandAck: Channel.ACK}


@dataclass(slots=True)
class Inbound:
    """One micro-batch sorted: typed control values (metas first, then the rest in arrival order), telemetry
    messages for `TelemetryDecoder`, and what was rejected on the way."""

    controls: list[Control] = field(default_factory=list)
    telemetry: list[Message] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    repeats: bool = False  # some telemetry the broker sent before (MQTT DUP): the agent may have handled it


class InboundSplitter:
    """Sorts one site's messages; `__call__` takes a batch and the arrival time. Events timestamped more than
    `max_future_s` ahead of it or `max_past_s` behind it are rejected."""

    def __init__(self, site: str, max_future_s: float = 300.0, max_past_s: float = MAX_PAST_S) -> None:
        self.site = site
        self.max_future_s = max_future_s
        self.max_past_s = max_past_s

    def __call__(self, messages: Sequence[Message], now: float) -> Inbound:
        inbound = Inbound()
        others: list[Message] = []
        telemetry = inbound.telemetry
        for message in messages:
            if message.topic.endswith("/telemetry"):
                telemetry.append(message)
                if message.dup:
                    inbound.repeats = True
            else:
                others.append(message)
        others.sort(key=lambda m: not m.topic.endswith("/meta"))  # devices first, then what they report
        for message in others:
            control = self._control(message, now, inbound.rejected)
            if control is not None:
                inbound.controls.append(control)
        return inbound

    def _control(self, message: Message, now: float, rejected: list[Rejected]) -> Control | None:
        if f"/{AGENT}/" in message.topic:
            return None  # our own retained state, echoed back by the `+/state` subscription
        try:
            topic = parse_device_topic(message.topic)
            if topic.site != self.site:
                raise TopicError(message.topic, f"not this agent's site ({self.site})")
        except TopicError as exc:
            rejected.append(Rejected(message.topic, exc.reason, message.payload[:RAW_KEPT]))
            return None
        if topic.channel is Channel.CMD:
            return None  # the agent's own commands, echoed back by the site-wide subscription
        if topic.channel is Channel.REJECTED:
            rejected.append(decode_rejected(topic.device, message))
            return None
        if topic.channel is Channel.STATE and message.payload not in DEVICE_STATES:
            rejected.append(Rejected(message.topic, "bad state: expected online or offline",
                                     message.payload[:RAW_KEPT], topic.device))  # fmt: skip
            return None
        if topic.channel is Channel.STATE or (topic.channel is Channel.META and not message.payload):
            return None  # device liveness is informative only; an empty retained meta clears a description
        try:
            doc = orjson.loads(message.payload)
            if not isinstance(doc, dict):
                raise ValueError("expected a JSON object")
            if topic.channel is Channel.EVENT and doc.get("kind") == BAD_INPUT:
                rejected.append(_bad_input(message, topic.device, doc))
                return None
            if topic.channel is Channel.META:
                control: Control = decode_meta(topic.device, doc)
            elif topic.channel is Channel.EVENT:
                control = decode_event(topic.device, doc, now, self.max_future_s, self.max_past_s)
            elif topic.channel is Channel.ACK:
                control = decode_ack(topic.device, doc)
            else:
                raise ValueError(f"the agent does not take {topic.channel} messages")
        except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
            reason = (
                f"malformed JSON: {exc}" if isinstance(exc, orjson.JSONDecodeError) else f"bad {topic.channel}: {exc}"
            )
            rejected.append(Rejected(message.topic, reason, message.payload[:RAW_KEPT], topic.device))
            return None
        return dataclasses.replace(control, topic=message.topic, raw=message.payload[:RAW_KEPT])


#: what a device's `state` topic may hold (an empty payload clears a retained state)
DEVICE_STATES = (b"online", b"offline", b"")


def bad_input_event(reason: str, raw: bytes, ts: float) -> bytes:
    """The payload of a `bad_input` event: what an adapter found bad, why, and its raw bytes (hex)."""
    return orjson.dumps({"kind": BAD_INPUT, "ts": ts, "reason": reason, "raw": raw[:RAW_KEPT].hex()})


def _bad_input(message: Message, device: str, doc: dict[str, Any]) -> Rejected:
    reason, raw = doc.get("reason"), doc.get("raw")
    try:
        kept = bytes.fromhex(raw) if isinstance(raw, str) else message.payload
    except ValueError:
        kept = message.payload
    text = reason if isinstance(reason, str) and reason else "bad input: reported by the device's adapter"
    return Rejected(message.topic, text[:1000], kept[:RAW_KEPT], device)


def rejection(control: Control, reason: str) -> Rejected:
    """A control value the agent could not take (unknown device, no pending command, ...), for quarantine."""
    return Rejected(control.topic, f"bad {CHANNEL[type(control)]}: {reason}", control.raw, control.device)


def decode_meta(device: str, doc: dict[str, Any]) -> MetaUpdate:
    """
    >>> decode_meta("p1", {"device": "p1", "asset_type": "pump", "metrics": {"flow": {"low": 5, "high": 1}}})
    Traceback (most recent call last):
    ...
    ValueError: metric 'flow' has an empty range [5.0, 1.0]
    """
    meta = DeviceMeta.from_json(doc)
    if meta.device != device:
        raise ValueError(f"meta names device {meta.device!r} on the topic of {device!r}")
    for spec in meta.metrics:
        if not spec.low < spec.high:
            raise ValueError(f"metric {spec.name!r} has an empty range [{spec.low}, {spec.high}]")
    return MetaUpdate(device, meta)


def decode_event(
    device: str, doc: dict[str, Any], now: float, max_future_s: float = 300.0, max_past_s: float = MAX_PAST_S
) -> DeviceEvent:
    """
    >>> decode_event("p1", {"kind": "usage", "ts": 86_400, "energy_kwh": 12.5}, now=90_000.0).usage
    UsageReport(day=1, energy_kwh=12.5, slowdown_h=0.0)
    >>> decode_event("p1", {"kind": "failure", "downtime_s": -1}, now=0.0)
    Traceback (most recent call last):
    ...
    ValueError: 'downtime_s' must be a number of seconds in [0, 31622400], not -1
    """
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ValueError("'kind' must be a non-empty string")
    ts = float(doc.get("ts", now))
    if not now - max_past_s <= ts <= now + max_future_s:  # NaN too
        raise ValueError(
            f"'ts' {ts!r} is outside [{now - max_past_s:.0f}, {now + max_future_s:.0f}] (the agent's clock)"
        )
    named = doc.get("decision")
    usage = _usage(doc, ts) if kind == "usage" else None
    downtime = doc.get("downtime_s")
    if downtime is not None and (not _is_number(downtime) or not 0 <= downtime <= MAX_DOWNTIME_S):
        raise ValueError(f"'downtime_s' must be a number of seconds in [0, {MAX_DOWNTIME_S:.0f}], not {downtime!r}")
    return DeviceEvent(device, kind, ts, named if isinstance(named, str) else None,
                       None if downtime is None else float(downtime), usage, doc)  # fmt: skip


def _usage(doc: dict[str, Any], ts: float) -> UsageReport:
    day, energy, slowdown = doc.get("day", int(ts // 86_400)), doc.get("energy_kwh", 0.0), doc.get("slowdown_h", 0.0)
    if not all(_is_number(v) for v in (day, energy, slowdown)):
        raise ValueError("usage needs numeric 'day', 'energy_kwh' and 'slowdown_h'")
    if energy < 0 or slowdown < 0:
        raise ValueError(f"usage cannot be negative (energy_kwh={energy}, slowdown_h={slowdown})")
    if energy > MAX_ENERGY_KWH or slowdown > 24:
        raise ValueError(f"usage out of range: energy_kwh={energy} (at most {MAX_ENERGY_KWH:g} a day), "
                         f"slowdown_h={slowdown} (at most 24)")  # fmt: skip
    if abs(day - ts // 86_400) > 2:
        raise ValueError(f"usage 'day' {day} is not the day of its 'ts' ({int(ts // 86_400)})")
    return UsageReport(int(day), float(energy), float(slowdown))


def decode_ack(device: str, doc: dict[str, Any]) -> CommandAck:
    """
    >>> decode_ack("p1", {"id": "c1", "status": "done"}).status
    <AckStatus.DONE: 'done'>
    >>> decode_ack("p1", {"id": "c1", "status": "timeout"})
    Traceback (most recent call last):
    ...
    ValueError: ack status must be 'done' or 'rejected', not 'timeout'
    """
    command = doc.get("id")
    if not isinstance(command, str):
        raise ValueError(f"ack for an unknown or already settled command {command!r}")
    try:
        status = AckStatus(str(doc.get("status")))
    except ValueError:
        status = AckStatus.TIMEOUT
    if status is AckStatus.TIMEOUT:
        raise ValueError(f"ack status must be 'done' or 'rejected', not {doc.get('status')!r}")
    return CommandAck(device, command, status, str(doc.get("detail", "")))


def rejected_message(site: str, device: str, topic: str, reason: str, raw: bytes) -> Message:
    """Bad input that a protocol adapter found (a payload that is not protobuf, a sequence gap, ...), as the v1
    message that lands in the agent's quarantine with the adapter's reason, its protocol topic and its bytes.

    >>> m = rejected_message("s1", "p1", "spBv1.0/g/DDATA/n/p1", "seq gap: expected 5, got 7", b"\\x08")
    >>> r = InboundSplitter("s1")([m], now=0.0).rejected[0]
    >>> r.topic, r.device, r.reason, r.raw
    ('spBv1.0/g/DDATA/n/p1', 'p1', 'seq gap: expected 5, got 7', b'\\x08')
    """
    doc = {"topic": topic, "reason": reason, "raw": base64.b64encode(raw[:RAW_KEPT]).decode("ascii")}
    return Message(device_topic(site, device, Channel.REJECTED), orjson.dumps(doc), False)


def decode_rejected(device: str, message: Message) -> Rejected:
    """The `Rejected` that `rejected_message` carries; a payload of another shape is itself the bad input."""
    try:
        doc = orjson.loads(message.payload)
        topic, reason = str(doc["topic"]), str(doc["reason"])
        raw = base64.b64decode(str(doc.get("raw", "")), validate=True)
    except (orjson.JSONDecodeError, TypeError, KeyError, binascii.Error):
        return Rejected(message.topic, "bad rejected: not an adapter's rejection", message.payload[:RAW_KEPT], device)
    return Rejected(topic, reason, raw, device)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
