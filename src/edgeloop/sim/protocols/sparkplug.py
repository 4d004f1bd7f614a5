"""The factory as a Sparkplug B v3.0 edge node: `SparkplugEdgeNode` takes what `PlantRunner` publishes on the
v1 topics and sends it as Sparkplug (meta -> DBIRTH, telemetry -> DDATA through aliases, event and ack ->
DDATA string metrics, offline -> DDEATH), and turns DCMDs back into v1 commands for the runner to act on.
An NCMD `Node Control/Rebirth` republishes NBIRTH and every DBIRTH. See `io/sparkplug/birth.py` for the
metric conventions.

    async with SparkplugEdgeNode("mqtt://127.0.0.1:1883", group="factory", node="line1") as node:
        await PlantRunner(plant, node).run(stop)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from types import TracebackType

import orjson

from edgeloop.io.mqtt import MqttClient, Will
from edgeloop.io.sparkplug import codec
from edgeloop.io.sparkplug.birth import ACK_DETAIL, ACK_ID, ACK_STATUS, ASSET_TYPE, COMMANDS, EVENT
from edgeloop.io.sparkplug.codec import BD_SEQ, REBIRTH, DataType, DecodeError, Metric
from edgeloop.io.topics import Channel, TopicError, device_topic, parse_device_topic
from edgeloop.io.transport import Message, Polled
from edgeloop.model import DeviceMeta

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Device:
    meta: DeviceMeta
    aliases: dict[str, int] = field(default_factory=dict)
    born: bool = False


class SparkplugEdgeNode(Polled):
    """One Sparkplug edge node carrying a simulated plant's devices; the link `PlantRunner` publishes through."""

    def __init__(self, url: str, group: str, node: str, site: str | None = None, bd_seq: int = 0) -> None:
        self.url = url
        self.group = group
        self.node = node
        self.site = site or group  # the v1 site of the runner's topics
        self.bd_seq = bd_seq % 256
        self.devices: dict[str, _Device] = {}
        self.rebirths = 0
        self._seq = -1
        self._by_sparkplug: dict[str, str] = {}
        death = codec.payload(None, _ms(), [codec.metric(BD_SEQ, self.bd_seq, DataType.INT64)])
        will = Will(codec.topic(group, "NDEATH", node), death.SerializeToString(), qos=1, retain=False)
        self.client = MqttClient(url, f"edgeloop-spb-node-{group}-{node}", will=will)

    async def __aenter__(self) -> SparkplugEdgeNode:
        await self.client.__aenter__()
        await self.client.subscribe(codec.topic(self.group, "NCMD", self.node), qos=1)
        await self.client.subscribe(codec.topic(self.group, "DCMD", self.node, "+"), qos=1)
        self._node_birth()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        death = codec.payload(None, _ms(), [codec.metric(BD_SEQ, self.bd_seq, DataType.INT64)])
        self.client.publish(codec.topic(self.group, "NDEATH", self.node), death.SerializeToString(), qos=1)
        await self.client.flush(timeout=2.0)
        await self.client.close()

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % 256
        return self._seq

    def _send(self, kind: str, device: str | None, metrics: list[Metric], ts_ms: int | None = None) -> None:
        body = codec.payload(self._next_seq(), ts_ms or _ms(), metrics).SerializeToString()
        self.client.publish(codec.topic(self.group, kind, self.node, device), body, qos=0)

    # -- births -------------------------------------------------------------------------------------------

    def _node_birth(self) -> None:
        self._seq = -1
        metrics = [codec.metric(BD_SEQ, self.bd_seq, DataType.INT64), codec.metric(REBIRTH, False, DataType.BOOLEAN)]
        self._send("NBIRTH", None, metrics)
        for device in self.devices.values():
            self._device_birth(device)

    def _device_birth(self, device: _Device) -> None:
        meta = device.meta
        metrics = [codec.metric(ASSET_TYPE, meta.asset_type, DataType.STRING)]
        aliases = device.aliases
        for spec in meta.metrics:
            alias = aliases.setdefault(spec.name, len(aliases) + 1)
            props: dict[str, str | float] = {"engUnit": spec.unit, "engLow": spec.low, "engHigh": spec.high}
            metrics.append(codec.metric(spec.name, 0.0, DataType.DOUBLE, alias, props))
        for command in meta.commands:
            trigger = f"{COMMANDS}{command.name}"
            metrics.append(
                codec.metric(trigger, False, DataType.BOOLEAN, aliases.setdefault(trigger, len(aliases) + 1))
            )
            for arg in command.args:
                name = f"{trigger}/{arg.name}"
                props = {"engUnit": arg.unit, "engLow": arg.low, "engHigh": arg.high}
                metrics.append(
                    codec.metric(name, arg.low, DataType.DOUBLE, aliases.setdefault(name, len(aliases) + 1), props)
                )
        for name in (ACK_ID, ACK_STATUS, ACK_DETAIL, EVENT):
            metrics.append(codec.metric(name, "", DataType.STRING, aliases.setdefault(name, len(aliases) + 1)))
        self._send("DBIRTH", meta.device, metrics)
        device.born = True

    # -- the link surface PlantRunner uses -------------------------------------------------------------------

    async def subscribe(self, *topics: str, qos: int = 0) -> None:
        return None  # DCMD and NCMD of this node are subscribed on connect

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        try:
            parsed = parse_device_topic(topic)
        except TopicError:
            return
        name = parsed.device
        if parsed.channel is Channel.META:
            device = _Device(DeviceMeta.from_json(orjson.loads(payload)))
            self.devices[name] = device
            self._by_sparkplug[name] = name
            self._device_birth(device)
        elif parsed.channel is Channel.STATE and payload == b"offline" and name in self.devices:
            self.devices[name].born = False
            self._send("DDEATH", name, [])
        elif parsed.channel is Channel.TELEMETRY:
            self._data(name, orjson.loads(payload))
        elif parsed.channel is Channel.EVENT:
            self._strings(name, {EVENT: payload.decode()})
        elif parsed.channel is Channel.ACK:
            doc = orjson.loads(payload)
            self._strings(name, {ACK_ID: str(doc["id"]), ACK_STATUS: str(doc["status"]),
                                 ACK_DETAIL: str(doc.get("detail", ""))})  # fmt: skip

    def _data(self, name: str, doc: dict[str, object] | list[dict[str, object]]) -> None:
        device = self.devices.get(name)
        if device is None or not device.born:
            return
        aliases = device.aliases
        for item in doc if isinstance(doc, list) else [doc]:
            values = item["metrics"]
            assert isinstance(values, dict)
            metrics = [
                codec.metric(None, float(v), DataType.DOUBLE, aliases[k], with_type=False) for k, v in values.items()
            ]
            ts = item["ts"]
            self._send("DDATA", name, metrics, int(float(ts) * 1000) if isinstance(ts, int | float) else None)

    def _strings(self, name: str, values: dict[str, str]) -> None:
        device = self.devices.get(name)
        if device is None or not device.born:
            return
        metrics = [
            codec.metric(None, v, DataType.STRING, device.aliases[k], with_type=False) for k, v in values.items()
        ]
        self._send("DDATA", name, metrics)

    def drain(self, max_items: int) -> list[Message]:
        """The DCMDs that came in, as v1 commands for `PlantRunner.answer_commands`; rebirths done on the way."""
        out: list[Message] = []
        for message in self.client.drain(max_items):
            try:
                spb = codec.parse_topic(message.topic)
                body = codec.decode(message.payload)
            except (ValueError, DecodeError) as exc:
                log.warning("ignored a bad command on %s: %s", message.topic, exc)
                continue
            if spb.kind == "NCMD":
                if any(m.name == REBIRTH and m.boolean_value for m in body.metrics):
                    self.rebirths += 1
                    self._node_birth()
            elif spb.kind == "DCMD" and spb.device in self.devices:
                command = _command(body)
                if command is not None:
                    topic = device_topic(self.site, spb.device, Channel.CMD)
                    out.append(Message(topic, orjson.dumps(command), False))
        return out

    async def wait(self, timeout: float) -> None:
        await self.client.wait(timeout)

    async def flush(self, timeout: float = 5.0) -> bool:
        return await self.client.flush(timeout)


def _command(body: codec.Payload) -> dict[str, object] | None:
    """A DCMD as the v1 command it carries: the trigger names it, `Commands/{name}/{arg}` give its arguments."""
    cmd_id, name, args = "", None, {}
    for m in body.metrics:
        if m.name == ACK_ID:
            cmd_id = m.string_value
        elif m.name.startswith(COMMANDS) and m.WhichOneof("value") == "boolean_value" and m.boolean_value:
            name = m.name[len(COMMANDS) :]
        elif m.name.startswith(COMMANDS) and m.WhichOneof("value") in ("double_value", "float_value"):
            args[m.name.rsplit("/", 1)[1]] = getattr(m, str(m.WhichOneof("value")))
    if name is None:
        return None
    return {"id": cmd_id or f"spb-{time.time_ns()}", "name": name, "args": args}


def _ms() -> int:
    return int(time.time() * 1000)
