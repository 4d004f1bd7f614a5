"""The factory as an OPC UA server: `FactoryOpcUaServer` takes what `PlantRunner` publishes on the v1 topics
and serves it in an address space (folder `Factory`, one object of type `FactoryDeviceType` per device, a Double
variable per metric with EURange and EngineeringUnits, a method per command whose input arguments carry their
envelope as `low..high`), and turns method calls back into v1 commands for the runner; the call returns when
the plant has answered, Good with the plant's detail, or BadInvalidArgument when the plant refused.

    async with FactoryOpcUaServer("opc.tcp://127.0.0.1:4840/edgeloop/", site="factory") as server:
        await PlantRunner(plant, server).run(stop)

The plant's device events (failure, usage) have no OPC UA form here yet: they stay in the plant's ground truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from asyncua.ua.uaerrors import UaStatusCodeError

from edgeloop.io.topics import Channel, TopicError, device_topic, parse_device_topic
from edgeloop.io.transport import Message, Polled
from edgeloop.model import CommandSpec, DeviceMeta

NAMESPACE = "urn:edgeloop:factory"
#: a variable's value before its device's first sample
NO_VALUE_YET = ua.DataValue(ua.Variant(0.0, ua.VariantType.Double),
                            StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData))  # fmt: skip
FOLDER, TYPE = "Factory", "FactoryDeviceType"


def opcua_map(endpoint: str) -> dict[str, Any]:
    """The OPC UA map an agent needs for this server: browse its folder for the device type, and take every
    sample (the simulator writes each one once).

    >>> opcua_map("opc.tcp://127.0.0.1:4840/edgeloop/")["browse"]
    {'folder': 'Factory', 'type': 'FactoryDeviceType'}
    """
    return {"url": endpoint, "security": "None", "browse": {"folder": FOLDER, "type": TYPE},
            "sampling_ms": 0.0, "publish_ms": 50.0, "queue_size": 100}  # fmt: skip


class _Users(UserManager):
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:  # fmt: skip
        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User)
        return None


class FactoryOpcUaServer(Polled):
    """An OPC UA server carrying a simulated plant; the link `PlantRunner` publishes through."""

    def __init__(
        self,
        endpoint: str,
        site: str = "factory",
        certificate: tuple[Path, Path] | None = None,  # (cert, key): offer Basic256Sha256 too
        users: dict[str, str] | None = None,  # username -> password; None: anonymous
        answer_timeout_s: float = 10.0,
    ) -> None:
        self.endpoint = endpoint
        self.site = site
        self.answer_timeout_s = answer_timeout_s
        self.server = Server(user_manager=_Users(users) if users else None)
        self._certificate = certificate
        self._users = users
        self._idx = 0
        self._folder: Any = None
        self._type: Any = None
        self._to_create: list[DeviceMeta] = []
        self._created: set[str] = set()
        self._nodes: dict[tuple[str, str], ua.NodeId] = {}
        self._writes: deque[tuple[ua.NodeId, ua.DataValue]] = deque()
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._inbox: deque[Message] = deque()
        self._calls: dict[str, asyncio.Future[tuple[str, str]]] = {}
        self.writes = 0

    async def __aenter__(self) -> FactoryOpcUaServer:
        server = self.server
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("edgeloop simulated factory")
        policies = [ua.SecurityPolicyType.NoSecurity]
        if self._certificate is not None:
            await server.load_certificate(str(self._certificate[0]))
            await server.load_private_key(str(self._certificate[1]))
            policies += [ua.SecurityPolicyType.Basic256Sha256_Sign, ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
        server.set_security_policy(policies)
        server.set_security_IDs(["Username"] if self._users else ["Anonymous", "Username"])
        self._idx = await server.register_namespace(NAMESPACE)
        self._type = await server.nodes.base_object_type.add_object_type(self._idx, TYPE)
        self._folder = await server.nodes.objects.add_folder(self._idx, FOLDER)
        await server.start()
        self._writer = asyncio.create_task(self._write_loop())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        await self.server.stop()

    # -- the address space ---------------------------------------------------------------------------------

    async def _create(self, meta: DeviceMeta) -> None:
        """The device's object, once (a runner that starts again announces its devices again)."""
        if meta.device in self._created:
            return
        self._created.add(meta.device)
        idx = self._idx
        obj = await self._folder.add_object(
            ua.NodeId(meta.device, idx), f"{idx}:{meta.device}", objecttype=self._type.nodeid
        )
        await obj.add_property(ua.NodeId(f"{meta.device}.AssetType", idx), "0:AssetType", meta.asset_type)
        for spec in meta.metrics:
            base = f"{meta.device}.{spec.name}"
            node = ua.NodeId(base, idx)
            var = await obj.add_variable(node, f"{idx}:{spec.name}", 0.0, varianttype=ua.VariantType.Double)
            await var.write_value(NO_VALUE_YET)  # as a real server before its device's first sample
            eu_range = ua.Range(spec.low, spec.high)
            await var.add_property(ua.NodeId(f"{base}.EURange", idx), "0:EURange", eu_range)
            units = ua.EUInformation(DisplayName=ua.LocalizedText(spec.unit))
            await var.add_property(ua.NodeId(f"{base}.EngineeringUnits", idx), "0:EngineeringUnits", units)
            self._nodes[(meta.device, spec.name)] = node
        for command in meta.commands:
            double = ua.NodeId(ua.ObjectIds.Double)
            inputs = [ua.Argument(Name=a.name, DataType=double, ValueRank=-1, Description=ua.LocalizedText(
                f"{a.low}..{a.high}")) for a in command.args]  # fmt: skip
            await obj.add_method(ua.NodeId(f"{meta.device}.{command.name}", idx), f"{idx}:{command.name}",
                                 self._method(meta.device, command), inputs, [ua.VariantType.String])  # fmt: skip

    def _method(self, device: str, command: CommandSpec) -> Callable[..., Awaitable[list[ua.Variant]]]:
        async def call(parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant]:
            cmd_id = uuid.uuid4().hex
            values = {a.name: float(v.Value) for a, v in zip(command.args, args, strict=False)}
            future: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
            self._calls[cmd_id] = future
            doc = {"id": cmd_id, "name": command.name, "args": values}
            self._inbox.append(Message(device_topic(self.site, device, Channel.CMD), orjson.dumps(doc), False))
            try:
                status, detail = await asyncio.wait_for(future, self.answer_timeout_s)
            finally:
                self._calls.pop(cmd_id, None)
            if status != "done":
                raise UaStatusCodeError(ua.StatusCodes.BadInvalidArgument)
            return [ua.Variant(detail, ua.VariantType.String)]

        return call

    def set_status(self, device: str, metric: str, value: float, status: int) -> None:
        """Serve `value` with `status` (a ua.StatusCodes code): how a failing sensor shows, for tests."""
        dv = ua.DataValue(ua.Variant(value, ua.VariantType.Double), StatusCode=ua.StatusCode(status),
                          SourceTimestamp=datetime.now(UTC))  # fmt: skip
        self._writes.append((self._nodes[(device, metric)], dv))
        self._wake.set()

    async def _write_loop(self) -> None:
        aspace = self.server.iserver.aspace
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._writes:
                node, dv = self._writes.popleft()
                await aspace.write_attribute_value(node, ua.AttributeIds.Value, dv)
                self.writes += 1
                if self.writes % 200 == 0:  # a write does not suspend: let the subscriptions publish meanwhile
                    await asyncio.sleep(0)

    # -- the link surface PlantRunner uses -----------------------------------------------------------------

    async def subscribe(self, *topics: str, qos: int = 0) -> None:
        return None

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        try:
            parsed = parse_device_topic(topic)
        except TopicError:
            return
        if parsed.channel is Channel.META:
            self._to_create.append(DeviceMeta.from_json(orjson.loads(payload)))
        elif parsed.channel is Channel.TELEMETRY:
            doc = orjson.loads(payload)
            for item in doc if isinstance(doc, list) else [doc]:
                stamp = datetime.fromtimestamp(float(item["ts"]), UTC)
                for metric, value in item["metrics"].items():
                    node = self._nodes.get((parsed.device, metric))
                    if node is not None:
                        dv = ua.DataValue(ua.Variant(float(value), ua.VariantType.Double), SourceTimestamp=stamp)
                        self._writes.append((node, dv))
            self._wake.set()
        elif parsed.channel is Channel.ACK:
            doc = orjson.loads(payload)
            future = self._calls.get(str(doc.get("id")))
            if future is not None and not future.done():
                future.set_result((str(doc.get("status")), str(doc.get("detail", ""))))

    def drain(self, max_items: int) -> list[Message]:
        n = min(max_items, len(self._inbox))
        return [self._inbox.popleft() for _ in range(n)]

    async def wait(self, timeout: float) -> None:
        await asyncio.sleep(0 if self._inbox else min(timeout, 0.01))

    async def flush(self, timeout: float = 5.0) -> bool:
        """Create the devices announced since the last flush (PlantRunner flushes after the metas), and wait for
        the queued writes."""
        while self._to_create:
            await self._create(self._to_create.pop(0))
        deadline = asyncio.get_running_loop().time() + timeout
        while self._writes and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        return not self._writes
