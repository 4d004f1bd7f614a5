"""The models of a site, per asset type: challengers score in the shadow, outcomes grade all, the best leads.

Each asset type has a **champion** (the learner whose alarms become decisions: the selection's choice, else
`agent.learner`) and up to two **challengers** (`agent.challengers`). All of them score every point of the type
and learn from it; a challenger's *would-be decisions* (the agent's own rule: threshold, `sustain` samples in a
row, cooldown) are stored in the `shadow` table and logged (`shadow_decision`), never acted on.

With no selection and no challengers the board is **plain**: the agent's own learner is the champion of every
asset type (`scorer` is that learner itself, not a composite), its rule is the agent's threshold and sustain,
`shadow` makes no decisions, `label` never promotes and `scaled` leaves a threshold as it is.

Labelled outcomes grade every model of the device's asset type: a positive label (operator verdict
`true_fault`, a failure, maintenance that found a fault) is a true alarm for each model that alarmed on the
device within `label_window_s` before it, and a miss for each that did not; a negative one (`false_alarm`,
maintenance that found nothing) is a false alarm for each model that alarmed. A label of the same sign on the
same device within the window is the same episode and counts once. A model's grade is its F1 =
2 TP / (2 TP + FP + FN). With at least `promote_min_labels` labels on the type, a challenger whose F1 beats the
champion's by `promote_margin` is **promoted**: its learner (state and all) scores the type's decisions from
then on, its threshold and sustain apply, and the old champion becomes a challenger. The promotion is returned
for the agent to log and store; the champion per asset type survives restarts through the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

from edgeloop.learn.alarm.runs import run_lengths
from edgeloop.learn.base import FloatArray, IntArray, Learner, grow
from edgeloop.learn.catalog import agent_learner
from edgeloop.learn.routed import PerAssetType
from edgeloop.learn.selection import RUNNERS_UP, Selection, load_selection
from edgeloop.settings import AgentSettings


@dataclass(slots=True)
class Standing:
    """One model on one asset type: its learner's name, alarm rule and grade."""

    learner: str
    threshold: float
    sustain: int
    true_alarms: int = 0
    false_alarms: int = 0
    misses: int = 0

    @property
    def f1(self) -> float:
        tp = 2 * self.true_alarms
        return tp / (tp + self.false_alarms + self.misses) if tp else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"learner": self.learner, "threshold": self.threshold, "sustain": self.sustain, "f1": round(self.f1, 4),
                "true_alarms": self.true_alarms, "false_alarms": self.false_alarms, "misses": self.misses}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ShadowDecision:
    device: str
    asset_type: str
    learner: str
    ts: float
    score: float


