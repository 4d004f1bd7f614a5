"""What a device says about itself on its retained `meta` topic: asset type, metrics, commands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric a device reports, with its unit and the range a healthy sensor can physically give."""

    name: str
    unit: str
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class ArgSpec:
    """One numeric argument of a command, with the envelope it must stay in."""

    name: str
    low: float
    high: float
    unit: str = ""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command a device accepts on its `cmd` topic."""

    name: str
    args: tuple[ArgSpec, ...] = ()
    description: str = ""

    def check_args(self, args: Mapping[str, float]) -> str | None:
        """Return why `args` break this command's envelope, or None when they fit.

        >>> spec = CommandSpec("reduce_speed", (ArgSpec("factor", 0.3, 1.0),))
        >>> spec.check_args({"factor": 0.5}) is None
        True
        >>> spec.check_args({"factor": 2.0})
        'factor=2.0 outside [0.3, 1.0]'
        """
        known = {a.name: a for a in self.args}
        for name in args:
            if name not in known:
                return f"unknown argument {name!r}"
        for spec in self.args:
            if spec.name not in args:
                return f"missing argument {spec.name!r}"
            value = args[spec.name]
            if not spec.low <= value <= spec.high:
                return f"{spec.name}={value} outside [{spec.low}, {spec.high}]"
        return None


@dataclass(frozen=True, slots=True)
class DeviceMeta:
    """A device's description, as published retained on `edgeloop/v1/{site}/{device}/meta`."""

    device: str
    asset_type: str
    metrics: tuple[MetricSpec, ...]
    commands: tuple[CommandSpec, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def metric(self, name: str) -> MetricSpec | None:
        for spec in self.metrics:
            if spec.name == name:
                return spec
        return None

    def command(self, name: str) -> CommandSpec | None:
        for spec in self.commands:
            if spec.name == name:
                return spec
        return None

    def to_json(self) -> dict[str, Any]:
        """The payload of the `meta` topic.

        >>> m = DeviceMeta("p1", "pump", (MetricSpec("flow", "m3/h", 0, 200),))
        >>> DeviceMeta.from_json(m.to_json()) == m
        True
        """
        return {
            "device": self.device,
            "asset_type": self.asset_type,
            "metrics": {m.name: {"unit": m.unit, "low": m.low, "high": m.high} for m in self.metrics},
            "commands": {
                c.name: {
                    "description": c.description,
                    "args": {a.name: {"low": a.low, "high": a.high, "unit": a.unit} for a in c.args},
                }
                for c in self.commands
            },
            **({"extra": dict(self.extra)} if self.extra else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceMeta:
        """Build from a decoded `meta` payload; raises ValueError naming the bad field."""
        try:
            metrics = tuple(
                MetricSpec(str(name), str(m.get("unit", "")), float(m["low"]), float(m["high"]))
                for name, m in dict(data["metrics"]).items()
            )
            commands = tuple(
                CommandSpec(
                    str(name),
                    tuple(
                        ArgSpec(str(an), float(a["low"]), float(a["high"]), str(a.get("unit", "")))
                        for an, a in dict(c.get("args", {})).items()
                    ),
                    str(c.get("description", "")),
                )
                for name, c in dict(data.get("commands", {})).items()
            )
            return cls(
                device=str(data["device"]),
                asset_type=str(data["asset_type"]),
                metrics=metrics,
                commands=commands,
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"bad device meta: {exc!r}") from exc
