"""Edgeloop as a Sparkplug B v3.0 primary host application, without the network: Sparkplug messages in, v1
messages out (meta, telemetry, event, state, cmd/ack and rejections for quarantine), and the v1 commands of the
agent out as DCMDs. `SparkplugHost` (link.py) puts this on an MQTT connection.

Sequence rules (Sparkplug B 3.0, host side): NBIRTH starts a node's `seq` at 0; every later NDATA, DBIRTH, DDATA
and DDEATH of the node carries the next one, wrapping 255 -> 0. A gap, an out-of-order message, an unknown alias,
a DDATA before its DBIRTH or a metric whose datatype changed puts the message into quarantine with its reason and
asks the node for a rebirth (NCMD `Node Control/Rebirth`, at most once per `rebirth_every_s`). After a gap the
host follows the node's sequence from the message that showed it, so that the data after a lost message still
flows while the rebirth is on its way (with 256 sequence numbers, a long gap and a reordering look alike). An
NDEATH whose `bdSeq` is not that of the node's birth is a stale will and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from operator import attrgetter

import orjson

from edgeloop.io.inbound import rejected_message
from edgeloop.io.sparkplug import codec
from edgeloop.io.sparkplug.birth import (
    ACK_DETAIL,
    ACK_ID,
    ACK_STATUS,
    COMMANDS,
    BirthError,
    BornMetric,
    DeviceBirth,
    Role,
    read_birth,
)
from edgeloop.io.sparkplug.codec import REBIRTH, DataType, DecodeError, SpbTopic, SpbTopicError
from edgeloop.io.topics import Channel, device_topic, parse_device_topic
from edgeloop.io.transport import Message, Typed
from edgeloop.model import is_valid_id

log = logging.getLogger(__name__)
_ALIAS = attrgetter("alias")

UNKNOWN_DEVICE = "unknown"
#: a message this many sequence numbers behind the expected one is taken as reordered, further as a gap
REORDER_WINDOW = 16  # the quarantine's device for input that names no usable device


@dataclass(slots=True)
class NodeState:
    """One edge node as the host knows it."""

    seq: int | None = None  # the last sequence number seen; None: not born (no NBIRTH since the last NDEATH)
    bd_seq: int | None = None
    devices: dict[str, DeviceBirth] = field(default_factory=dict)  # by Sparkplug device id
    rebirth_asked_at: float = float("-inf")


@dataclass(slots=True)
class HostCounters:
    messages: int = 0
    rejected: int = 0
    rebirths_requested: int = 0
    commands: int = 0


class _RejectError(Exception):
    def __init__(self, reason: str, rebirth: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rebirth = rebirth


class HostSession:
    """The host's view of one Sparkplug group, for the agent of `site`."""

    def __init__(self, site: str, group: str, rebirth_every_s: float = 2.0) -> None:
        self.site = site
        self.group = group
        self.rebirth_every_s = rebirth_every_s
        self.nodes: dict[str, NodeState] = {}
        self.counters = HostCounters()
        #: where each v1 device lives: (node, Sparkplug device id)
        self.routes: dict[str, tuple[str, str]] = {}
        self.outbound: list[tuple[str, bytes]] = []  # NCMD/DCMD to publish
        self._tseq: dict[str, int] = {}
        self._topics: dict[str, SpbTopic] = {}
        self._telemetry_topics: dict[str, str] = {}

    # -- inbound ------------------------------------------------------------------------------------------

    def receive(self, topic: str, raw: bytes, now: float) -> list[Message]:
        """The v1 messages that one Sparkplug message means for the agent."""
        self.counters.messages += 1
        out: list[Message] = []
        spb = self._topics.get(topic)
        if spb is None:
            try:
                spb = codec.parse_topic(topic)
            except SpbTopicError as exc:
                return [self._rejected(None, topic, str(exc), raw)]
            if len(self._topics) < 1_000_000:
                self._topics[topic] = spb
        if spb.group != self.group or spb.kind in ("NCMD", "DCMD"):
            return out  # another group, or commands (ours or another host's)
        node = self.nodes.get(spb.node)
        if node is None:
            node = self.nodes[spb.node] = NodeState()
        try:
            payload = codec.decode(raw)
        except DecodeError as exc:
            self._ask_rebirth(spb.node, node, now)
            return [self._rejected(spb, topic, f"not a valid Sparkplug B payload (protobuf: {exc})", raw)]
        try:
            self._dispatch(spb, node, payload, raw, now, out)
        except _RejectError as exc:
            if exc.rebirth:
                self._ask_rebirth(spb.node, node, now)
            out.append(self._rejected(spb, topic, exc.reason, raw))
        return out

    def _dispatch(
        self, spb: SpbTopic, node: NodeState, payload: codec.Payload, raw: bytes, now: float, out: list[Message]
    ) -> None:
        kind = spb.kind
        if kind == "NBIRTH":
            self._node_birth(node, payload)
            return
        if kind == "NDEATH":
            self._node_death(node, payload, out)
            return
        self._check_seq(kind, node, payload)
        device_id = spb.device
        if kind == "NDATA" or device_id is None:
            return
        if kind == "DBIRTH":
            self._device_birth(spb, node, device_id, payload, out)
            return
        birth = node.devices.get(device_id)
        if birth is None:
            raise _RejectError(f"{kind} before its DBIRTH (device {device_id!r} of node {spb.node!r} is not born)")
        if kind == "DDEATH":
            del node.devices[device_id]
            out.append(self._state(birth.meta.device, b"offline"))
        else:
            self._device_data(birth, payload, raw, now, out)

    def _check_seq(self, kind: str, node: NodeState, payload: codec.Payload) -> None:
        if node.seq is None:
            raise _RejectError(f"{kind} before its node's NBIRTH")
        if not payload.HasField("seq"):
            raise _RejectError(f"{kind} without a seq")
        expected, got = (node.seq + 1) % 256, payload.seq
        node.seq = got
        if got != expected:
            behind = (expected - got) % 256
            what = "out-of-order message" if 0 < behind <= REORDER_WINDOW else "seq gap"
            raise _RejectError(f"{what}: expected seq {expected}, got {got}")

    def _node_birth(self, node: NodeState, payload: codec.Payload) -> None:
        node.seq = payload.seq if payload.HasField("seq") else 0
        node.bd_seq = _bd_seq(payload)
        node.devices.clear()  # every device is born again after its node

    def _node_death(self, node: NodeState, payload: codec.Payload, out: list[Message]) -> None:
        bd_seq = _bd_seq(payload)
        if node.bd_seq is not None and bd_seq is not None and bd_seq != node.bd_seq:
            log.info("ignored a stale NDEATH (bdSeq %s, the birth's is %s)", bd_seq, node.bd_seq)
            return
        for birth in node.devices.values():
            out.append(self._state(birth.meta.device, b"offline"))
        node.devices.clear()
        node.seq = None

    def _device_birth(
        self, spb: SpbTopic, node: NodeState, device_id: str, payload: codec.Payload, out: list[Message]
    ) -> None:
        device = device_id.lower()
        if not is_valid_id(device):
            raise _RejectError(f"device id {device_id!r} is not a valid edgeloop device id", rebirth=False)
        extra = {"protocol": "sparkplug", "group": spb.group, "node": spb.node, "device": device_id}
        try:
            birth = read_birth(device, payload, extra)
        except BirthError as exc:
            raise _RejectError(f"bad DBIRTH: {exc}", rebirth=False) from None
        node.devices[device_id] = birth
        self.routes[device] = (spb.node, device_id)
        meta = orjson.dumps(birth.meta.to_json())
        out.append(Message(device_topic(self.site, device, Channel.META), meta, True))
        out.append(self._state(device, b"online"))

    def _device_data(
        self, birth: DeviceBirth, payload: codec.Payload, raw: bytes, now: float, out: list[Message]
    ) -> None:
        ms = list(payload.metrics)  # protobuf makes a Python object per metric each time it is reached: once
        plan = birth.plan(tuple(map(_ALIAS, ms)))
        if plan is not None:
            values = plan.read(ms)
            if all(values):  # nonzero: each came in its field (a oneof); a zero may be a null or a changed type
                self._telemetry(birth.meta.device, payload, raw, plan.names, values, now, out)
                return
        metrics: dict[str, float] = {}
        ack: dict[str, str] = {}
        events: list[bytes] = []
        by_alias, by_name = birth.by_alias, birth.by_name
        for m in ms:  # a metric sent by alias costs three reads, see _odd_metric
            alias = m.alias
            born = by_alias.get(alias) if alias else None
            if born is None:
                name = m.name
                born = by_name.get(name) if name else by_alias.get(alias)
                if born is None:
                    which = f"name {name!r}" if name else f"alias {alias}"
                    raise _RejectError(f"unknown metric {which} (not in the device's DBIRTH)")
                datatype = m.datatype
                if datatype and datatype != born.datatype:
                    self._odd_metric(born, m, datatype)
            if not m.HasField(born.field) and self._odd_metric(born, m, m.datatype):
                continue  # null
            role = born.role
            if role is Role.SERIES:
                value = born.read(m)
                bits = born.bits
                if bits == 1:
                    value = int(value)
                elif bits and value >= 1 << (bits - 1):
                    value -= 1 << bits
                metrics[born.name] = value
            elif role is Role.ACK:
                ack[born.name] = born.read(m)
            elif role is Role.EVENT:
                events.append(str(born.read(m)).encode())
        device = birth.meta.device
        if metrics:
            self._telemetry(device, payload, raw, tuple(metrics), list(metrics.values()), now, out)
        for event in events:
            out.append(Message(device_topic(self.site, device, Channel.EVENT), event, False))
        if ACK_ID in ack:
            doc = orjson.dumps({"id": ack[ACK_ID], "status": ack.get(ACK_STATUS, ""),
                                "detail": ack.get(ACK_DETAIL, "")})  # fmt: skip
            out.append(Message(device_topic(self.site, device, Channel.ACK), doc, False))

    def _telemetry(
        self,
        device: str,
        payload: codec.Payload,
        raw: bytes,
        names: tuple[str, ...],
        values: list[float],
        now: float,
        out: list[Message],
    ) -> None:
        """The device's telemetry item, typed (`Message.doc`); the DDATA's bytes ride along for quarantine."""
        ts = payload.timestamp / 1000.0 if payload.timestamp else now
        seq = self._tseq.get(device, 0)
        self._tseq[device] = seq + 1
        topic = self._telemetry_topics.get(device)
        if topic is None:
            topic = self._telemetry_topics[device] = device_topic(self.site, device, Channel.TELEMETRY)
        out.append(Message(topic, raw, False, Typed(ts, seq, names, values)))

    @staticmethod
    def _odd_metric(born: BornMetric, m: codec.Metric, datatype: int) -> bool:
        """True for a null value; raises for a metric whose datatype changed.

        A change of datatype is seen by the datatype the metric names, and without one by the field its value
        came in: to read a DDATA fast, that is all it takes (a change within one field, Int16 to Int32, reads
        the same)."""
        if datatype and datatype != born.datatype:
            raise _RejectError(f"metric {born.name!r} changed its datatype from {_tname(born.datatype)} to "
                               f"{_tname(datatype)} without a rebirth")  # fmt: skip
        which_field = m.WhichOneof("value")
        if which_field is None and m.is_null:
            return True
        raise _RejectError(f"metric {born.name!r} changed its datatype: its value came in {which_field}, "
                           f"but {_tname(born.datatype)} travels in {born.field}")  # fmt: skip

    # -- rebirth, state, rejections -----------------------------------------------------------------------

    def _ask_rebirth(self, node_id: str, node: NodeState, now: float) -> None:
        if now - node.rebirth_asked_at < self.rebirth_every_s:
            return
        node.rebirth_asked_at = now
        self.counters.rebirths_requested += 1
        body = codec.payload(None, int(now * 1000), [codec.metric(REBIRTH, True, DataType.BOOLEAN)])
        self.outbound.append((codec.topic(self.group, "NCMD", node_id), body.SerializeToString()))

    def _state(self, device: str, state: bytes) -> Message:
        return Message(device_topic(self.site, device, Channel.STATE), state, True)

    def _rejected(self, spb: SpbTopic | None, topic: str, reason: str, raw: bytes) -> Message:
        self.counters.rejected += 1
        device = UNKNOWN_DEVICE
        if spb is not None:
            name = (spb.device or spb.node).lower()
            device = name if is_valid_id(name) else UNKNOWN_DEVICE
        return rejected_message(self.site, device, topic, reason, raw)

    # -- commands -----------------------------------------------------------------------------------------

    def command(self, topic: str, raw: bytes, now: float) -> Message | None:
        """Send an agent's v1 command as a DCMD (queued on `outbound`); the ack right away when it cannot go."""
        try:
            device = parse_device_topic(topic).device
            doc = orjson.loads(raw)
            cmd_id, name, args = str(doc["id"]), str(doc["name"]), dict(doc.get("args", {}))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("not a v1 command on %s: %s", topic, exc)
            return None
        route = self.routes.get(device)
        node = None if route is None else self.nodes.get(route[0])
        birth = None if node is None or route is None else node.devices.get(route[1])
        if route is None or birth is None:
            return self._ack(device, cmd_id, "rejected", "device offline (no DBIRTH since its last death)")
        spec = birth.meta.command(name)
        if spec is None:
            return self._ack(device, cmd_id, "rejected", f"the device's DBIRTH has no command {name!r}")
        metrics = [codec.metric(ACK_ID, cmd_id, DataType.STRING)]
        for arg in spec.args:
            born = birth.by_name[f"{COMMANDS}{name}/{arg.name}"]
            value = args.get(arg.name)
            if not isinstance(value, int | float):
                return self._ack(device, cmd_id, "rejected", f"missing or non-numeric argument {arg.name!r}")
            cast: float = value if born.datatype in (DataType.FLOAT, DataType.DOUBLE) else round(value)
            metrics.append(codec.metric(born.name, cast, DataType(born.datatype)))
        metrics.append(codec.metric(f"{COMMANDS}{name}", True, DataType.BOOLEAN))  # the trigger goes last
        body = codec.payload(None, int(now * 1000), metrics).SerializeToString()
        self.outbound.append((codec.topic(self.group, "DCMD", route[0], route[1]), body))
        self.counters.commands += 1
        return None

    def _ack(self, device: str, cmd_id: str, status: str, detail: str) -> Message:
        doc = orjson.dumps({"id": cmd_id, "status": status, "detail": detail})
        return Message(device_topic(self.site, device, Channel.ACK), doc, False)

    def take_outbound(self) -> list[tuple[str, bytes]]:
        out, self.outbound = self.outbound, []
        return out

    def metas(self, device: str) -> list[Message]:
        """The device's meta again (what a retained meta would give a new subscription)."""
        route = self.routes.get(device)
        node = None if route is None else self.nodes.get(route[0])
        birth = None if node is None or route is None else node.devices.get(route[1])
        if birth is None:
            return []
        return [Message(device_topic(self.site, device, Channel.META), orjson.dumps(birth.meta.to_json()), True)]


def _bd_seq(payload: codec.Payload) -> int | None:
    for m in payload.metrics:
        if m.name == codec.BD_SEQ:
            which = m.WhichOneof("value")
            return int(getattr(m, which)) if which in ("int_value", "long_value") else None
    return None


def _tname(datatype: int) -> str:
    try:
        return DataType(datatype).name.title()
    except ValueError:
        return f"type {datatype}"
