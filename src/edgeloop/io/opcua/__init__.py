"""OPC UA: a server's devices as a source and command sink of the site agent (`OpcUaSource`)."""

from pathlib import Path

from edgeloop.io.opcua.config import OpcUaConfig
from edgeloop.io.opcua.link import OpcUaSource

__all__ = ["OpcUaConfig", "OpcUaSource", "opcua_transport"]


def opcua_transport(map_file: Path, site: str) -> OpcUaSource:
    """The adapter factory that `edgeloop.io.protocols` names `opcua`: the server, security and nodes from YAML."""
    return OpcUaSource(OpcUaConfig.load(map_file), site)
