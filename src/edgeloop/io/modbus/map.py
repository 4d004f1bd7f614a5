"""A Modbus register map: device models (where each metric and command lives) and the gateways that serve them.

```yaml
models:
  pump:
    asset_type: pump
    poll_s: 1.0
    timestamp: {function: input, address: 0, type: float64}     # optional: the sample's time, unix s
    metrics:
      current: {function: input, address: 4, type: uint16, scale: 0.01, unit: A, range: [0, 200]}
    commands:
      reduce_speed: {write: {function: holding, address: 0, type: uint16, scale: 0.001}, arg: factor,
                     range: [0.3, 1.0]}
      stop: {write: {function: coil, address: 0}, value: 0}
gateways:
  - {host: 127.0.0.1, port: 5020, devices: [{unit: 1, id: pump-001, model: pump}]}
```

Values are `raw * scale + offset`, raw decoded by pymodbus' converters from the registers in the declared byte
and word order. `plan_reads` coalesces a model's points into the fewest requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pymodbus.client.mixin import ModbusClientMixin

from edgeloop.model import ArgSpec, CommandSpec, DeviceMeta, MetricSpec, is_valid_id

Function = Literal["holding", "input", "coil", "discrete"]
DataType = Literal["int16", "uint16", "int32", "uint32", "float32", "float64"]
Order = Literal["big", "little"]
MAX_REGISTERS = 125  # per read request, by the Modbus spec
MAX_BITS = 2000
DT = ModbusClientMixin.DATATYPE
_TYPES = {"int16": DT.INT16, "uint16": DT.UINT16, "int32": DT.INT32, "uint32": DT.UINT32,
          "float32": DT.FLOAT32, "float64": DT.FLOAT64}  # fmt: skip
WORDS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4}


class MapError(ValueError):
    """A map file that cannot be used; the message names the file and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Register(_Strict):
    """Where one value lives and how its registers turn into a number."""

    function: Function
    address: int = Field(ge=0, le=65535)
    type: DataType = "uint16"
    byte_order: Order = "big"
    word_order: Order = "big"
    scale: float = 1.0
    offset: float = 0.0

    @property
    def bits(self) -> bool:
        return self.function in ("coil", "discrete")

    @property
    def words(self) -> int:
        return 1 if self.bits else WORDS[self.type]

    def decode(self, registers: list[int]) -> float:
        """Engineering value from this point's registers (or one bit as 0/1).

        >>> Register(function="holding", address=0, type="int16", scale=0.1).decode([65526])
        -1.0
        >>> Register(function="input", address=0, type="float32", word_order="little").decode([0xF5C3, 0x4048])
        3.14
        """
        if self.bits:
            return float(registers[0])
        if self.byte_order == "little":
            registers = [((r & 0xFF) << 8) | (r >> 8) for r in registers]
        raw = ModbusClientMixin.convert_from_registers(registers, _TYPES[self.type], word_order=self.word_order)
        assert isinstance(raw, int | float)
        value = raw * self.scale + self.offset
        return round(value, 6) if math.isfinite(value) else value

    def encode(self, value: float) -> list[int]:
        """Registers that decode to `value` (rounded to the register's resolution); raises ValueError when the raw
        value does not fit the data type.

        >>> r = Register(function="holding", address=0, type="uint16", scale=0.001)
        >>> r.encode(0.7), r.decode(r.encode(0.7))
        ([700], 0.7)
        """
        raw = (value - self.offset) / self.scale
        number: int | float = raw if self.type.startswith("float") else round(raw)
        try:
            registers = ModbusClientMixin.convert_to_registers(number, _TYPES[self.type], word_order=self.word_order)
        except Exception as exc:  # pymodbus raises struct.error or its own for values that do not fit
            raise ValueError(f"{value} does not fit a {self.type} register ({exc})") from None
        if self.byte_order == "little":
            registers = [((r & 0xFF) << 8) | (r >> 8) for r in registers]
        return registers


class Metric(Register):
    unit: str = ""
    range: tuple[float, float]

    @field_validator("range")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError(f"empty range {list(value)}")
        return value


class Command(_Strict):
    """A command is one write: the argument `arg` (within `range`) or the fixed `value`; its read-back is the ack."""

    write: Register
    arg: str | None = None
    range: tuple[float, float] | None = None
    unit: str = ""
    value: float | None = None
    initial: float | None = None  # what the register holds before any command (a simulator serves it)
    description: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> Command:
        if self.write.function not in ("holding", "coil"):
            raise ValueError("a command writes a holding register or a coil")
        if (self.arg is None) == (self.value is None):
            raise ValueError("a command has either an 'arg' (with its 'range') or a fixed 'value'")
        if self.arg is not None and self.range is None:
            raise ValueError(f"argument {self.arg!r} needs a 'range' (its envelope)")
        return self


