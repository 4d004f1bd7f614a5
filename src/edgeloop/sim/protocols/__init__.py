"""The protocols a simulated plant can speak, by name (`edgeloop sim factory --protocol P`).

A plant server is an async context manager that takes a plant and yields the `Transport` that `PlantRunner`
publishes the plant into and takes commands from: for `mqtt` the broker client itself; for `modbus` a
pymodbus TCP server whose registers the runner's telemetry fills and whose writes become commands; for
`sparkplug` an edge node on the broker (births, DDATA, DCMD); for `opcua` an asyncua server (variables,
method calls). So every
protocol serves the same physics, faults and ground truth. Modules are imported only when their protocol runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from edgeloop.io.mqtt import MqttClient
from edgeloop.io.transport import Transport
from edgeloop.sim.runner import Plant

__all__ = ["SERVERS", "PlantServer", "Serve"]


@dataclass(frozen=True, slots=True)
class Serve:
    """Where and how to serve a plant: a broker (MQTT-borne protocols), a host and first port (servers), a map
    file to write the served map to, and protocol options."""

    broker: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None  # None: the protocol's usual port for a simulator
    map_out: Path | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


#: serves one plant: an async context manager yielding the transport the plant runner uses
PlantServer = Callable[[Plant, Serve], contextlib.AbstractAsyncContextManager[Transport]]


@contextlib.asynccontextmanager
async def _mqtt(plant: Plant, serve: Serve) -> AsyncIterator[Transport]:
    if not serve.broker:
        raise ValueError("protocol mqtt needs --broker")
    async with MqttClient(serve.broker, f"edgeloop-sim-{plant.site}") as client:
        yield client


@contextlib.asynccontextmanager
async def _modbus(plant: Plant, serve: Serve) -> AsyncIterator[Transport]:
    from edgeloop.sim.protocols.modbus import serve_modbus

    async with serve_modbus(plant, serve) as transport:
        yield transport


@contextlib.asynccontextmanager
async def _sparkplug(plant: Plant, serve: Serve) -> AsyncIterator[Transport]:
    from edgeloop.sim.protocols.sparkplug import SparkplugEdgeNode

    if not serve.broker:
        raise ValueError("protocol sparkplug needs --broker (Sparkplug B rides on MQTT)")
    async with SparkplugEdgeNode(serve.broker, group=plant.site, node="line1", site=plant.site) as node:
        yield node


@contextlib.asynccontextmanager
async def _opcua(plant: Plant, serve: Serve) -> AsyncIterator[Transport]:
    from edgeloop.sim.protocols.opcua import FactoryOpcUaServer, opcua_map

    endpoint = f"opc.tcp://{serve.host}:{serve.port or 4840}/edgeloop/"
    async with FactoryOpcUaServer(endpoint, plant.site) as server:
        if serve.map_out is not None:  # the agent finds the devices by browsing: the map names where to look
            write_yaml(serve.map_out, opcua_map(endpoint))
        yield server


def write_yaml(path: Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(doc), sort_keys=False), encoding="utf-8")


SERVERS: dict[str, PlantServer] = {"mqtt": _mqtt, "modbus": _modbus, "sparkplug": _sparkplug, "opcua": _opcua}
