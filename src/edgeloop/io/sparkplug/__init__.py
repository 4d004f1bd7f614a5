"""Sparkplug B v3.0: edgeloop as a primary host application (`SparkplugHost`), and the factory's edge node."""

from edgeloop.io.sparkplug.host import HostSession
from edgeloop.io.sparkplug.link import SparkplugHost

__all__ = ["HostSession", "SparkplugHost", "sparkplug_transport"]


def sparkplug_transport(url: str, site: str, group: str | None = None, host_id: str | None = None) -> SparkplugHost:
    """The adapter factory that `edgeloop.io.protocols` names `sparkplug`: the group defaults to the site id, the
    host id to `edgeloop-{site}`, so that the agents and gateways of several sites on one broker each keep a
    STATE (and an MQTT client id) of their own."""
    return SparkplugHost(url, site, group or site, host_id or f"edgeloop-{site}")