#: the name of a read's point that is the timestamp register, and of the one that is the status register
TIMESTAMP, STATUS = "", "@status"
#: what a status register's values mean, unless the map says otherwise
State = Literal["running", "failed", "maintenance", "maintenance_found", "stopped"]
#: `maintenance_found`: under maintenance that found a fault (what grades the alarm that sent it)
STATES: dict[int, State] = {0: "running", 1: "failed", 2: "maintenance", 3: "stopped", 4: "maintenance_found"}


class Model(_Strict):
    asset_type: str
    poll_s: float = Field(default=1.0, gt=0)
    max_gap: int = Field(default=8, ge=0)  # unused registers a coalesced read may span
    timestamp: Register | None = None
    status: Register | None = None  # the device's state; its changes become device events
    states: dict[int, State] = dict(STATES)
    metrics: dict[str, Metric]
    commands: dict[str, Command] = {}


class DeviceRef(_Strict):
    unit: int = Field(ge=0, le=255)
    id: str
    model: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not is_valid_id(value):
            raise ValueError(f"bad device id {value!r} (use [a-z0-9][a-z0-9_-]{{0,63}})")
        return value


class Gateway(_Strict):
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    timeout_s: float = Field(default=1.0, gt=0)
    offline_after: int = Field(default=3, ge=1)  # failed polls in a row before a device is offline
    connections: int = Field(default=1, ge=1, le=32)  # TCP connections polled in parallel (if the gateway allows)
    devices: list[DeviceRef]

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


class RegisterMap(_Strict):
    models: dict[str, Model]
    gateways: list[Gateway]

    @model_validator(mode="after")
    def _refs(self) -> RegisterMap:
        seen: set[str] = set()
        for gateway in self.gateways:
            for ref in gateway.devices:
                if ref.model not in self.models:
                    raise ValueError(f"device {ref.id!r} names unknown model {ref.model!r}")
                if ref.id in seen:
                    raise ValueError(f"device {ref.id!r} appears twice")
                seen.add(ref.id)
        return self

    def meta(self, ref: DeviceRef, gateway: Gateway) -> DeviceMeta:
        """The v1 meta of one device: its model's metrics with their ranges, and its commands' envelopes."""
        model = self.models[ref.model]
        metrics = tuple(MetricSpec(name, m.unit, m.range[0], m.range[1]) for name, m in model.metrics.items())
        commands = tuple(
            CommandSpec(name, () if c.arg is None or c.range is None else (ArgSpec(c.arg, *c.range, c.unit),),
                        c.description)
            for name, c in model.commands.items()
        )  # fmt: skip
        extra = {"protocol": "modbus", "gateway": gateway.name, "unit": ref.unit, "model": ref.model}
        return DeviceMeta(ref.id, model.asset_type, metrics, commands, extra)


def load_map(path: Path) -> RegisterMap:
    """Read and check a map file; raises MapError naming the file and the fault."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RegisterMap.model_validate(doc)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise MapError(f"Modbus map {path}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Read:
    """One coalesced read request, and which points' values sit where in its answer."""

    function: Function
    address: int
    count: int
    points: tuple[tuple[str, Register], ...]  # (name, register); names TIMESTAMP and STATUS are those registers


def plan_reads(model: Model) -> list[Read]:
    """The fewest requests that read every point of a model: per function, points sorted by address, joined while
    the request stays within 125 registers (2,000 bits) and the gap between points within `max_gap`.

    >>> m = Model(asset_type="pump", metrics={
    ...     "a": Metric(function="input", address=0, type="float32", range=(0, 1)),
    ...     "b": Metric(function="input", address=4, range=(0, 1)),
    ...     "c": Metric(function="input", address=200, range=(0, 1))})
    >>> [(r.function, r.address, r.count, [n for n, _ in r.points]) for r in plan_reads(m)]
    [('input', 0, 5, ['a', 'b']), ('input', 200, 1, ['c'])]
    """
    points: list[tuple[str, Register]] = [(name, metric) for name, metric in model.metrics.items()]
    if model.timestamp is not None:
        points.append((TIMESTAMP, model.timestamp))
    if model.status is not None:
        points.append((STATUS, model.status))
    reads: list[Read] = []
    for function in ("holding", "input", "coil", "discrete"):
        mine = sorted((p for p in points if p[1].function == function), key=lambda p: p[1].address)
        limit = MAX_BITS if function in ("coil", "discrete") else MAX_REGISTERS
        group: list[tuple[str, Register]] = []
        start = end = 0
        for name, register in mine:
            stop = register.address + register.words
            if group and (register.address - end > model.max_gap or stop - start > limit):
                reads.append(Read(function, start, end - start, tuple(group)))
                group = []
            if not group:
                start = register.address
            group.append((name, register))
            end = max(end if len(group) > 1 else stop, stop)
        if group:
            reads.append(Read(function, start, end - start, tuple(group)))
    return reads
