"""The Modbus register map: data types and orders, coalesced reads, and maps that are refused with a reason."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import orjson
import pytest

from edgeloop.io.inbound import InboundSplitter, bad_input_event
from edgeloop.io.modbus.adapter import ModbusAdapter
from edgeloop.io.modbus.map import MAX_REGISTERS, MapError, Metric, Model, Register, load_map, plan_reads
from edgeloop.io.modbus.poll import Reading
from edgeloop.io.protocols import PROTOCOLS, Link, ProtocolError, open_protocol
from edgeloop.io.transport import Message


@pytest.mark.parametrize(
    ("kind", "value"), [("int16", -123.0), ("uint16", 65000.0), ("int32", -70000.0), ("uint32", 4e9),
                        ("float32", 3.5), ("float64", 1_700_000_000.123)],
)  # fmt: skip
@pytest.mark.parametrize("byte_order", ["big", "little"])
@pytest.mark.parametrize("word_order", ["big", "little"])
def test_every_type_and_order_reads_back_what_was_written(kind: str, value: float, byte_order: str,
                                                           word_order: str) -> None:  # fmt: skip
    register = Register.model_validate({"function": "holding", "address": 0, "type": kind,
                                        "byte_order": byte_order, "word_order": word_order})  # fmt: skip
    assert register.decode(register.encode(value)) == pytest.approx(value)


def test_byte_order_swaps_the_bytes_of_each_register() -> None:
    big = Register(function="input", address=0, type="uint16")
    little = Register(function="input", address=0, type="uint16", byte_order="little")
    assert big.decode([0x0102]) == 258
    assert little.decode([0x0201]) == 258


def test_a_value_that_does_not_fit_its_register_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit a uint16"):
        Register(function="holding", address=0, type="uint16").encode(70_000)


def test_reads_are_coalesced_up_to_125_registers() -> None:
    metrics = {f"m{i}": Metric(function="holding", address=i, range=(0, 1)) for i in range(300)}
    reads = plan_reads(Model(asset_type="x", metrics=metrics))
    assert [r.count for r in reads] == [MAX_REGISTERS, MAX_REGISTERS, 50]
    assert sum(len(r.points) for r in reads) == 300


def test_a_gap_wider_than_max_gap_splits_a_read_and_functions_never_mix() -> None:
    metrics = {"a": Metric(function="input", address=0, range=(0, 1)),
               "b": Metric(function="input", address=20, range=(0, 1)),
               "c": Metric(function="holding", address=1, range=(0, 1))}  # fmt: skip
    reads = plan_reads(Model(asset_type="x", max_gap=8, metrics=metrics))
    assert [(r.function, r.address, r.count) for r in reads] == [("holding", 1, 1), ("input", 0, 1), ("input", 20, 1)]


def test_the_shipped_factory_map_loads_and_reads_a_pump_in_one_request() -> None:
    path = Path(str(resources.files("edgeloop.io.modbus").joinpath("maps/factory.yaml")))
    register_map = load_map(path)
    assert len(register_map.gateways[0].devices) == 50
    assert [(r.function, r.address, r.count) for r in plan_reads(register_map.models["pump"])] == [("input", 0, 13)]
    meta = register_map.meta(register_map.gateways[0].devices[0], register_map.gateways[0])
    assert meta.device == "pump-001"
    assert meta.commands[0].check_args({"factor": 0.2}) == "factor=0.2 outside [0.3, 1.0]"


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("models: {}\ngateways: [{host: h, devices: [{unit: 1, id: p1, model: pump}]}]", "unknown model 'pump'"),
        ("models: {p: {asset_type: p, metrics: {a: {function: input, address: 0, range: [5, 1]}}}}\ngateways: []",
         "empty range"),
        ("models: {p: {asset_type: p, metrics: {}, commands: {go: {write: {function: input, address: 0}, value: 1}}}}"
         "\ngateways: []", "a command writes a holding register or a coil"),
        ("models: {}\ngateways: [{host: h, devices: [{unit: 1, id: 'Pump 1', model: p}]}]", "bad device id"),
    ],
)  # fmt: skip
def test_a_bad_map_is_refused_with_its_reason(tmp_path: Path, text: str, fault: str) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(MapError, match=fault):
        load_map(path)


def test_a_bad_input_event_is_quarantined_with_the_adapters_reason_and_raw_bytes() -> None:
    payload = bad_input_event("modbus garbled answer: input 0-11 of unit 1", b"\xde\xad", ts=1.0)
    inbound = InboundSplitter("s1")([Message("edgeloop/v1/s1/p1/event", payload, False)], now=2.0)
    [rejected] = inbound.rejected
    assert (rejected.device, rejected.reason, rejected.raw) == ("p1", "modbus garbled answer: input 0-11 of unit 1",
                                                               b"\xde\xad")  # fmt: skip
    assert inbound.controls == []


async def test_an_unknown_protocol_or_a_missing_map_is_refused() -> None:
    assert {"mqtt", "modbus"} <= set(PROTOCOLS)
    with pytest.raises(ProtocolError, match="unknown protocol 'bacnet'"):
        open_protocol("bacnet", Link("s1"))
    with pytest.raises(ProtocolError, match="needs a register map"):
        async with open_protocol("modbus", Link("s1")):
            pass


def test_status_register_changes_become_device_events_with_what_maintenance_found() -> None:
    path = Path(str(resources.files("edgeloop.io.modbus").joinpath("maps/factory.yaml")))
    register_map = load_map(path)
    adapter = ModbusAdapter("s1", register_map, clock=lambda: 100.0)
    ref = register_map.gateways[0].devices[0]
    for status in (0, 4, 0, 1, 0):  # running, maintenance that found a fault, running, failed, running
        adapter._on_reading(Reading(ref, {"speed": 0.9}, stamp=None, status=status))
    events = [orjson.loads(m.payload) for m in adapter.drain(100) if m.topic.endswith("/event")]
    assert [(e["kind"], e.get("found"), e.get("reason")) for e in events] == [
        ("maintenance_started", True, None), ("repaired", True, "maintenance"), ("failure", None, None),
        ("repaired", None, "failure"),
    ]  # fmt: skip
