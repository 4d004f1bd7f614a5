"""The device map found by browsing: every object of a given type in a given folder under Objects is a device;
its variables are metrics (EURange and EngineeringUnits give range and unit), its methods are commands (an
input argument's description `low..high` gives its envelope), its `AssetType` property names the asset type."""

from __future__ import annotations

import contextlib
from typing import Any

from asyncua import Client, Node, ua
from asyncua.ua.uaerrors import UaError

from edgeloop.io.opcua.config import CommandNode, DeviceNodes, MetricNode
from edgeloop.model import ArgSpec, is_valid_id


async def _child(node: Node, name: str) -> Node | None:
    for child in await node.get_children():
        if (await child.read_browse_name()).Name == name:
            return child
    return None


async def browse_devices(client: Client, folder: str, type_name: str) -> dict[str, DeviceNodes]:
    root = await _child(client.nodes.objects, folder)
    if root is None:
        raise LookupError(f"no folder {folder!r} under Objects")
    devices: dict[str, DeviceNodes] = {}
    for obj in await root.get_children(nodeclassmask=ua.NodeClass.Object):
        typedef = await obj.read_type_definition()
        if typedef is None or (await client.get_node(typedef).read_browse_name()).Name != type_name:
            continue
        name = (await obj.read_browse_name()).Name.lower()
        if not is_valid_id(name):
            continue  # not nameable in edgeloop; the map can rename it
        devices[name] = await _device(obj, name, type_name)
    return devices


async def _device(obj: Node, name: str, type_name: str) -> DeviceNodes:
    asset_type = type_name.lower()
    metrics: dict[str, MetricNode] = {}
    for var in await obj.get_children(refs=ua.ObjectIds.HasComponent, nodeclassmask=ua.NodeClass.Variable):
        metric = (await var.read_browse_name()).Name
        low, high, unit = -1e12, 1e12, ""
        with contextlib.suppress(UaError, AttributeError):
            rng = await (await var.get_child("0:EURange")).read_value()
            low, high = float(rng.Low), float(rng.High)
        with contextlib.suppress(UaError, AttributeError):
            unit = str((await (await var.get_child("0:EngineeringUnits")).read_value()).DisplayName.Text or "")
        metrics[metric] = MetricNode(var.nodeid.to_string(), unit, low, high)
    with contextlib.suppress(UaError):
        asset_type = str(await (await obj.get_child("0:AssetType")).read_value())
    commands: dict[str, CommandNode] = {}
    for method in await obj.get_methods():
        command = (await method.read_browse_name()).Name
        args: list[ArgSpec] = []
        with contextlib.suppress(UaError):
            for arg in await (await method.get_child("0:InputArguments")).read_value():
                args.append(_arg(arg))
        commands[command] = CommandNode(obj.nodeid.to_string(), method.nodeid.to_string(), args=tuple(args))
    return DeviceNodes(name, asset_type, metrics, commands)


def _arg(arg: Any) -> ArgSpec:
    text = str(getattr(arg.Description, "Text", "") or "")
    low, _, high = text.partition("..")
    try:
        return ArgSpec(str(arg.Name), float(low), float(high))
    except ValueError:
        return ArgSpec(str(arg.Name), -1e12, 1e12)
