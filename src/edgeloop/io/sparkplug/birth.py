"""What a DBIRTH says about a device, in edgeloop's words: its metrics by alias, and its `DeviceMeta`.

Conventions for what Sparkplug B leaves open (docs/protocols.md tells them to a plant engineer):
- a numeric metric (Int8 .. Boolean) is a telemetry series; its properties `engUnit`, `engLow` and `engHigh` give
  its unit and range (without them the range is the data type's);
- `Properties/asset_type` (String) names the asset type;
- `Commands/{name}` (Boolean) is a command's trigger and `Commands/{name}/{arg}` (numeric, `engLow`/`engHigh` as
  its envelope) its arguments; `Commands/id`, `Commands/status` and `Commands/detail` (String) carry the
  answer to the last command, which becomes its v1 ack;
- `Events/event` (String, a JSON object with `kind`) carries a device event (failure, repaired, usage, ...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from operator import attrgetter
from typing import Any

from edgeloop.io.sparkplug.codec import NUMERIC, VALUE_FIELD, DataType, Metric, Payload, properties_of
from edgeloop.model import ArgSpec, CommandSpec, DeviceMeta, MetricSpec

ASSET_TYPE = "Properties/asset_type"
COMMANDS = "Commands/"
ACK_ID, ACK_STATUS, ACK_DETAIL = "Commands/id", "Commands/status", "Commands/detail"
EVENT = "Events/event"
DEFAULT_ASSET = "sparkplug"
_ACK = frozenset({ACK_ID, ACK_STATUS, ACK_DETAIL})
#: the range a metric has when its birth gives none: what its data type can hold (floats: a wide finite range,
#: since the meta travels as JSON, which has no infinity)
_TYPE_RANGE = {
    DataType.INT8: (-(2.0**7), 2.0**7 - 1), DataType.INT16: (-(2.0**15), 2.0**15 - 1),
    DataType.INT32: (-(2.0**31), 2.0**31 - 1), DataType.INT64: (-(2.0**63), 2.0**63 - 1),
    DataType.UINT8: (0.0, 2.0**8 - 1), DataType.UINT16: (0.0, 2.0**16 - 1), DataType.UINT32: (0.0, 2.0**32 - 1),
    DataType.UINT64: (0.0, 2.0**64 - 1), DataType.FLOAT: (-3.0e38, 3.0e38), DataType.DOUBLE: (-1.0e300, 1.0e300),
    DataType.BOOLEAN: (0.0, 1.0),
}  # fmt: skip


def _no_value(m: Metric) -> Any:
    return None


_BITS = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64, DataType.BOOLEAN: 1}


class Role(IntEnum):
    """What a device metric is for edgeloop."""

    SERIES = 0  # a telemetry series
    ACK = 1  # the answer to a command
    EVENT = 2  # a device event
    OTHER = 3  # known (it was born) but not read: strings, command triggers and arguments, asset type


@dataclass(frozen=True, slots=True)
class BornMetric:
    name: str
    datatype: int
    field: str  # the value field its datatype travels in
    role: Role
    #: a signed integer's width (it travels as the two's complement in an unsigned field); 1 for a Boolean, read
    #: as 0 or 1 since telemetry values are numbers; 0 for a value taken as it is
    bits: int = 0
    #: reads the value from its field (operator.attrgetter: faster than getattr with the name)
    read: Callable[[Metric], Any] = dataclasses.field(default=_no_value, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "read", attrgetter(self.field))


@dataclass(frozen=True, slots=True)
class Plan:
    """How to read a DDATA whose metrics are all series sent by alias, in one order: the common case, read with
    no Python step per metric. A value read as zero may be one that did not come in its field (the metric changed
    its datatype, or is null): `read` gives values, and the caller checks them the slow way unless all are nonzero."""

    names: tuple[str, ...]
    read: Callable[[Sequence[Metric]], list[Any]]


#: the most alias orders a device's plans are kept for (a sender that varies them only loses the fast path)
MAX_PLANS = 16


@dataclass(slots=True)
class DeviceBirth:
    """One device's metrics as its last DBIRTH defined them."""

    meta: DeviceMeta
    by_alias: dict[int, BornMetric] = field(default_factory=dict)
    by_name: dict[str, BornMetric] = field(default_factory=dict)
    plans: dict[tuple[int, ...], Plan | None] = field(default_factory=dict)

    def plan(self, aliases: tuple[int, ...]) -> Plan | None:
        """The plan for metrics sent with these aliases, in this order; None when one is not a plain series.

        >>> birth = DeviceBirth(DeviceMeta("p1", "pump", ()))
        >>> birth.by_alias = {1: BornMetric("flow", DataType.DOUBLE, "double_value", Role.SERIES),
        ...                   2: BornMetric("on", DataType.BOOLEAN, "boolean_value", Role.SERIES, bits=1)}
        >>> birth.plan((1,)).names, birth.plan((1, 1)), birth.plan((1, 2)), birth.plan((3,))
        (('flow',), None, None, None)
        """
        try:
            return self.plans[aliases]  # one lookup (hashing the aliases is most of this call's cost)
        except KeyError:
            pass
        born = [self.by_alias.get(alias) if alias else None for alias in aliases]
        plan = None
        plain = all(b is not None and b.role is Role.SERIES and not b.bits for b in born)
        if aliases and plain and len(set(aliases)) == len(aliases):  # a metric sent twice: the slow way
            series = [b for b in born if b is not None]
            reads = [b.read for b in series]
            one = attrgetter(series[0].field)
            read: Callable[[Sequence[Metric]], list[Any]] = (
                (lambda ms: list(map(one, ms)))
                if len({b.field for b in series}) == 1
                else (lambda ms: [r(m) for r, m in zip(reads, ms, strict=True)])
            )
            plan = Plan(tuple(b.name for b in series), read)
        if len(self.plans) < MAX_PLANS:
            self.plans[aliases] = plan
        return plan


