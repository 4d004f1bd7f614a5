"""`OpcUaSource`: an OPC UA server's devices as the site agent's `Transport`.

Data comes by subscription (monitored items with sampling interval, queue size and an absolute deadband), not
by polling. Each notification becomes a point of its device's v1 telemetry (a device's changes at one source time
that arrive together make one message, sent in time order). A value with a bad or uncertain
StatusCode is not used as data but kept: it goes to the agent's quarantine with the status's name; a node that
has no value yet (BadWaitingForInitialData, what a server reports before its device's first sample) is skipped
and counted in `waiting`: it holds no reading, and its server-side stamp would put a reading out of time. Commands are
method calls or writes; the StatusCode of the call is the ack (`done` for Good, `rejected` with the code's name
otherwise). When the server vanishes, the devices go `offline` and the loss is quarantined; the source
reconnects with backoff, re-creates the subscription, and records the gap it had (quarantine, and `gaps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson
from asyncua import Client, ua
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from edgeloop.io.inbound import rejected_message
from edgeloop.io.opcua.browse import browse_devices
from edgeloop.io.opcua.certs import client_certificate
from edgeloop.io.opcua.config import DeviceNodes, OpcUaConfig
from edgeloop.io.topics import PREFIX, Channel, device_topic, parse_device_topic
from edgeloop.io.transport import Message, Polled

log = logging.getLogger(__name__)

HEARTBEAT_TIMEOUT_S = 5.0
HEARTBEATS_MISSED = 3  # in a row, before the server is taken as gone


class _Handler:
    """asyncua's subscription callbacks, handed straight to the source."""

    def __init__(self, source: OpcUaSource) -> None:
        self.source = source

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self.source.on_change(node.nodeid.to_string(), val, data.monitored_item.Value)


