"""Where an MQTT broker is and how to log in to it: broker URLs (one node or a cluster's list), and the TLS files
and credentials (`BrokerAuth`). Kept apart from the client (`io/mqtt.py`), which re-exports them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["BrokerAddress", "BrokerAuth", "parse_broker", "parse_brokers", "parse_url", "shown_url"]


@dataclass(frozen=True, slots=True)
class BrokerAuth:
    """How this client proves who it is and whom it trusts: a user name and password, the CA file that signed
    the broker's certificate (else the system's CAs), and a client certificate with its key (PEM files)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def tls_context(self) -> ssl.SSLContext:
        """A client TLS context that checks the broker's certificate and host name."""
        context = ssl.create_default_context(cafile=None if self.ca_file is None else str(self.ca_file))
        if self.cert_file is not None:
            context.load_cert_chain(str(self.cert_file), None if self.key_file is None else str(self.key_file))
        return context


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_broker(url: str) -> BrokerAddress:
    """
    >>> parse_broker("mqtts://agent:s3cret@broker.plant:8884")
    BrokerAddress(host='broker.plant', port=8884, tls=True, username='agent')
    >>> parse_broker("mqtts://broker.plant").port, parse_broker("broker.local").port
    (8883, 1883)
    """
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
        raise ValueError(f"unsupported broker URL scheme {parts.scheme!r} (use mqtt://host:port or mqtts://host:port)")
    tls = parts.scheme in ("mqtts", "ssl")
    user = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    return BrokerAddress(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls, user, password)


def parse_brokers(urls: str) -> list[BrokerAddress]:
    """A comma-separated list of broker URLs (the nodes of one cluster), all with or all without TLS.

    >>> [(a.host, a.port) for a in parse_brokers("mqtt://a:1883, mqtt://b:1884")]
    [('a', 1883), ('b', 1884)]
    """
    addresses = [parse_broker(u.strip()) for u in urls.split(",") if u.strip()]
    if not addresses:
        raise ValueError("no broker URL given")
    if len({a.tls for a in addresses}) > 1:
        raise ValueError("the broker URLs of one list must all be mqtts:// or all mqtt://")
    return addresses


def parse_url(url: str) -> tuple[str, int]:
    """
    >>> parse_url("mqtt://127.0.0.1:1883")
    ('127.0.0.1', 1883)
    >>> parse_url("broker.local")
    ('broker.local', 1883)
    """
    address = parse_broker(url)
    return address.host, address.port


def shown_url(url: str) -> str:
    """The URL without its password, for messages and logs.

    >>> shown_url("mqtts://agent:s3cret@broker.plant:8884")
    'mqtts://agent@broker.plant:8884'
    """
    if "," in url:
        return ",".join(shown_url(u.strip()) for u in url.split(","))
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@", 1)).geturl()
