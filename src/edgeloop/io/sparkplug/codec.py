"""Sparkplug B v3.0 at the wire: topics, data types and payloads, through the protobuf code generated from
`schema/sparkplug_b.proto`. No byte is parsed by hand here.

>>> parse_topic("spBv1.0/plant/DDATA/line1/pump-1")
SpbTopic(group='plant', kind='DDATA', node='line1', device='pump-1')
>>> p = payload(3, 1_700_000_000_000, [metric("speed", 0.9, DataType.DOUBLE, alias=1)])
>>> back = decode(p.SerializeToString())
>>> back.seq, back.metrics[0].alias, value_of(back.metrics[0], DataType.DOUBLE)
(3, 1, 0.9)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from google.protobuf.message import DecodeError

from edgeloop.io.sparkplug.schema.sparkplug_b_pb2 import Payload

__all__ = ["NAMESPACE", "DataType", "DecodeError", "Payload", "SpbTopic", "parse_topic"]

NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"
BD_SEQ = "bdSeq"
KINDS = frozenset({"NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD"})

Metric = Payload.Metric


class DataType(IntEnum):
    """The Sparkplug B data types a metric can have (the specification's numbering)."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19


#: which field of the value oneof each data type travels in
VALUE_FIELD: dict[int, str] = {
    **dict.fromkeys((DataType.INT8, DataType.INT16, DataType.INT32), "int_value"),
    **dict.fromkeys((DataType.UINT8, DataType.UINT16, DataType.UINT32), "int_value"),
    **dict.fromkeys((DataType.INT64, DataType.UINT64, DataType.DATETIME), "long_value"),
    DataType.FLOAT: "float_value",
    DataType.DOUBLE: "double_value",
    DataType.BOOLEAN: "boolean_value",
    **dict.fromkeys((DataType.STRING, DataType.TEXT, DataType.UUID), "string_value"),
    **dict.fromkeys((DataType.BYTES, DataType.FILE), "bytes_value"),
}
NUMERIC = frozenset(range(DataType.INT8, DataType.BOOLEAN + 1))
#: signed integers travel as their two's complement in the unsigned field of their width
_SIGNED_BITS = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}


@dataclass(frozen=True, slots=True)
class SpbTopic:
    group: str
    kind: str
    node: str
    device: str | None = None


class SpbTopicError(ValueError):
    pass


def parse_topic(topic: str) -> SpbTopic:
    """`spBv1.0/{group}/{kind}/{node}[/{device}]`; raises SpbTopicError with the reason.

    >>> parse_topic("spBv1.0/plant/NBIRTH/line1")
    SpbTopic(group='plant', kind='NBIRTH', node='line1', device=None)
    >>> try:
    ...     parse_topic("spBv1.0/plant/DDATA/line1")
    ... except SpbTopicError as exc:
    ...     print(exc)
    DDATA topic without a device id
    """
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != NAMESPACE:
        raise SpbTopicError("not a Sparkplug B topic (spBv1.0/group/kind/node[/device])")
    kind = parts[2]
    if kind not in KINDS:
        raise SpbTopicError(f"unknown Sparkplug message type {kind!r}")
    device_kind = kind[0] == "D"
    if device_kind and len(parts) != 5:
        raise SpbTopicError(f"{kind} topic without a device id")
    if not device_kind and len(parts) != 4:
        raise SpbTopicError(f"{kind} topic with a device id")
    return SpbTopic(parts[1], kind, parts[3], parts[4] if device_kind else None)


def topic(group: str, kind: str, node: str, device: str | None = None) -> str:
    return f"{NAMESPACE}/{group}/{kind}/{node}" + ("" if device is None else f"/{device}")


def decode(raw: bytes) -> Payload:
    """A payload from its bytes; raises DecodeError for bytes that are not a Sparkplug B payload."""
    message = Payload()
    message.ParseFromString(raw)
    return message


def value_of(m: Metric, datatype: int) -> float | bool | str | bytes | None:
    """The metric's value read as `datatype`; None when it is null. Raises ValueError when the value travels in a
    field that does not belong to the datatype (the sender changed the metric's type without a rebirth)."""
    if m.is_null:
        return None
    which = m.WhichOneof("value")
    expected = VALUE_FIELD.get(datatype)
    if which != expected:
        got = "no value" if which is None else which
        raise ValueError(f"value in {got}, but its datatype {_name(datatype)} travels in {expected}")
    value: float | bool | str | bytes = getattr(m, which)
    bits = _SIGNED_BITS.get(DataType(datatype)) if datatype in NUMERIC else None
    if bits is not None and isinstance(value, int) and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def set_value(m: Metric, value: float | bool | str | bytes | None, datatype: int) -> None:
    if value is None:
        m.is_null = True
        return
    field = VALUE_FIELD[datatype]
    bits = _SIGNED_BITS.get(DataType(datatype))
    if bits is not None and isinstance(value, int) and value < 0:
        value += 1 << bits
    setattr(m, field, value)


def metric(
    name: str | None,
    value: float | bool | str | bytes | None,
    datatype: DataType,
    alias: int | None = None,
    properties: dict[str, str | float] | None = None,
    with_type: bool = True,
) -> Metric:
    """One metric; births carry the name, the alias and the datatype, data messages only the alias and value."""
    m = Metric()
    if name is not None:
        m.name = name
    if alias is not None:
        m.alias = alias
    if with_type:
        m.datatype = datatype
    set_value(m, value, datatype)
    for key, prop in (properties or {}).items():
        m.properties.keys.append(key)
        pv = m.properties.values.add()
        if isinstance(prop, str):
            pv.type, pv.string_value = DataType.STRING, prop
        else:
            pv.type, pv.double_value = DataType.DOUBLE, float(prop)
    return m


def properties_of(m: Metric) -> dict[str, float | str]:
    """A metric's property set as a plain dict (numbers and strings only; others are left out)."""
    out: dict[str, float | str] = {}
    for key, pv in zip(m.properties.keys, m.properties.values, strict=False):
        which = pv.WhichOneof("value")
        if which is not None and which != "boolean_value":
            out[key] = getattr(pv, which)
    return out


def payload(seq: int | None, timestamp_ms: int, metrics: list[Metric]) -> Payload:
    p = Payload(timestamp=timestamp_ms)
    if seq is not None:
        p.seq = seq
    p.metrics.extend(metrics)
    return p


def _name(datatype: int) -> str:
    try:
        return DataType(datatype).name.title()
    except ValueError:
        return f"type {datatype}"
