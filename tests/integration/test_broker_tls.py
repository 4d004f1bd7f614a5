"""The MQTT client against a real TLS broker with passwords: a Mosquitto of the test's own, on free ports,
with a CA and certificates made here. A right CA and password connect; a wrong password, an unknown CA, or a
missing client certificate where one is required are refused, each with an error that says which."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edgeloop.io.mqtt import BrokerAuth, MqttClient, MqttError
from edgeloop.settings import BrokerSettings

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(), reason="needs mosquitto"
)
PASSWORD = "broker-pass-1"


@dataclass(frozen=True)
class TlsBroker:
    port: int  # TLS and a password
    mtls_port: int  # TLS, a password and a client certificate
    ca: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing of this broker's


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


Key = ec.EllipticCurvePrivateKey


def _cert(
    subject: str, key: Key, issuer: x509.Certificate | None, issuer_key: Key, path: Path, server: bool = False
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(issuer_key, hashes.SHA256())
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    d = tmp_path_factory.mktemp("tls-broker")
    ca_key = _key()
    ca = _cert("edgeloop test CA", ca_key, None, ca_key, d / "ca.pem")
    server = _key()
    server_key = _write_key(server, d / "server.key")
    _cert("localhost", server, ca, ca_key, d / "server.pem", server=True)
    client_key = _key()
    _write_key(client_key, d / "client.key")
    _cert("agent", client_key, ca, ca_key, d / "client.pem")
    other_key = _key()
    _cert("someone else's CA", other_key, None, other_key, d / "other-ca.pem")
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(d / "passwd"), "agent", PASSWORD], check=True)
    port, mtls_port = _free_port(), _free_port()
    (d / "mosquitto.conf").write_text(
        f"user root\nallow_anonymous false\npassword_file {d / 'passwd'}\n"
        f"listener {port} 127.0.0.1\ncafile {d / 'ca.pem'}\ncertfile {d / 'server.pem'}\nkeyfile {server_key}\n"
        f"listener {mtls_port} 127.0.0.1\ncafile {d / 'ca.pem'}\ncertfile {d / 'server.pem'}\nkeyfile {server_key}\n"
        "require_certificate true\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(d / "mosquitto.conf")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", mtls_port)) == 0:
                    break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "mosquitto exited"
            time.sleep(0.05)
        yield TlsBroker(port, mtls_port, d / "ca.pem", d / "client.pem", d / "client.key", d / "other-ca.pem")
    finally:
        proc.terminate()
        proc.wait(10)


async def _round_trip(url: str, auth: BrokerAuth) -> bytes:
    async with MqttClient(url, auth=auth, connect_timeout=5) as client:
        await client.subscribe("edgeloop/v1/tls/check", qos=1)
        await asyncio.sleep(0.1)
        client.publish("edgeloop/v1/tls/check", b"over tls", qos=1)
        async for batch in client.batches(max_wait=2.0):
            return batch[0].payload
    raise AssertionError("no message")


async def test_the_right_ca_and_password_connect(tls_broker: TlsBroker) -> None:
    auth = BrokerAuth(username="agent", password=PASSWORD, ca_file=tls_broker.ca)
    assert await _round_trip(f"mqtts://localhost:{tls_broker.port}", auth) == b"over tls"


async def test_the_password_may_come_in_the_url_and_is_not_shown(tls_broker: TlsBroker) -> None:
    url = f"mqtts://agent:{PASSWORD}@127.0.0.1:{tls_broker.port}"
    client = MqttClient(url, auth=BrokerAuth(ca_file=tls_broker.ca))
    assert PASSWORD not in client.url
    assert await _round_trip(url, BrokerAuth(ca_file=tls_broker.ca)) == b"over tls"


async def test_a_wrong_password_is_refused_as_such(tls_broker: TlsBroker) -> None:
    auth = BrokerAuth(username="agent", password="not-the-password", ca_file=tls_broker.ca)
    with pytest.raises(MqttError, match="wrong user name or password") as caught:
        async with MqttClient(f"mqtts://localhost:{tls_broker.port}", auth=auth, connect_timeout=5):
            pass
    assert "not-the-password" not in str(caught.value)


async def test_a_broker_signed_by_an_unknown_ca_is_refused(tls_broker: TlsBroker) -> None:
    auth = BrokerAuth(username="agent", password=PASSWORD, ca_file=tls_broker.other_ca)
    with pytest.raises(MqttError, match="certificate is not trusted"):
        async with MqttClient(f"mqtts://localhost:{tls_broker.port}", auth=auth, connect_timeout=5):
            pass


async def test_a_broker_that_asks_for_a_client_certificate_gets_one(tls_broker: TlsBroker) -> None:
    with_cert = BrokerAuth("agent", PASSWORD, tls_broker.ca, tls_broker.client_cert, tls_broker.client_key)
    assert await _round_trip(f"mqtts://localhost:{tls_broker.mtls_port}", with_cert) == b"over tls"
    without = BrokerAuth("agent", PASSWORD, tls_broker.ca)
    with pytest.raises(MqttError, match="client certificate"):  # TLS 1.3: refused after the handshake
        async with MqttClient(f"mqtts://localhost:{tls_broker.mtls_port}", auth=without, connect_timeout=2):
            pass


def test_the_settings_carry_the_broker_credentials_without_showing_the_password(tls_broker: TlsBroker) -> None:
    settings = BrokerSettings.model_validate(
        {
            "url": f"mqtts://localhost:{tls_broker.port}",
            "username": "agent",
            "password": PASSWORD,
            "ca_file": str(tls_broker.ca),
        }
    )
    assert PASSWORD not in repr(settings)
    assert BrokerAuth(**settings.credentials()).password == PASSWORD
    with pytest.raises(ValueError, match="mqtts://"):
        BrokerSettings.model_validate({"url": "mqtt://localhost:1883", "ca_file": str(tls_broker.ca)})
