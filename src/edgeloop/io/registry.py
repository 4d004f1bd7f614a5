"""Devices known from their retained `meta`, and the dense integer keys of their series (device, metric).

Learners keep state in arrays indexed by series key. A device that comes back from a repair gets fresh keys
(`renew`), so its learners start again from its new normal instead of flagging the change the repair made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from edgeloop.model import DeviceMeta
from edgeloop.model.arrays import grow


@dataclass(slots=True)
class KnownDevice:
    index: int
    meta: DeviceMeta
    keys: dict[str, int] = field(default_factory=dict)  # metric name -> current series key
    #: the keys of typed items' name tuples (`transport.Typed`), kept by the decoder; emptied when keys change
    typed: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    #: the metric names of the device's last JSON message, in their order, and their keys (kept by the decoder:
    #: a device sends the same names message after message); emptied when keys change
    names: tuple[str, ...] = ()
    names_keys: tuple[int, ...] = ()


class DeviceRegistry:
    """
    >>> from edgeloop.model import MetricSpec
    >>> reg = DeviceRegistry()
    >>> dev = reg.add(DeviceMeta("p1", "pump", (MetricSpec("flow", "m3/h", 0, 100),)))
    >>> dev.keys, reg.series_name(0)
    ({'flow': 0}, ('p1', 'flow'))
    >>> reg.renew("p1").keys
    {'flow': 1}
    """

    def __init__(self) -> None:
        self.devices: dict[str, KnownDevice] = {}
        self.by_index: list[KnownDevice] = []
        self._series: list[tuple[str, str]] = []
        self.low: NDArray[np.float64] = np.zeros(0)
        self.high: NDArray[np.float64] = np.zeros(0)
        self.device_of: NDArray[np.int64] = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.devices)

    @property
    def n_series(self) -> int:
        return len(self._series)

    def get(self, device: str) -> KnownDevice | None:
        return self.devices.get(device)

    def add(self, meta: DeviceMeta) -> KnownDevice:
        """Register a device or update its meta; metrics it no longer lists keep their keys, unused."""
        known = self.devices.get(meta.device)
        if known is None:
            known = KnownDevice(len(self.by_index), meta)
            self.devices[meta.device] = known
            self.by_index.append(known)
        known.meta = meta
        known.typed.clear()
        known.names = known.names_keys = ()
        for spec in meta.metrics:
            key = known.keys.get(spec.name)
            if key is None:
                key = self._new_key(known, spec.name)
                known.keys[spec.name] = key
            self.low[key], self.high[key] = spec.low, spec.high
        return known

    def renew(self, device: str) -> KnownDevice:
        known = self.devices[device]
        known.typed.clear()
        known.names = known.names_keys = ()
        for metric in list(known.keys):
            spec = known.meta.metric(metric)
            key = self._new_key(known, metric)
            known.keys[metric] = key
            if spec is not None:
                self.low[key], self.high[key] = spec.low, spec.high
        return known

    def series_name(self, key: int) -> tuple[str, str]:
        return self._series[key]

    def _new_key(self, known: KnownDevice, metric: str) -> int:
        key = len(self._series)
        self._series.append((known.meta.device, metric))
        self.low = grow(self.low, key + 1, -np.inf)
        self.high = grow(self.high, key + 1, np.inf)
        self.device_of = grow(self.device_of, key + 1, -1)
        self.low[key], self.high[key], self.device_of[key] = -np.inf, np.inf, known.index
        return key
