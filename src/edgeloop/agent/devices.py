"""The site's devices as the agent knows them: registry, series, holdout arms, fleet priors, lost metas.

A device announced by its retained meta gets series keys (`io/registry.py`), a row in the store, an arm of the
holdout (assigned for all devices of a batch at once), its threshold and sustain in the alarm stage, and, for
series that start fresh, the fleet's prior when there is one (`edgeloop.fleet.share`). A device that sends
telemetry with no meta known for it has its meta asked for again, at most once a minute (the agent's clock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.models import ModelBoard
from edgeloop.io.registry import DeviceRegistry, KnownDevice
from edgeloop.io.store import AgentStore, bucket_of
from edgeloop.learn.alarm import AlarmStage
from edgeloop.learn.base import Learner
from edgeloop.learn.prior import PriorSource, prior_part
from edgeloop.model import DeviceMeta

log = logging.getLogger(__name__)

#: seconds (agent's clock) between two requests for the retained meta of a device that sends telemetry without one
META_ASK_EVERY_S = 60.0
#: most devices whose meta is asked for again (each costs a subscription on the broker)
META_ASK_MAX_DEVICES = 10_000

LogFn = Callable[[str, dict[str, Any], float], object]  # the audit log's append; what it returns is not used


class SiteDevices:
    """One site's devices; see the module's docstring."""

    def __init__(
        self,
        store: AgentStore,
        stage: AlarmStage,
        learner: Learner,
        models: ModelBoard,
        books: LedgerWriter | None,
        log: LogFn,
    ) -> None:
        self.store = store
        self.stage = stage
        self.learner = learner
        self.models = models
        self.books = books
        self.log = log
        self.registry = DeviceRegistry()
        #: the fleet's priors (edgeloop.fleet.share): new series start from them; and a shorter settle with one
        self.prior: PriorSource | None = None
        self.prior_settle_s: float | None = None
        self._unassigned: dict[str, str] = {}  # devices announced in this batch, for the holdout
        self._groups_stale = False  # new series since the learner was last told which keys are one device
        self._meta_missing: set[str] = set()  # devices that sent telemetry without a known meta, since last asked
        self._meta_asked: dict[str, float] = {}  # device -> time its meta was last asked for again

    def on_meta(self, meta: DeviceMeta, now: float) -> None:
        """A device's meta: register it (or its new description); raises ValueError for one the site can't take."""
        device = meta.device
        if self.books is not None and self.books.arm(device) is None:
            self.books.economics.asset(meta.asset_type)  # no economics for it: refuse the device, not the batch
            self._unassigned[device] = meta.asset_type
        before = self.registry.n_series
        known = self.registry.add(meta)
        self.store.write_device(device, meta.asset_type, meta.to_json(), now)
        rule = self.models.on_device(known.index, device, meta.asset_type)
        self.stage.set_rule(meta.asset_type, rule.threshold, rule.sustain)
        self.stage.on_device(known.index, device, meta.asset_type, known.keys)
        self.store_new_series(before, known)

    def restore(self, owns: Callable[[str], bool], now: float) -> int:
        """Register the devices the store knows and the registry does not (none, or fewer, came with a
        checkpoint) and that `owns` says are this agent's: after a restart the broker may hand over a persistent
        session's queued telemetry before the retained metas, and that telemetry would otherwise be quarantined
        as from unknown devices. How many were."""
        restored, offset = 0, 0
        while rows := self.store.read_devices(1000, offset):
            offset += len(rows)
            for row in rows:
                device = str(row["device"])
                if self.registry.get(device) is not None or not owns(device):
                    continue
                try:
                    self.on_meta(DeviceMeta.from_json(row["meta"]), now)
                except (ValueError, TypeError, KeyError) as exc:  # refused now: its retained meta will say why
                    log.warning("stored meta of %s not taken again: %s", device, exc)
                    continue
                restored += 1
        if restored:
            self.assign_holdout(now)
            self.regroup()
        return restored

    def renew(self, device: str) -> tuple[KnownDevice, bool]:
        """The device runs from a new normal: fresh series keys (its learners start afresh); whether any was
        seeded from the fleet's prior."""
        before = self.registry.n_series
        known = self.registry.renew(device)
        seeded = self.store_new_series(before, known)
        self.stage.on_device(known.index, device, known.meta.asset_type, known.keys)
        return known, seeded

    def assign_holdout(self, now: float) -> None:
        """Assign the devices announced since the last call to the holdout's arms, all at once, and log it."""
        if self.books is not None and self._unassigned:
            self.books.assign(self._unassigned, now)
            arms = {d: str(self.books.arm(d)) for d in self._unassigned}
            design = self.books.design
            self.log("holdout", {"seed": design.seed, "fraction": design.fraction, "assigned": arms}, now)
        self._unassigned = {}

    def store_new_series(self, before: int, known: KnownDevice) -> bool:
        """Tell the store (and a device learner) about a device's new series; seed them from the fleet's prior
        when there is one. Returns whether any was seeded."""
        seeded = self._seed(known, range(before, self.registry.n_series))
        self.models.on_series(np.arange(before, self.registry.n_series), known.meta.asset_type)
        self._groups_stale = True
        bucket = bucket_of(known.index)
        rows = [(k, *self.registry.series_name(k), bucket) for k in range(before, self.registry.n_series)]
        self.store.write_series(rows)
        return seeded

    def resume(self, registry: DeviceRegistry, learner: Learner) -> None:
        """Devices and learner of an earlier run (a checkpoint): the store learns this run's series rows."""
        self.registry, self.learner = registry, learner
        rows = [(k, known.meta.device, metric, bucket_of(known.index))
                for known in registry.by_index for metric, k in known.keys.items()]  # fmt: skip
        self.store.write_series(rows)
        self._groups_stale = True

    def regroup(self) -> None:
        """Tell a learner that watches a device's metrics together which keys those are: once per batch of new
        series, since a learner drops what it learnt of devices when the groups change."""
        if not self._groups_stale:
            return
        self._groups_stale = False
        set_groups = getattr(self.learner, "set_groups", None)
        if set_groups is None:
            return
        groups = np.full(self.registry.n_series, -1, dtype=np.int64)  # retired keys: no device's any more
        for device in self.registry.by_index:
            groups[list(device.keys.values())] = device.index
        set_groups(groups)
        self.models.set_groups(groups)

    def _seed(self, known: KnownDevice, new_keys: range) -> bool:
        learner = prior_part(self.learner)
        if self.prior is None or not new_keys or learner is None:
            return False
        priors = self.prior.priors(known.meta.asset_type)
        chosen = []
        for metric, key in known.keys.items():
            spec, prior = known.meta.metric(metric), priors.get(metric)
            if key in new_keys and prior is not None and prior.is_usable(*((spec.low, spec.high) if spec else ())):
                chosen.append((key, prior))
        if chosen:
            learner.seed(np.array([k for k, _ in chosen], dtype=np.int64), [p for _, p in chosen])
        return bool(chosen)

    # -- lost metas ---------------------------------------------------------------------------------------------

    def missing_meta(self, devices: Iterable[str]) -> None:
        """Devices whose telemetry came without a meta known for them."""
        self._meta_missing.update(devices)

    def metas_to_ask_again(self, now: float) -> list[str]:
        """Devices whose telemetry came without a meta known for them, at most once a minute each: their meta
        may have been lost on the way (the agent then quarantines all they send until it comes)."""
        due = [d for d in self._meta_missing if now - self._meta_asked.get(d, -np.inf) >= META_ASK_EVERY_S]
        if len(self._meta_asked) + len(due) > META_ASK_MAX_DEVICES:  # a flood of made-up devices: stop asking
            due = [d for d in due if d in self._meta_asked]
        for device in due:
            self._meta_asked[device] = now
        self._meta_missing.clear()
        return due
