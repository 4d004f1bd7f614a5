"""`edgeloop broker cluster --hosts`: one config per machine, each routing to all three, MQTT replicated x3."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from edgeloop.cli import app


def test_hosts_write_one_config_per_machine_with_routes_to_all(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["broker", "cluster", "--hosts", "a.plant,b.plant,c.plant", "--dir",
                                      str(tmp_path)])  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "mqtt://a.plant:1883,mqtt://b.plant:1883,mqtt://c.plant:1883"
    configs = sorted(p.name for p in tmp_path.glob("*.conf"))
    assert configs == ["node-1.conf", "node-2.conf", "node-3.conf"]
    second = (tmp_path / "node-2.conf").read_text()
    assert "server_name: n2" in second
    assert "nats-route://a.plant:6222, nats-route://b.plant:6222, nats-route://c.plant:6222" in second
    assert "stream_replicas: 3" in second
    assert "listen: 0.0.0.0:1883" in second
