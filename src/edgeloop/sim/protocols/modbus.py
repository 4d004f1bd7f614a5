"""The simulated plant as Modbus TCP slaves: pymodbus servers whose registers the plant runner's telemetry fills.

`PlantRunner` publishes the plant into `ModbusPlantLink` as it would onto a broker: each device's telemetry is
encoded into its input registers (the map's layout), and a write of a command register or coil is handed to the
runner as a v1 command; the server answers the write only when the plant has acked it, with an exception (0x04
device failure) when the plant rejected it. So physics, faults and ground truth are those of the MQTT plant.

Units 1-200 sit behind each port (`UNITS_PER_PORT`), from the first port on: 1,000 devices are five servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edgeloop.io.modbus.map import DeviceRef, Gateway, Model, Register, RegisterMap, load_map
from edgeloop.io.topics import Channel, TopicError, device_topic, parse_device_topic
from edgeloop.io.transport import Message, Polled
from edgeloop.sim.protocols import Serve
from edgeloop.sim.runner import Plant

log = logging.getLogger(__name__)
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

PORT = 5020  # the simulator's first port (502 needs root)
UNITS_PER_PORT = 200
BLOCK = 64  # registers (and coils) per block of each unit: reads beyond them get exception 0x02
WRITES = {5: "coil", 15: "coil", 6: "holding", 16: "holding"}
READS = {1: "coil", 2: "discrete", 3: "holding", 4: "input"}
ACK_WAIT_S = 5.0
#: the state a device event leaves the device in, for the status register
EVENT_STATE = {"failure": "failed", "maintenance_started": "maintenance", "repaired": "running",
               "stopped": "stopped", "started": "running"}  # fmt: skip


def factory_models() -> dict[str, Model]:
    """The models of the shipped factory map (`edgeloop/io/modbus/maps/factory.yaml`)."""
    text = resources.files("edgeloop.io.modbus").joinpath("maps/factory.yaml").read_text(encoding="utf-8")
    return RegisterMap.model_validate(yaml.safe_load(text)).models


def plant_map(plant: Plant, models: dict[str, Model], host: str, port: int, connections: int = 4) -> RegisterMap:
    """A map of the plant's devices: unit ids 1-200 per port from `port` on, each device's model its asset type;
    the simulator takes any number of connections, and the map lets a poller open `connections` to each port."""
    gateways: list[Gateway] = []
    metas = plant.metas()
    for p, start in enumerate(range(0, len(metas), UNITS_PER_PORT)):
        chunk = metas[start : start + UNITS_PER_PORT]
        refs = [DeviceRef(unit=j + 1, id=m.device, model=m.asset_type) for j, m in enumerate(chunk)]
        gateways.append(Gateway(host=host, port=port + p, devices=refs, connections=connections))
    return RegisterMap(models=models, gateways=gateways)


def write_map(register_map: RegisterMap, path: Path) -> None:
    doc = register_map.model_dump(mode="json", exclude_defaults=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


class ModbusPlantLink(Polled):
    """The `Transport` a plant runner publishes into; the Modbus servers read from it and write commands into it."""

    def __init__(self, site: str, register_map: RegisterMap) -> None:
        self.site = site
        self.map = register_map
        self.units: dict[tuple[int, int], DeviceRef] = {}  # (port, unit) -> device
        self.refs: dict[str, DeviceRef] = {}
        for gateway in register_map.gateways:
            for ref in gateway.devices:
                self.units[gateway.port, ref.unit] = ref
                self.refs[ref.id] = ref
        # each device's registers as the plant last set them: input (telemetry), holding and coils (commands)
        self.blocks: dict[str, dict[str, list[int]]] = {d: self._initial(ref) for d, ref in self.refs.items()}
        self.inbox: deque[Message] = deque()
        self.acks: dict[str, asyncio.Future[tuple[str, str]]] = {}
        self._ids = itertools.count(1)
        self.servers: list[ModbusTcpServer] = []
        self.silent: set[str] = set()  # devices whose unit answers "gateway target failed to respond" (tests)

    def _initial(self, ref: DeviceRef) -> dict[str, list[int]]:
        blocks = {f: [0] * BLOCK for f in ("input", "holding", "coil", "discrete")}
        for command in self.map.models[ref.model].commands.values():
            if command.initial is not None:
                w = command.write
                words = [int(command.initial != 0)] if w.bits else w.encode(command.initial)
                blocks[w.function][w.address : w.address + len(words)] = words
        return blocks

    # -- the servers -----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        for gateway in self.map.gateways:
            devices = [self._device(gateway.port, ref) for ref in gateway.devices]
            server = ModbusTcpServer(devices, address=(gateway.host, gateway.port))
            await server.serve_forever(background=True)
            self.servers.append(server)

    async def stop(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                await server.shutdown()  # type: ignore[no-untyped-call]
        self.servers = []

    def _device(self, port: int, ref: DeviceRef) -> SimDevice:
        def block() -> list[SimData]:
            return [SimData(0, count=BLOCK, values=0, datatype=DataType.REGISTERS)]

        bits = [SimData(0, count=BLOCK, values=False, datatype=DataType.BITS)]

        async def action(fc: int, start: int, address: int, count: int, registers: list[int],
                         values: list[int] | list[bool] | None) -> ExcCodes | None:  # fmt: skip
            return await self._on_request(ref, fc, start, address, count, registers, values)

        return SimDevice(id=ref.unit, simdata=(bits, list(bits), block(), block()), action=action)

    async def _on_request(self, ref: DeviceRef, fc: int, start: int, address: int, count: int,
                          registers: list[int], values: list[int] | list[bool] | None) -> ExcCodes | None:  # fmt: skip
        if ref.id in self.silent:
            return ExcCodes.GATEWAY_NO_RESPONSE
        log.debug("unit %s fc %s address %s values %s", ref.unit, fc, address, values)
        if values is not None and fc in WRITES:
            return await self._on_write(ref, WRITES[fc], address, [int(v) for v in values])
        function = READS.get(fc) or WRITES.get(fc)  # a write's handler reads the written values back
        if function is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if address + count > BLOCK:
            return ExcCodes.ILLEGAL_ADDRESS
        mine = self.blocks[ref.id][function]
        registers[address - start : address - start + count] = mine[address : address + count]
        return None

    async def _on_write(self, ref: DeviceRef, function: str, address: int, values: list[int]) -> ExcCodes | None:
        model = self.map.models[ref.model]
        fits = [
            (name, c)
            for name, c in model.commands.items()
            if (c.write.function, c.write.address, c.write.words) == (function, address, len(values))
        ]
        if not fits:
            return ExcCodes.ILLEGAL_ADDRESS
        value = fits[0][1].write.decode(values)
        # commands that share a register (stop and start on the run coil) are told apart by their fixed value
        chosen = next(((n, c) for n, c in fits if c.value is None or c.value == value), None)
        if chosen is None:
            return ExcCodes.ILLEGAL_VALUE
        name, spec = chosen
        args = {} if spec.arg is None else {spec.arg: value}
        cmd_id = f"modbus-{next(self._ids)}"
        future: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        self.acks[cmd_id] = future
        payload = orjson.dumps({"id": cmd_id, "name": name, "args": args})
        self.inbox.append(Message(device_topic(self.site, ref.id, Channel.CMD), payload, False))
        try:
            status, _detail = await asyncio.wait_for(future, ACK_WAIT_S)
        except TimeoutError:
            return ExcCodes.DEVICE_BUSY
        finally:
            self.acks.pop(cmd_id, None)
        if status != "done":
            return ExcCodes.DEVICE_FAILURE
        self.blocks[ref.id][function][address : address + len(values)] = values
        return None

    # -- Transport, for the plant runner ---------------------------------------------------------------------------

    async def subscribe(self, *topics: str, qos: int = 0) -> None:
        return None

    def drain(self, max_items: int) -> list[Message]:
        n = min(max_items, len(self.inbox))
        return [self.inbox.popleft() for _ in range(n)]

    async def wait(self, timeout: float) -> None:
        await asyncio.sleep(0 if self.inbox else min(timeout, 0.01))

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        try:
            parsed = parse_device_topic(topic)
        except TopicError:
            return
        ref = self.refs.get(parsed.device)
        if ref is None:
            return
        if parsed.channel is Channel.TELEMETRY:
            self._set_inputs(ref, orjson.loads(payload))
        elif parsed.channel is Channel.EVENT:
            self._set_status(ref, orjson.loads(payload))
        elif parsed.channel is Channel.ACK:
            doc = orjson.loads(payload)
            future = self.acks.get(str(doc.get("id")))
            if future is not None and not future.done():
                future.set_result((str(doc.get("status")), str(doc.get("detail", ""))))
        # meta and state have no registers: the map describes the devices

    def _set_inputs(self, ref: DeviceRef, doc: dict[str, Any]) -> None:
        model = self.map.models[ref.model]
        blocks = self.blocks[ref.id]
        metrics = doc.get("metrics", {})
        points: list[tuple[str, Register, float]] = [
            (name, model.metrics[name], float(v)) for name, v in metrics.items() if name in model.metrics
        ]
        if model.timestamp is not None:
            points.append(("", model.timestamp, float(doc.get("ts", 0.0))))
        for name, register, value in points:
            try:
                words = [int(value != 0)] if register.bits else register.encode(value)
            except ValueError:
                log.warning("%s %s=%s does not fit its register", ref.id, name, value)
                continue
            blocks[register.function][register.address : register.address + len(words)] = words

    def _set_status(self, ref: DeviceRef, doc: dict[str, Any]) -> None:
        """A device event moves the device's status register (when its model has one) to the state it leads to."""
        model = self.map.models[ref.model]
        state = EVENT_STATE.get(str(doc.get("kind")))
        if state == "maintenance" and doc.get("found"):
            state = "maintenance_found"
        if model.status is None or state is None:
            return
        code = next((c for c, s in model.states.items() if s == state), None)
        if code is not None:
            words = model.status.encode(code)
            self.blocks[ref.id][model.status.function][model.status.address : model.status.address + len(words)] = words

    async def flush(self, timeout: float = 5.0) -> bool:
        return True


@contextlib.asynccontextmanager
async def serve_modbus(plant: Plant, serve: Serve) -> AsyncIterator[ModbusPlantLink]:
    """Serve the plant on Modbus TCP while the block runs; writes the map it serves to `serve.map_out`."""
    map_path = serve.options.get("map")
    models = load_map(Path(map_path)).models if map_path else factory_models()
    poll_s = serve.options.get("poll_s")
    if poll_s is not None:
        models = {name: model.model_copy(update={"poll_s": float(poll_s)}) for name, model in models.items()}
    missing = {m.asset_type for m in plant.metas()} - set(models)
    if missing:
        raise ValueError(f"the Modbus map has no model for asset types {sorted(missing)}")
    register_map = plant_map(plant, models, serve.host, serve.port or PORT)
    if serve.map_out is not None:
        write_map(register_map, serve.map_out)
    link = ModbusPlantLink(plant.site, register_map)
    await link.start()
    try:
        yield link
    finally:
        await link.stop()
