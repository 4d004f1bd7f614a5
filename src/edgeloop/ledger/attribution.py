"""Attribution: which outcomes book which money, linked to which decision.

Rules (every entry names its rule; amounts are negative for costs, positive for value):

- **F1 failure**: a `failure` books its full cost against the device, `-(repair_cost + downtime_h x
  production_value_per_hour)`, downtime from the event's `downtime_s` (else `typical_failure_downtime_h`).
- **M1 maintenance found a failure mode** (a fault kind in the asset type's `failure_modes`, found before it
  failed): `+failure_cost(typical_failure_downtime_h)` as an avoided failure, and `-planned_maintenance_cost`.
  The avoided failure is the one *counterfactual* entry: the measured uplift (`uplift`) leaves it out, so the
  claim can be checked against the holdout.
- **M2 maintenance found another fault** (e.g. a sensor fault): `-planned_maintenance_cost`; no failure avoided,
  no false alarm.
- **M3 maintenance found nothing**: `-planned_maintenance_cost`, and `-false_alarm_cost` when the linked
  decision was raised by the agent (sent, recommended or awaiting approval). Routine maintenance nobody
  linked to a decision is no false alarm.
- **I1 inspection**: `-inspection_cost`; **I2** when it found nothing and the linked decision was raised by the
  agent, also `-false_alarm_cost`.
- **E1 energy**, per device-day: `-energy_kwh x energy_price_per_kwh`, linked to no decision.
- **S1 slowdown**, per device-day: `-slowdown_h x production_value_per_hour` for production lost to a
  commanded lower speed, linked to the decision the agent names.
- Command acks (done, rejected, timeout) and other events book nothing.

Linking: an outcome is linked to the decision the agent named on it when that decision is within the window
before it, else to the latest decision about the device in the window (default 24 h of data time), else to
none. Maintenance is booked when it starts (`maintenance_started`, which says what was found), or at its
`repaired` event when its start was never seen, never both. A `repaired` that ends a failure's repair books
nothing: the failure booked its downtime already.

Entries carry the device's arm (treated or holdout), so both arms are booked by the same rules.

>>> from edgeloop.ledger.economics import load_economics
>>> from edgeloop.ledger.holdout import HoldoutDesign
>>> attribution = Attribution(load_economics(), HoldoutDesign(seed=0).assign({"pump-1": "pump"}))
>>> [(d.rule, d.amount) for d in attribution.on_outcome(Outcome("s", "pump-1", 10.0, "failure",
...                                                               detail={"downtime_s": 7200}))]
[('F1', Decimal('-10000.00'))]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from edgeloop.ledger.economics import AssetEconomics, SiteEconomics
from edgeloop.ledger.entries import DAY, Draft, EntryKind
from edgeloop.ledger.holdout import Arm, HoldoutRecord
from edgeloop.ledger.money import money
from edgeloop.model import Decision, DecisionStatus, Outcome

#: decisions the agent raised with someone or something: an intervention they caused can be a false alarm
RAISED = {DecisionStatus.SENT, DecisionStatus.RECOMMENDED, DecisionStatus.PENDING_APPROVAL}
#: the statuses whose command an entry is booked under (`Entry.action`)
BOOKED_ACTION = {DecisionStatus.SENT, DecisionStatus.HELD_OUT, DecisionStatus.PENDING_APPROVAL}
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Usage:
    """One device-day's energy and commanded slowdown, as the agent measured them."""

    device: str
    day: int  # UTC day index, days since 1970-01-01
    energy_kwh: float
    slowdown_h: float = 0.0  # full-speed-equivalent hours of production lost to a reduced speed
    decision: str | None = None  # the decision that reduced the speed


def outcome_ref(outcome: Outcome) -> str:
    """The outcome's id when it has one, else a reference made of what identifies it."""
    ref = outcome.detail.get("id")
    return str(ref) if ref else f"{outcome.kind}/{outcome.device}/{outcome.ts:.3f}"