class OpcUaSource(Polled):
    """One OPC UA server's devices for the agent of `site`; an async context manager and a `Transport`."""

    def __init__(self, config: OpcUaConfig, site: str, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.site = site
        self.clock = clock
        self.devices: dict[str, DeviceNodes] = dict(config.devices)
        self.gaps: list[tuple[float, float]] = []  # (lost at, data again at) per reconnect
        self.changes = 0
        self.waiting = 0  # notifications of a node with no value yet (BadWaitingForInitialData): not data
        self.unrouted: deque[Message] = deque(maxlen=10_000)
        self._by_node: dict[str, tuple[str, str]] = {}
        self._ready: deque[Message] = deque()
        self._pending: dict[str, dict[float, dict[str, float]]] = {}  # device -> source time -> metrics
        self._tseq: dict[str, int] = {}
        self._wakeup = asyncio.Event()
        self._connected = asyncio.Event()
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._commands: set[asyncio.Task[None]] = set()
        self._lost_at: float | None = None

    # -- connection --------------------------------------------------------------------------------------------

    async def __aenter__(self) -> OpcUaSource:
        """Connect and subscribe; a first connection that fails raises (a wrong password, an untrusted
        certificate, no server), a later loss is reconnected in the background."""
        try:
            await self._connect()
        except BaseException:
            await self._close_client()
            raise
        self._task = asyncio.create_task(self._supervise())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_client()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def _supervise(self, retry_s: float = 0.5, max_retry_s: float = 10.0) -> None:
        backoff = retry_s
        while True:
            try:
                if self._client is None:
                    await self._connect()
                backoff = retry_s
                missed = 0
                while missed < HEARTBEATS_MISSED:  # a cheap read as the heartbeat: a busy server answers late,
                    await asyncio.sleep(1.0)  # a vanished one fails the read at once (connection closed)
                    assert self._client is not None
                    try:
                        await asyncio.wait_for(self._client.nodes.server_state.read_value(), HEARTBEAT_TIMEOUT_S)
                        missed = 0
                    except TimeoutError:
                        missed += 1
                raise TimeoutError(f"no answer to {HEARTBEATS_MISSED} heartbeats")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the link: the server is gone until a reconnect works
                self._on_lost(exc)
                await self._close_client()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_retry_s)

    async def _connect(self) -> None:
        cfg = self.config
        client = Client(cfg.url, timeout=5)
        if cfg.security != "None":
            cert, key = await client_certificate(cfg.certificate_dir)
            policy, mode = cfg.security.split("_")
            await client.set_security_string(f"{policy},{mode},{cert},{key},{cfg.server_certificate}")
        if cfg.username:
            client.set_user(cfg.username)
            client.set_password(cfg.password or "")
        await client.connect()
        self._client = client
        if cfg.browse_folder and cfg.browse_type:
            self.devices = await browse_devices(client, cfg.browse_folder, cfg.browse_type)
        self._by_node = {m.node: (d.device, name) for d in self.devices.values() for name, m in d.metrics.items()}
        for device in self.devices.values():
            self._ready.append(Message(device_topic(self.site, device.device, Channel.META),
                                       orjson.dumps(device.meta(cfg.url).to_json()), True))  # fmt: skip
            self._ready.append(Message(device_topic(self.site, device.device, Channel.STATE), b"online", True))
        sub = await client.create_subscription(cfg.publish_ms, _Handler(self))
        nodes = [client.get_node(node) for node in self._by_node]
        mfilter = None
        if cfg.deadband > 0:
            mfilter = ua.DataChangeFilter(
                Trigger=ua.DataChangeTrigger.StatusValue, DeadbandType=ua.DeadbandType.Absolute,
                DeadbandValue=cfg.deadband,
            )  # fmt: skip
        for i in range(0, len(nodes), 1000):  # servers cap the items of one request
            await sub._subscribe(nodes[i : i + 1000], ua.AttributeIds.Value, mfilter, cfg.queue_size,
                                 sampling_interval=ua.Double(cfg.sampling_ms))  # fmt: skip
        if self._lost_at is not None:
            now = self.clock()
            self.gaps.append((self._lost_at, now))
            for name in self.devices:
                reason = f"data gap: no data for {now - self._lost_at:.1f} s (reconnected, subscription re-created)"
                self._ready.append(rejected_message(self.site, name, cfg.url, reason, b""))
            self._lost_at = None
        self._connected.set()
        self._wakeup.set()

    def _on_lost(self, exc: BaseException) -> None:
        if not self._connected.is_set() and self._lost_at is not None:
            return
        self._connected.clear()
        self._lost_at = self.clock() if self._lost_at is None else self._lost_at
        reason = f"server unreachable: {type(exc).__name__} {exc}".strip()
        for device in self.devices:
            self._flush_device(device)
            self._ready.append(Message(device_topic(self.site, device, Channel.STATE), b"offline", True))
            self._ready.append(rejected_message(self.site, device, self.config.url, reason[:300], b""))
        self._wakeup.set()

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 2.0)

    # -- data ---------------------------------------------------------------------------------------------------

    def on_change(self, node: str, value: Any, data: ua.DataValue) -> None:
        where = self._by_node.get(node)
        if where is None:
            return
        device, metric = where
        self.changes += 1
        status = data.StatusCode
        if status is not None and status.value == ua.StatusCodes.BadWaitingForInitialData:
            self.waiting += 1
        elif status is not None and not status.is_good():
            kind = "uncertain" if status.is_uncertain() else "bad"
            reason = f"OPC UA {kind} status {status.name} on {metric}: value not used"
            self._ready.append(rejected_message(self.site, device, node, reason, repr(value).encode()[:200]))
        elif isinstance(value, bool | int | float):
            stamp = data.SourceTimestamp or data.ServerTimestamp
            ts = stamp.replace(tzinfo=UTC).timestamp() if isinstance(stamp, datetime) else self.clock()
            self._pending.setdefault(device, {}).setdefault(ts, {})[metric] = float(value)
        else:
            reason = f"wrong type: {metric} is a {type(value).__name__}, not a number"
            self._ready.append(rejected_message(self.site, device, node, reason, repr(value).encode()[:200]))
        if not self._wakeup.is_set():
            self._wakeup.set()

    def _flush_device(self, device: str) -> None:
        """The device's pending changes as v1 telemetry: one message per source time, oldest first (a publish
        response groups notifications by node, so a device's metrics at one time come apart and out of order)."""
        for ts, metrics in sorted(self._pending.pop(device, {}).items()):
            seq = self._tseq.get(device, 0)
            self._tseq[device] = seq + 1
            doc = orjson.dumps({"ts": ts, "seq": seq, "metrics": metrics})
            self._ready.append(Message(device_topic(self.site, device, Channel.TELEMETRY), doc, False))

    # -- the Transport surface ------------------------------------------------------------------------------------

    async def subscribe(self, *topics: str, qos: int = 0) -> None:
        """The agent's v1 subscriptions are implied; asking for a device's meta again re-delivers it."""
        for topic in topics:
            parts = topic.split("/")
            if len(parts) == 5 and parts[4] == "meta" and parts[3] in self.devices:
                meta = self.devices[parts[3]].meta(self.config.url).to_json()
                self._ready.append(Message(topic, orjson.dumps(meta), True))

    def drain(self, max_items: int) -> list[Message]:
        for device in list(self._pending):
            self._flush_device(device)
        ready = self._ready
        n = min(max_items, len(ready))
        return [ready.popleft() for _ in range(n)]

    async def wait(self, timeout: float) -> None:
        if self._ready or self._pending:
            return
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        if not (topic.startswith(PREFIX) and topic.endswith("/cmd")):
            self.unrouted.append(Message(topic, payload, retain))
            return
        task = asyncio.get_running_loop().create_task(self._command(topic, payload))
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def flush(self, timeout: float = 5.0) -> bool:
        if self._commands:
            await asyncio.wait(set(self._commands), timeout=timeout)
        return not self._commands

    # -- commands ---------------------------------------------------------------------------------------------

    async def _command(self, topic: str, payload: bytes) -> None:
        try:
            device = parse_device_topic(topic).device
            doc = orjson.loads(payload)
            cmd_id, name, args = str(doc["id"]), str(doc["name"]), dict(doc.get("args", {}))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("not a v1 command on %s: %s", topic, exc)
            return
        status, detail = await self._call(device, name, args)
        ack = orjson.dumps({"id": cmd_id, "status": status, "detail": detail})
        self._ready.append(Message(device_topic(self.site, device, Channel.ACK), ack, False))
        self._wakeup.set()

    async def _call(self, device: str, name: str, args: dict[str, Any]) -> tuple[str, str]:
        nodes = self.devices.get(device)
        spec = None if nodes is None else nodes.commands.get(name)
        client = self._client
        if spec is None:
            return "rejected", f"the device has no command {name!r} in the OPC UA map"
        if client is None or not self.connected:
            return "rejected", "server unreachable"
        values = [ua.Variant(float(args.get(a.name, 0.0)), ua.VariantType.Double) for a in spec.args]
        try:
            if spec.method:
                method = ua.NodeId.from_string(spec.method)
                result = await client.get_node(spec.object).call_method(method, *values)
                return "done", f"Good{'' if result is None else f': {result}'}"
            value = spec.value if spec.value is not None else float(values[0].Value) if values else 1.0
            await client.get_node(spec.write).write_value(ua.DataValue(ua.Variant(value, ua.VariantType.Double)))
            return "done", "Good"
        except UaStatusCodeError as exc:
            return "rejected", ua.StatusCode(exc.code).name
        except (TimeoutError, ConnectionError, UaError) as exc:
            return "rejected", f"call failed: {type(exc).__name__} {exc}"