class BirthError(ValueError):
    pass


def read_birth(device: str, payload: Payload, extra: dict[str, str]) -> DeviceBirth:
    """The device's metrics and meta from a DBIRTH; raises BirthError naming what is wrong."""
    birth = DeviceBirth(DeviceMeta(device, DEFAULT_ASSET, ()))
    asset_type = DEFAULT_ASSET
    series: list[MetricSpec] = []
    triggers: list[str] = []
    args: dict[str, list[ArgSpec]] = {}
    for m in payload.metrics:
        if not m.name:
            raise BirthError("a birth metric without a name")
        if m.name in birth.by_name:
            raise BirthError(f"metric {m.name!r} is born twice")
        if m.datatype not in VALUE_FIELD:
            raise BirthError(f"metric {m.name!r} has datatype {m.datatype}, which edgeloop does not read")
        role = _role(m.name, m.datatype)
        born = BornMetric(m.name, m.datatype, VALUE_FIELD[m.datatype], role, _BITS.get(DataType(m.datatype), 0))
        birth.by_name[m.name] = born
        if m.HasField("alias"):
            if m.alias in birth.by_alias:
                raise BirthError(f"alias {m.alias} is given to {birth.by_alias[m.alias].name!r} and {m.name!r}")
            birth.by_alias[m.alias] = born
        props = properties_of(m)
        low, high = _TYPE_RANGE.get(DataType(m.datatype), (0.0, 1.0))
        low, high = _number(props.get("engLow"), low), _number(props.get("engHigh"), high)
        if m.name == ASSET_TYPE and m.WhichOneof("value") == "string_value":
            asset_type = m.string_value or DEFAULT_ASSET
        elif role is Role.SERIES:
            series.append(MetricSpec(m.name, str(props.get("engUnit", "")), low, high))
        elif m.name.startswith(COMMANDS) and m.name not in _ACK:
            command, _, arg = m.name[len(COMMANDS) :].partition("/")
            if not arg and m.datatype == DataType.BOOLEAN:
                triggers.append(command)
            elif arg and m.datatype in NUMERIC:
                args.setdefault(command, []).append(ArgSpec(arg, low, high, str(props.get("engUnit", ""))))
    commands = tuple(CommandSpec(name, tuple(args.get(name, ()))) for name in triggers)
    birth.meta = DeviceMeta(device, asset_type, tuple(series), commands, extra)
    return birth


def _role(name: str, datatype: int) -> Role:
    if name in _ACK:
        return Role.ACK
    if name == EVENT:
        return Role.EVENT
    if name.startswith((COMMANDS, "Properties/")) or datatype not in NUMERIC:
        return Role.OTHER
    return Role.SERIES


def _number(value: float | str | None, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default
