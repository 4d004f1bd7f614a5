"""The protocol adapters a site agent can run on, by name: each is a factory of a `Transport`.

This file holds the Sparkplug B and OPC UA entries; the Modbus TCP entry and the shared plumbing (the
`--protocol` options of `edgeloop agent`, `sim factory` and `demo`, `edgeloop gateway`, `bench protocols`) come
from the Modbus work, and the two are to be merged into this one registry.

- `sparkplug`: `sparkplug_transport(url, site, group=None, host_id="edgeloop")`: edgeloop as the primary host of
  Sparkplug group `group` (default: the site id) on the broker at `url`.
- `opcua`: `opcua_transport(map_file, site)`: an OPC UA server, its security and its nodes, from a YAML map.

`SIM_LINKS` names the links a simulated plant is served through (`PlantRunner(plant, link)`), and
`BENCHES` the functions of `edgeloop bench protocols` that return each protocol's figures as a dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeloop.io.transport import Transport


def _sparkplug(*args: Any, **kwargs: Any) -> Transport:
    from edgeloop.io.sparkplug import sparkplug_transport  # loaded when chosen: protobuf is only needed then

    return sparkplug_transport(*args, **kwargs)


def _opcua(*args: Any, **kwargs: Any) -> Transport:
    from edgeloop.io.opcua import opcua_transport  # asyncua is only loaded when chosen

    return opcua_transport(*args, **kwargs)


PROTOCOLS: dict[str, Callable[..., Transport]] = {"sparkplug": _sparkplug, "opcua": _opcua}

#: (module, name) of each simulated plant's link: `sim` may import `io`, not the other way round
SIM_LINKS: dict[str, tuple[str, str]] = {
    "sparkplug": ("edgeloop.sim.protocols.sparkplug", "SparkplugEdgeNode"),  # (url, group, node, site)
    "opcua": ("edgeloop.sim.protocols.opcua", "FactoryOpcUaServer"),  # (endpoint, site, certificate, users)
}

#: (module, name) of each protocol's bench function, returning a dict of figures
BENCHES: dict[str, tuple[str, str]] = {
    "sparkplug": ("edgeloop.bench.protocols_spb", "bench_sparkplug"),  # (broker url, metrics, seconds, devices)
    "opcua": ("edgeloop.bench.protocols_opcua", "bench_opcua"),  # (devices, metrics, rate_hz, seconds)
}
