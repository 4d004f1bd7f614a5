"""What an OPC UA source is told: the server, its security, the subscription's settings, and the device map
(or the folder and object type to browse for it).

>>> cfg = OpcUaConfig.from_dict({"url": "opc.tcp://127.0.0.1:4840/edgeloop/", "devices": {"p1": {
...     "asset_type": "pump", "metrics": {"speed": {"node": "ns=2;s=p1.speed", "low": 0, "high": 1.2}},
...     "commands": {"stop": {"object": "ns=2;s=p1", "method": "ns=2;s=p1.stop"}}}}})
>>> cfg.devices["p1"].metrics["speed"].node, cfg.devices["p1"].commands["stop"].method
('ns=2;s=p1.speed', 'ns=2;s=p1.stop')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgeloop.model import ArgSpec, CommandSpec, DeviceMeta, MetricSpec

SECURITY = ("None", "Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt")


@dataclass(frozen=True, slots=True)
class MetricNode:
    node: str
    unit: str = ""
    low: float = -1e12
    high: float = 1e12


@dataclass(frozen=True, slots=True)
class CommandNode:
    """A method call (`object` and `method`, arguments in `args` order) or a write of `value` (or of the
    command's single argument) to `write`."""

    object: str = ""
    method: str = ""
    write: str = ""
    value: float | None = None
    args: tuple[ArgSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceNodes:
    device: str
    asset_type: str
    metrics: dict[str, MetricNode]
    commands: dict[str, CommandNode] = field(default_factory=dict)

    def meta(self, url: str) -> DeviceMeta:
        metrics = tuple(MetricSpec(n, m.unit, m.low, m.high) for n, m in self.metrics.items())
        commands = tuple(CommandSpec(n, c.args) for n, c in self.commands.items())
        return DeviceMeta(self.device, self.asset_type, metrics, commands, {"protocol": "opcua", "server": url})


@dataclass(frozen=True, slots=True)
class OpcUaConfig:
    url: str
    security: str = "None"  # None is for demos only: no signature, no encryption
    server_certificate: Path | None = None  # trusted explicitly; needed for Basic256Sha256
    certificate_dir: Path = Path("var/opcua")  # our certificate and key, generated on first use
    username: str | None = None
    password: str | None = None
    sampling_ms: float = 100.0
    queue_size: int = 10
    deadband: float = 0.0  # absolute; 0: every change
    publish_ms: float = 100.0
    browse_folder: str | None = None
    browse_type: str | None = None
    devices: dict[str, DeviceNodes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.security not in SECURITY:
            raise ValueError(f"security {self.security!r} is not one of {', '.join(SECURITY)}")
        if self.security != "None" and self.server_certificate is None:
            raise ValueError(f"security {self.security} needs the server's certificate, to trust it explicitly")
        if not self.devices and not (self.browse_folder and self.browse_type):
            raise ValueError("give either a device map (devices) or a folder and an object type to browse")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> OpcUaConfig:
        devices = {name: _device(name, d) for name, d in dict(doc.get("devices") or {}).items()}
        browse = dict(doc.get("browse") or {})
        paths: dict[str, Any] = {k: Path(doc[k]) for k in ("server_certificate", "certificate_dir") if doc.get(k)}
        plain = {k: doc[k] for k in ("security", "username", "password", "sampling_ms", "queue_size", "deadband",
                                     "publish_ms") if k in doc}  # fmt: skip
        return cls(url=str(doc["url"]), devices=devices, browse_folder=browse.get("folder"),
                   browse_type=browse.get("type"), **paths, **plain)  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> OpcUaConfig:
        return cls.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def _device(name: str, doc: Mapping[str, Any]) -> DeviceNodes:
    metrics = {
        m: MetricNode(str(spec["node"]), str(spec.get("unit", "")), float(spec.get("low", -1e12)),
                      float(spec.get("high", 1e12)))
        for m, spec in dict(doc["metrics"]).items()
    }  # fmt: skip
    commands = {}
    for c, spec in dict(doc.get("commands") or {}).items():
        args = tuple(ArgSpec(a, float(s["low"]), float(s["high"]), str(s.get("unit", "")))
                     for a, s in dict(spec.get("args") or {}).items())  # fmt: skip
        value = spec.get("value")
        number = None if value is None else float(value)
        commands[c] = CommandNode(str(spec.get("object", "")), str(spec.get("method", "")),
                                  str(spec.get("write", "")), number, args)  # fmt: skip
    return DeviceNodes(name, str(doc.get("asset_type", "opcua")), metrics, commands)
