"""The protocol options of the CLI refuse what they cannot run, with a reason and exit code 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from edgeloop.cli import app

runner = CliRunner()


def test_agent_over_modbus_needs_a_map() -> None:
    result = runner.invoke(app, ["agent", "--protocol", "modbus"])
    assert result.exit_code == 2
    assert "--protocol modbus needs --map FILE" in result.output


def test_gateway_refuses_a_protocol_it_does_not_know(tmp_path: Path) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text("models: {}\ngateways: []\n")
    result = runner.invoke(app, ["gateway", "bacnet", "--map", str(map_file), "--broker", "mqtt://x", "--site", "s"])
    assert result.exit_code == 2
    assert "no gateway for protocol 'bacnet'" in result.output


def test_sim_factory_over_mqtt_still_needs_a_broker() -> None:
    result = runner.invoke(app, ["sim", "factory", "--quiet"], env={"EDGELOOP_BROKER__URL": ""})
    assert result.exit_code == 2
    assert "--broker is needed for protocol mqtt" in result.output