class ModelBoard:
    """The models of every asset type. `champion` runs each type's champion, `slots[i]` each type's i-th
    challenger; `scorer` is the learner whose scores become decisions.

    `learner` is the agent's learner: the champion of every asset type on a plain board, else of keys of no
    announced type. `name` is the agent's learner's name in the catalog (`agent.learner`): a type without a
    selection entry runs a fresh one of it. Threshold, sustain and cooldown are the agent's alarm rule; a
    challenger without its own evidence alarms by it. `saved` are the champions that earlier runs promoted, by
    asset type.
    """

    def __init__(
        self,
        learner: Learner,
        *,
        name: str,
        threshold: float,
        sustain: int,
        cooldown_s: float,
        label_window_s: float,
        promote_min_labels: int,
        promote_margin: float,
        selection: Selection | None = None,
        challengers: Sequence[str] = (),
        saved: Mapping[str, Standing] | None = None,
    ) -> None:
        self.learner = learner
        self.name = name
        self.threshold = threshold
        self.sustain = sustain
        self.cooldown_s = cooldown_s
        self.label_window_s = label_window_s
        self.promote_min_labels = promote_min_labels
        self.promote_margin = promote_margin
        self.selection = selection
        self.challengers = list(challengers)
        #: no selection and no challengers: the agent's learner and rule for every type, nothing in the shadow
        self.plain = selection is None and not self.challengers
        self.saved = {} if saved is None or self.plain else dict(saved)
        self.champion = PerAssetType({}, default=learner)
        self.slots = [PerAssetType({}) for _ in range(2)]
        self.standings: dict[str, list[Standing]] = {}  # asset type -> [champion, challengers...]
        self.labels: dict[str, int] = {}
        self._types: dict[int, str] = {}  # device index -> asset type
        self._names: dict[int, str] = {}
        self._last_alarm: dict[tuple[str, str], dict[str, float]] = {}  # (type, learner) -> device -> ts
        self._last_label: dict[str, tuple[float, bool]] = {}
        self._thr = [np.zeros(0) for _ in self.slots]
        self._sustain = [np.zeros(0, dtype=np.int64) for _ in self.slots]
        self._run = [np.zeros(0, dtype=np.int64) for _ in self.slots]
        self._cool = [np.zeros(0) for _ in self.slots]

    @classmethod
    def from_settings(
        cls, learner: Learner, settings: AgentSettings, saved: Mapping[str, Standing] | None = None
    ) -> Self:
        """The board `settings` describe (reading `agent.selection`'s file, if one is named) around the agent's
        learner; `saved`: the champions stored by earlier runs."""
        selection = None if settings.selection is None else load_selection(settings.selection)
        return cls(learner, name=settings.learner, threshold=settings.threshold, sustain=settings.sustain,
                   cooldown_s=settings.cooldown_s, label_window_s=settings.label_window_s,
                   promote_min_labels=settings.promote_min_labels, promote_margin=settings.promote_margin,
                   selection=selection, challengers=settings.challengers, saved=saved)  # fmt: skip

    @property
    def scorer(self) -> Learner:
        """The learner whose scores become decisions: the agent's own on a plain board, else the champions."""
        return self.learner if self.plain else self.champion

    # -- asset types and devices ------------------------------------------------------------------------------

    def _rule(self, asset_type: str, learner: str) -> Standing:
        choice = None if self.selection is None else self.selection.asset_types.get(asset_type)
        if choice is not None and choice.learner == learner:
            return Standing(learner, choice.threshold, choice.sustain)
        scored = [c for c in (choice.evidence if choice else []) if c.learner == learner]
        if scored:
            return Standing(learner, scored[0].threshold, scored[0].sustain)
        return Standing(learner, self.threshold, self.sustain)

    def _ensure_type(self, asset_type: str) -> list[Standing]:
        if asset_type in self.standings:
            return self.standings[asset_type]
        if self.plain:  # the agent's learner already scores every type
            self.standings[asset_type] = [Standing(self.learner.name, self.threshold, self.sustain)]
            return self.standings[asset_type]
        choice = None if self.selection is None else self.selection.asset_types.get(asset_type)
        saved = self.saved.get(asset_type)
        if saved is not None:
            champion = Standing(saved.learner, saved.threshold, saved.sustain)
        else:
            champion = self._rule(asset_type, choice.learner if choice else self.name)
        names: list[str] = []
        for name in self.challengers:
            names += (choice.runners_up if choice else []) if name == RUNNERS_UP else [name]
        names = [n for n in dict.fromkeys(names) if n != champion.learner][: len(self.slots)]
        standings = [champion, *(self._rule(asset_type, n) for n in names)]
        self.champion.replace(asset_type, agent_learner(champion.learner))
        for slot, standing in zip(self.slots, standings[1:], strict=False):
            slot.replace(asset_type, agent_learner(standing.learner))
        self.standings[asset_type] = standings
        return standings

    def on_device(self, index: int, device: str, asset_type: str) -> Standing:
        """A device was announced: returns its champion's rule (threshold, sustain)."""
        self._types[index], self._names[index] = asset_type, device
        standings = self._ensure_type(asset_type)
        if not self.plain:  # a plain board has no challengers to set rules for
            self._set_rules(asset_type)
        return standings[0]

    def on_series(self, keys: IntArray, asset_type: str) -> None:
        """New series keys of a device of `asset_type`: route them to every model of the type."""
        self._ensure_type(asset_type)
        if self.plain:
            return
        for learner in (self.champion, *self.slots):
            learner.route(keys, asset_type)

    def set_groups(self, key_to_group: IntArray) -> None:
        """Tell the challengers which keys are one device's (the agent tells its `scorer`)."""
        for slot in self.slots:
            slot.set_groups(key_to_group)

    def champion_of(self, asset_type: str) -> Standing:
        """The champion's standing: its name (a decision's `model`), threshold and sustain."""
        return self._ensure_type(asset_type)[0]

    def scaled(self, threshold: float, asset_type: str) -> float:
        """Feedback moves thresholds in the tail from the agent's threshold; a champion's own threshold moves
        alike. On a plain board every champion's threshold is the agent's: `threshold` as it is."""
        if self.plain:
            return threshold
        base = self.champion_of(asset_type).threshold
        return 1.0 - (1.0 - threshold) * (1.0 - base) / (1.0 - self.threshold)

    def _set_rules(self, asset_type: str) -> None:
        n = max(self._types, default=-1) + 1
        for i in range(len(self.slots)):
            self._thr[i] = grow(self._thr[i], n, np.inf)
            self._sustain[i] = grow(self._sustain[i], n, 1)
            self._run[i] = grow(self._run[i], n, 0)
            self._cool[i] = grow(self._cool[i], n, -np.inf)
        standings = self.standings[asset_type]
        for index, kind in self._types.items():
            if kind != asset_type:
                continue
            for i in range(len(self.slots)):
                rule = standings[i + 1] if i + 1 < len(standings) else None
                self._thr[i][index] = np.inf if rule is None else rule.threshold
                self._sustain[i][index] = 1 if rule is None else rule.sustain

    # -- the shadow -------------------------------------------------------------------------------------------

    def shadow(self, series: IntArray, values: FloatArray, ts: FloatArray, device: IntArray, sample_ts: FloatArray,
               start: IntArray, may_alarm: NDArray[np.bool_]) -> list[ShadowDecision]:  # fmt: skip
        """Score a batch with every challenger; the would-be decisions of this batch."""
        out: list[ShadowDecision] = []
        for i, slot in enumerate(self.slots):
            if not slot.parts:
                continue
            scores = slot.score_learn(series, values, ts)
            sample = np.maximum.reduceat(scores, start)
            hot = (sample >= self._thr[i][device]) & may_alarm
            runs, present, last = run_lengths(device, hot, self._run[i])
            self._run[i][present] = np.minimum(last, self._sustain[i][present])
            for j in np.flatnonzero(runs >= self._sustain[i][device]).tolist():
                d = int(device[j])
                if sample_ts[j] < self._cool[i][d]:
                    continue
                self._cool[i][d] = sample_ts[j] + self.cooldown_s
                self._run[i][d] = 0
                kind = self._types[d]
                learner = self.standings[kind][i + 1].learner
                out.append(ShadowDecision(self._names[d], kind, learner, float(sample_ts[j]), float(sample[j])))
                self.note_alarm(kind, learner, self._names[d], float(sample_ts[j]))
        return out

    def note_alarm(self, asset_type: str, learner: str, device: str, ts: float) -> None:
        self._last_alarm.setdefault((asset_type, learner), {})[device] = ts

    # -- grading and promotion --------------------------------------------------------------------------------

    def label(self, device: str, asset_type: str, positive: bool, ts: float) -> dict[str, Any] | None:
        """Grade every model of the type on one labelled outcome; returns a promotion's record, if one is due."""
        standings = self.standings.get(asset_type)
        if standings is None or self.plain:
            return None
        window = self.label_window_s
        previous = self._last_label.get(device)
        if previous is not None and previous[1] == positive and ts - previous[0] < window:
            return None
        self._last_label[device] = (ts, positive)
        self.labels[asset_type] = self.labels.get(asset_type, 0) + 1
        for standing in standings:
            alarmed = ts - self._last_alarm.get((asset_type, standing.learner), {}).get(device, -np.inf) <= window
            if positive and alarmed:
                standing.true_alarms += 1
            elif positive:
                standing.misses += 1
            elif alarmed:
                standing.false_alarms += 1
        return self._promote(asset_type)

    def _promote(self, asset_type: str) -> dict[str, Any] | None:
        standings = self.standings[asset_type]
        if self.labels[asset_type] < self.promote_min_labels or len(standings) < 2:
            return None
        champion = standings[0]
        best = max(range(1, len(standings)), key=lambda k: standings[k].f1)
        if standings[best].f1 - champion.f1 < self.promote_margin:
            return None
        slot = self.slots[best - 1]
        challenger = slot.part(asset_type)
        assert challenger is not None
        old = self.champion.replace(asset_type, challenger)
        assert old is not None
        slot.replace(asset_type, old)
        record = {"asset_type": asset_type, "promoted": standings[best].to_json(), "demoted": champion.to_json(),
                  "labels": self.labels[asset_type], "margin": self.promote_margin,
                  "window_s": self.label_window_s}  # fmt: skip
        standings[0], standings[best] = standings[best], champion
        self._set_rules(asset_type)
        return record
