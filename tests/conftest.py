"""Shared fixtures: the real brokers the integration tests talk to."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from edgeloop.io.broker import EmbeddedBroker

MOSQUITTO = ("127.0.0.1", 1883)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def embedded_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def mosquitto_url() -> str:
    if not _reachable(*MOSQUITTO):
        pytest.fail("Mosquitto is expected on 127.0.0.1:1883 for the integration tests (see README)")
    return "mqtt://{}:{}".format(*MOSQUITTO)


@pytest.fixture(params=["embedded", "mosquitto"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on the embedded NATS broker and once on Mosquitto."""
    if request.param == "embedded":
        return str(request.getfixturevalue("embedded_broker").url)
    return str(request.getfixturevalue("mosquitto_url"))