class Attribution:
    """Books outcomes as they come. State: recent decisions per device and which maintenance is open.

    The same entries come from replaying the decisions and outcomes in time order (`attribute`), so the
    agent can rebuild this state from its log instead of checkpointing it.
    """

    def __init__(self, economics: SiteEconomics, holdout: HoldoutRecord, window_s: float = 24 * HOUR) -> None:
        self.economics = economics
        self.holdout = holdout  # replace with each new record as devices are added
        self.window_s = window_s
        self._decisions: dict[str, list[Decision]] = {}
        self._open_maintenance: set[str] = set()
        self._failed: set[str] = set()

    def on_decision(self, decision: Decision) -> list[Draft]:
        """Remember a decision for linking; a decision alone books nothing."""
        recent = self._decisions.setdefault(decision.device, [])
        recent.append(decision)
        recent[:] = [d for d in recent if decision.ts - d.ts <= self.window_s]
        return []

    def on_outcome(self, outcome: Outcome) -> list[Draft]:
        detail = outcome.detail
        if outcome.kind == "failure":
            self._failed.add(outcome.device)
            self._open_maintenance.discard(outcome.device)
            hours = float(detail["downtime_s"]) / HOUR if detail.get("downtime_s") is not None else None
            eco = self._asset(outcome.device)
            cost = eco.failure_cost(hours)
            quantity = float(eco.typical_failure_downtime_h) if hours is None else hours
            return [self._draft(outcome, EntryKind.FAILURE, -cost, "F1", quantity)]
        if outcome.kind == "maintenance_started":
            self._open_maintenance.add(outcome.device)
            return self._maintenance(outcome)
        if outcome.kind == "repaired":
            ends_failure = detail.get("reason") == "failure" or (
                detail.get("reason") is None and outcome.device in self._failed
            )
            self._failed.discard(outcome.device)
            if ends_failure or outcome.device in self._open_maintenance:
                self._open_maintenance.discard(outcome.device)
                return []
            return self._maintenance(outcome)
        if outcome.kind == "inspection":
            return self._inspection(outcome)
        return []

    def on_usage(self, usage: Usage) -> list[Draft]:
        eco = self._asset(usage.device)
        asset, arm = self._who(usage.device)
        ts = usage.day * DAY
        drafts = []
        if usage.energy_kwh:
            amount = -money(Decimal(repr(usage.energy_kwh)) * eco.energy_price_per_kwh)
            drafts.append(
                Draft(usage.device, asset, arm, ts, EntryKind.ENERGY, amount, "E1", quantity=usage.energy_kwh)
            )
        if usage.slowdown_h:
            amount = -money(Decimal(repr(usage.slowdown_h)) * eco.production_value_per_hour)
            drafts.append(
                Draft(usage.device, asset, arm, ts, EntryKind.SLOWDOWN, amount, "S1", decision=usage.decision,
                      action="reduce_speed" if usage.decision else None, quantity=usage.slowdown_h)
            )  # fmt: skip
        return drafts

    # -- rules ------------------------------------------------------------------------------------------------

    def _maintenance(self, outcome: Outcome) -> list[Draft]:
        eco = self._asset(outcome.device)
        found = outcome.detail.get("found")
        cost = self._draft(outcome, EntryKind.MAINTENANCE, -eco.planned_maintenance_cost, "M", 0.0)
        if found in eco.failure_modes:
            avoided = eco.failure_cost()
            note = f"found {found} before it failed"
            hours = float(eco.typical_failure_downtime_h)
            avoided_entry = self._draft(outcome, EntryKind.AVOIDED_FAILURE, avoided, "M1", hours, note)
            return [avoided_entry, replace(cost, rule="M1", note=note)]
        if found:
            return [replace(cost, rule="M2", note=f"found {found}, not a failure mode")]
        drafts = [replace(cost, rule="M3", note="found nothing")]
        if self._raised(outcome):
            drafts.append(
                self._draft(outcome, EntryKind.FALSE_ALARM, -eco.false_alarm_cost, "M3", 0.0, "found nothing")
            )
        return drafts

    def _inspection(self, outcome: Outcome) -> list[Draft]:
        eco = self._asset(outcome.device)
        drafts = [self._draft(outcome, EntryKind.INSPECTION, -eco.inspection_cost, "I1", 0.0)]
        if not outcome.detail.get("found") and self._raised(outcome):
            drafts.append(
                self._draft(outcome, EntryKind.FALSE_ALARM, -eco.false_alarm_cost, "I2", 0.0, "found nothing")
            )
        return drafts

    # -- linking ----------------------------------------------------------------------------------------------

    def _link(self, outcome: Outcome) -> tuple[str | None, Decision | None]:
        recent = [d for d in self._decisions.get(outcome.device, []) if 0 <= outcome.ts - d.ts <= self.window_s]
        if outcome.decision is not None:
            named = next((d for d in recent if d.id == outcome.decision), None)
            if named is not None:
                return named.id, named
        if recent:
            latest = max(recent, key=lambda d: d.ts)
            return latest.id, latest
        return None, None

    def _raised(self, outcome: Outcome) -> bool:
        _, decision = self._link(outcome)
        return decision is not None and decision.status in RAISED

    def _draft(
        self, outcome: Outcome, kind: EntryKind, amount: Decimal, rule: str, quantity: float, note: str = ""
    ) -> Draft:
        asset, arm = self._who(outcome.device)
        ref, decision = self._link(outcome)
        # the command sent (or, for the holdout, that would have been): a blocked or a merely recommended
        # decision proposes one too, but nothing was done by it
        done = decision is not None and decision.action is not None and decision.status in BOOKED_ACTION
        action = decision.action.name if done and decision is not None and decision.action is not None else None
        if decision is not None and decision.status is DecisionStatus.HELD_OUT:
            note = f"{note}; held out: {action or 'nothing'} not sent".lstrip("; ")
        return Draft(outcome.device, asset, arm, outcome.ts, kind, money(amount), rule, ref, outcome_ref(outcome),
                     action, quantity, note)  # fmt: skip

    def _who(self, device: str) -> tuple[str, Arm]:
        assignment = self.holdout.get(device)
        if assignment is None:
            raise ValueError(f"device {device!r} has no holdout assignment: assign it before booking its outcomes")
        return assignment.asset_type, assignment.arm

    def _asset(self, device: str) -> AssetEconomics:
        return self.economics.asset(self._who(device)[0])


def attribute(
    economics: SiteEconomics,
    holdout: HoldoutRecord,
    decisions: Iterable[Decision],
    outcomes: Iterable[Outcome],
    usage: Iterable[Usage] = (),
    window_s: float = 24 * HOUR,
) -> list[Draft]:
    """Replay decisions and outcomes in data-time order (a decision before an outcome at the same time)."""
    attribution = Attribution(economics, holdout, window_s)
    events: list[tuple[float, int, int, Decision | Outcome]] = [(d.ts, 0, i, d) for i, d in enumerate(decisions)]
    events += [(o.ts, 1, i, o) for i, o in enumerate(outcomes)]
    drafts: list[Draft] = []
    for _, _, _, event in sorted(events, key=lambda e: e[:3]):
        if isinstance(event, Decision):
            attribution.on_decision(event)
        else:
            drafts += attribution.on_outcome(event)
    for u in usage:
        drafts += attribution.on_usage(u)
    return drafts
