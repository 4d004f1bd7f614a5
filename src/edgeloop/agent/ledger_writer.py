"""The agent's side of the ROI ledger: it assigns devices to the holdout as they appear, books outcomes as they
arrive, and keeps both in the store (the ledger itself is pure and does no I/O).

On a restart, `LedgerWriter.open` reads back the last holdout record (so every device keeps its arm), the entries
so far (so sequence numbers go on) and the decisions of the last linking window (so outcomes still find the
decision that preceded them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from edgeloop.audit import Kind
from edgeloop.io.store import AgentStore
from edgeloop.ledger import (
    Arm,
    Attribution,
    Draft,
    Entry,
    HoldoutDesign,
    HoldoutRecord,
    Ledger,
    SiteEconomics,
    Usage,
    load_economics,
)
from edgeloop.ledger.entries import DAY
from edgeloop.model import Decision, Outcome
from edgeloop.settings import LedgerSettings

log = logging.getLogger(__name__)


class LedgerWriter:
    """Holdout assignment and attribution for one site, written through to its store."""

    def __init__(
        self,
        store: AgentStore,
        economics: SiteEconomics,
        design: HoldoutDesign,
        window_s: float,
        record: HoldoutRecord | None = None,
        entries: tuple[Entry, ...] = (),
    ) -> None:
        self.store = store
        self.economics = economics
        self.design = design
        self.record = record if record is not None else HoldoutRecord(design.seed, design.fraction, (), design.draw)
        self.attribution = Attribution(economics, self.record, window_s)
        self.ledger = Ledger(entries)
        self._last_day: int | None = None
        #: appends a record to the signed audit log and returns its hash (set by the site agent that has one)
        self.log: Callable[[str, dict[str, Any]], str | None] | None = None

    @classmethod
    def open(cls, store: AgentStore, settings: LedgerSettings) -> LedgerWriter:
        """The site's books as the store left them. Economics errors surface here, before any data flows."""
        design = HoldoutDesign(settings.holdout_seed, settings.holdout_fraction, settings.holdout_draw)
        saved = store.read_holdout()
        record = None if saved is None else HoldoutRecord.from_json(saved)
        drawn = None if record is None else (record.seed, record.fraction, record.draw)
        if record is not None and drawn != (design.seed, design.fraction, design.draw):
            raise ValueError(
                f"the site's holdout was drawn with seed={record.seed}, fraction={record.fraction}, "
                f"draw={record.draw}; the settings say seed={design.seed}, fraction={design.fraction}, "
                f"draw={design.draw}. Changing them would move devices between "
                "arms and spoil the comparison: put the logged values back, or start the site afresh."
            )
        entries = tuple(Entry.from_json(e) for e in store.read_entries())
        books = cls(store, load_economics(settings.economics), design, settings.window_h * 3600, record, entries)
        if entries:
            for decision in store.read_decisions(since_ts=max(e.ts for e in entries) - books.attribution.window_s):
                books.attribution.on_decision(Decision.from_record(decision))
        return books

    # -- holdout ----------------------------------------------------------------------------------------------

    def arm(self, device: str) -> Arm | None:
        return self.record.arm(device)

    def assign(self, devices: Mapping[str, str], now: float) -> None:
        """Assign the devices (device -> asset type) not assigned yet, all at once, and log the new record."""
        new = {d: a for d, a in devices.items() if self.record.get(d) is None}
        if not new:
            return
        for asset_type in set(new.values()):
            self.economics.asset(asset_type)  # an asset type without economics cannot be booked: say so now
        first = len(self.record.assignments)
        self.record = self.design.assign(new, self.record)
        self.attribution.holdout = self.record
        self.store.write_holdout(self.record.logged(first), now)
        held = [d for d in new if self.record.arm(d) is Arm.HOLDOUT]
        log.info("holdout: %d new devices assigned, %d of them held out (%s)", len(new), len(held), ", ".join(held))

    # -- booking ----------------------------------------------------------------------------------------------

    def on_decision(self, decision: Decision) -> None:
        self.attribution.on_decision(decision)

    def on_outcome(self, outcome: Outcome) -> list[Entry]:
        return self._book(self.attribution.on_outcome(outcome))

    def on_usage(self, usage: Usage) -> list[Entry]:
        return self._book(self.attribution.on_usage(usage))

    def on_data(self, ts: float) -> None:
        """Note the data time reached: the report counts device-days over the days the site had data."""
        day = int(ts // DAY)
        if day != self._last_day:
            self._last_day = day
            self.store.write_day(day)

    def _book(self, drafts: list[Draft]) -> list[Entry]:
        entries = self.ledger.extend(drafts)
        if entries:
            rows = [e.to_json() for e in entries]
            audit = None if self.log is None else self.log(Kind.LEDGER, {"entries": rows})
            self.store.write_entries(rows, audit)
        return entries
