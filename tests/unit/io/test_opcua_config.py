"""The OPC UA source's settings: security needs the server's certificate, a map or a browse is required."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeloop.io.opcua import OpcUaConfig

URL = "opc.tcp://127.0.0.1:4840/edgeloop/"
MAP = {"p1": {"asset_type": "pump", "metrics": {"speed": {"node": "ns=2;s=p1.speed", "low": 0, "high": 1.2}},
              "commands": {"reduce_speed": {"object": "ns=2;s=p1", "method": "ns=2;s=p1.reduce_speed",
                                            "args": {"factor": {"low": 0.3, "high": 1.0}}},
                           "stop": {"write": "ns=2;s=p1.run", "value": 0}}}}  # fmt: skip


def test_a_map_gives_the_devices_meta_with_ranges_and_command_envelopes() -> None:
    meta = OpcUaConfig.from_dict({"url": URL, "devices": MAP}).devices["p1"].meta(URL).to_json()
    assert meta["asset_type"] == "pump"
    assert meta["metrics"] == {"speed": {"unit": "", "low": 0.0, "high": 1.2}}
    assert meta["commands"]["reduce_speed"]["args"] == {"factor": {"low": 0.3, "high": 1.0, "unit": ""}}
    assert meta["extra"] == {"protocol": "opcua", "server": URL}


def test_basic256sha256_needs_the_servers_certificate() -> None:
    with pytest.raises(ValueError, match="needs the server's certificate"):
        OpcUaConfig.from_dict({"url": URL, "devices": MAP, "security": "Basic256Sha256_SignAndEncrypt"})
    cfg = OpcUaConfig.from_dict({"url": URL, "devices": MAP, "security": "Basic256Sha256_Sign",
                                 "server_certificate": "server.der"})  # fmt: skip
    assert cfg.server_certificate == Path("server.der")


@pytest.mark.parametrize(
    ("doc", "error"),
    [({"url": URL}, "either a device map"), ({"url": URL, "devices": MAP, "security": "Basic128"}, "not one of")],
)
def test_a_config_without_nodes_or_with_an_unknown_policy_is_refused(doc: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        OpcUaConfig.from_dict(doc)
