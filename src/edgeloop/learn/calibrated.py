"""Any learner's score as a calibrated tail probability, and learning gated on it.

**Calibration.** `Calibrated(inner)` passes each point's raw score through a streaming peaks-over-threshold
tail of that series' own recent raw scores (`spot.SpotTail`, SPOT/DSPOT after Siffer et al., KDD 2017) and
returns 1 - p, p the tail probability. After the calibration's `warmup` points, on a series behaving as it
recently did, a point scores >= τ with probability about 1 - τ, for every τ >= `q`, whatever the learner and
the series: one threshold then means one false-alarm rate everywhere (`alarm_budget` turns a budget of false
alarms per device-day into that threshold).

**Gating.** With `gate_at`, a point scoring at or above it puts its series *on hold*: the following points are
scored against the normal model as it was (a throw-away copy learns them, the model does not) and the
calibration does not learn them either, so a fault that lasts keeps scoring high instead of becoming the new
normal. Frozen, not a small weight: any weight w lets a fault of n points move the model by about n·w of the way,
so a fault that lasts hours would still be learnt; a freeze needs no number to justify. The hold ends

- on its own when a point scores below `release_at` (the series came back to the normal it had);
- by a *re-base*, when something says the regime is new: `rebase(keys, ts, reason)` for an operator's
  `new_normal` verdict or a maintenance or repair event, or `rebase_after_s` of data time on hold (the
  timeout). A re-based series learns freely for `grace_s`, so its model moves to the new regime before it can
  hold again. Every re-base is kept as a `Rebase` until `take_rebases()`, for the audit log.

What a re-base keeps depends on why. After a repair or maintenance the normal learnt before the fault is the
one to come back to: the model is kept. A `new_normal` verdict or a timeout says the old normal is gone: the
series starts over (`RESTART_REASONS`), its model and its calibration as a fresh learner's (a learner whose
state is not all per series restarts its device, `DevicePCA.restart`, or keeps its model if it cannot). Kept,
a model fails where the old normal was degenerate: a pump off through the whole warm-up, a constant, has no
spread, and every reading once it runs scored at the top for months (BATADAL, docs/learners.md).

The point that opens a hold is learnt (scoring and learning it are one step). A learner says where its normal
model lives (`normal_state`, or `frozen_rows` for state kept per device); only that is frozen, while the rest
(a last value, a fast mean) follows the data, so the score stays a score of the present. A learner that does
not say is scored, for the series on hold, by a throw-away copy of itself: it then also forgets its short
memory, which makes some (noise ratios, short means) score on the state they had when the hold began.

>>> import numpy as np
>>> from edgeloop.learn.ewma import RobustEWMA
>>> rng = np.random.default_rng(2)
>>> x = np.r_[rng.normal(0, 1, 3000), rng.normal(8, 1, 3000)]          # a fault that lasts
>>> keys, ts = np.zeros(6000, dtype=np.int64), np.arange(6000.0)
>>> gated = Calibrated(RobustEWMA(), gate_at=GATE_AT).score_learn(keys, x, ts)
>>> free = Calibrated(RobustEWMA()).score_learn(keys, x, ts)
>>> round(float(np.mean(gated[5000:] >= 0.99)), 2), round(float(np.mean(free[5000:] >= 0.99)), 2)
(1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray, Learner, grow, make_room, occurrence_rank, take_rows
from edgeloop.learn.combine import MaxOf
from edgeloop.learn.prior import SeriesPrior, SeriesStats, prior_part
from edgeloop.learn.spot import SpotTail

REBASE_REASONS = ("new_normal", "maintenance", "repaired", "timeout")
#: the re-bases after which a series starts over rather than resume its model
RESTART_REASONS = ("new_normal", "timeout")
#: a hold opens at a tail probability of 1e-4 and ends below 0.99: at 1e-3 / 0.9, holds opened on normal data
#: too (the extremes of normal noise) and, frozen, doubled the exceedance at τ = 0.999 (measured on AR(1) noise
#: with a daily cycle, robust EWMA: 2.15x the nominal 1e-3, against 1.29x at these values)
GATE_AT = 0.9999
#: the tail is fitted to the excesses over the raw score's 98% quantile, SPOT's own choice (Siffer et al.): over
#: the 90% quantile the excesses of a noise ratio are not yet Pareto-like and the fit's far tail was 4-17 times
#: too light on the factory simulator (docs/learners.md); it scores after 10 expected excesses
TAIL_Q = 0.98
TAIL_WARMUP = 500
RELEASE_AT = 0.99


@dataclass(frozen=True, slots=True)
class Rebase:
    """A series whose normal model was told the regime is new: its key, the data time and why."""

    key: int
    ts: float
    reason: str


class Calibrated(Learner):
    """The inner learner's score as 1 - (tail probability), with learning gated on alarms."""

    name = "calibrated"

    def __init__(
        self,
        inner: Learner,
        q: float = TAIL_Q,
        warmup: int = TAIL_WARMUP,
        window: int = 200,
        gate_at: float | None = None,
        release_at: float = RELEASE_AT,
        grace_s: float = 3600.0,
        rebase_after_s: float | None = None,
    ) -> None:
        self.inner = inner
        self.q = q
        self.warmup = warmup
        self.window = window
        self.gate_at = gate_at
        self.release_at = release_at
        self.grace_s = grace_s
        self.rebase_after_s = rebase_after_s
        self.name = f"{inner.name}@spot" + ("+gate" if gate_at is not None else "")
        self._tail = SpotTail(q=q, warmup=warmup, window=window, odds=_score_form(inner) == "likelihood")
        self._held_since = np.zeros(0, dtype=np.float64)  # data time the hold began; nan: learning
        self._free_until = np.zeros(0, dtype=np.float64)  # a re-based series may not hold before this time
        self._newest = np.zeros(0, dtype=np.float64)  # data time of the newest point learnt
        self._due = np.zeros(0, dtype=np.float64)  # a re-base told before its time came: its data time; nan: none
        self._due_restart = np.zeros(0, dtype=bool)  # and whether it starts the series over
        self._rebases: list[Rebase] = []

    def __setstate__(self, state: dict[str, Any]) -> None:  # a checkpoint pickled before the re-bases' data time
        state.setdefault("_newest", np.zeros(0, dtype=np.float64))
        state.setdefault("_due", np.zeros(0, dtype=np.float64))
        state.setdefault("_due_restart", np.zeros(0, dtype=bool))
        self.__dict__.update(state)

    @property
    def n_series(self) -> int:
        return self.inner.n_series

    def params(self) -> dict[str, Any]:
        """The inner learner's class and parameters beside the calibration's (`clone` rebuilds it)."""
        own = {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in ("inner", "name")}
        return {"inner": {"class": type(self.inner).__name__, **self.inner.params()}, **own}

    def clone(self) -> Self:
        own = {k: v for k, v in self.params().items() if k != "inner"}
        return type(self)(self.inner.clone(), **own)

    def _ensure(self, size: int) -> None:
        self._tail.ensure(size)
        self._held_since = grow(self._held_since, size, np.nan)
        self._free_until = grow(self._free_until, size, -np.inf)
        self._newest = grow(self._newest, size, -np.inf)
        self._due = grow(self._due, size, np.nan)
        self._due_restart = grow(self._due_restart, size, False)

    def summarize(self, keys: IntArray) -> SeriesStats:
        """The inner learner's level and noise per key, and this calibration's state (the prior protocol,
        `edgeloop.learn.prior`); TypeError if the inner learner cannot summarize."""
        part = prior_part(self.inner)
        if part is None:
            raise TypeError(f"{self.inner.name} cannot summarize what it learnt")
        self._ensure(int(keys.max(initial=-1)) + 1)
        return part.summarize(keys)._replace(tail=self._tail.stats(keys))

    def seed(self, keys: IntArray, priors: Sequence[SeriesPrior]) -> None:
        """Seed the inner learner, and start the unseen keys whose prior has a calibration of this learner's raw
        scores calibrated from it (weighing as half the calibration's memory of excesses), so they score from
        their first points.

        >>> from edgeloop.learn.ewma import RobustEWMA
        >>> from edgeloop.learn.prior import TailPrior
        >>> fleet = TailPrior(t=0.3, mean=0.056, mad=0.05, m1=0.1, m2=0.02)  # a robust EWMA's, q = 0.98
        >>> learner = Calibrated(RobustEWMA(warmup=60))
        >>> learner.seed(np.array([0]), [SeriesPrior(10.0, 1.0, 0.1, False, 5, fleet, learner.name)])
        >>> s = learner.score_learn(np.zeros(3, dtype=np.int64), np.array([10.0, 10.5, 16.0]), np.arange(3.0))
        >>> bool(s[1] < 0.9), bool(s[2] > 0.999)
        (True, True)
        """
        part = prior_part(self.inner)
        if part is not None:
            part.seed(keys, priors)
        self._ensure(int(keys.max(initial=-1)) + 1)
        fresh = self._tail.seen(keys) == 0
        chosen = [(k, p.tail) for k, p, f in zip(keys.tolist(), priors, fresh.tolist(), strict=True)
                  if f and p.tail is not None and p.tail_of == self.name and p.tail.is_usable()]  # fmt: skip
        if chosen:
            rows = np.array([t for _, t in chosen], dtype=np.float64)
            self._tail.start(np.array([k for k, _ in chosen], dtype=np.int64), rows, max(2, self.window // 2))

    def held(self, keys: IntArray) -> np.ndarray:
        """Which of these series are on hold."""
        self._ensure(int(keys.max(initial=-1)) + 1)
        return np.asarray(~np.isnan(self._held_since[keys]))

    def rebase(self, keys: IntArray, ts: float, reason: str) -> list[Rebase]:
        """The regime of these series is new from data time `ts` on: lift their hold and let them learn freely
        for `grace_s`. It takes effect after the series' points up to `ts` and before the first one after it, in
        whatever order the re-base and the points arrive (an event and telemetry come on topics of their own, and
        a restart may hold telemetry back, `agent/holdback.py`): a series that has not learnt up to `ts` yet keeps
        the re-base due until it does."""
        if reason not in REBASE_REASONS:
            raise ValueError(f"a re-base is for one of {', '.join(REBASE_REASONS)}, not {reason!r}")
        keys = np.asarray(keys, dtype=np.int64)
        self._ensure(int(keys.max(initial=-1)) + 1)
        now = self._newest[keys] >= ts
        fresh = reason in RESTART_REASONS
        self._lift(keys[now], ts, fresh)
        self._due[keys[~now]] = ts
        self._due_restart[keys[~now]] = fresh
        done = [Rebase(int(k), float(ts), reason) for k in keys.tolist()]
        self._rebases.extend(done)
        return done

    def _lift(self, keys: IntArray, ts: float | FloatArray, restart: bool | np.ndarray = False) -> None:
        self._held_since[keys] = np.nan
        self._free_until[keys] = ts + self.grace_s
        over = keys[np.broadcast_to(np.asarray(restart, dtype=bool), keys.shape)]
        if over.shape[0]:
            self._start_over(over)

    def _start_over(self, keys: IntArray) -> None:
        """These series learn afresh: the inner learner's state for them and their calibration as new."""
        restart = getattr(self.inner, "restart", None)
        if restart is not None:
            restart(keys)
        else:
            fresh = self.inner.clone()
            make_room(fresh, int(keys.max()) + 1)
            take_rows(self.inner, fresh, keys)  # False (the model kept) for a learner not all per series
        self._tail.forget(keys)

    def take_rebases(self) -> list[Rebase]:
        """The re-bases since the last call (the timeouts the learner did itself included), oldest first."""
        done, self._rebases = self._rebases, []
        return done

    def score_learn(self, keys: IntArray, values: FloatArray, ts: FloatArray) -> FloatArray:
        n = keys.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        keys = np.asarray(keys, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        ts = np.asarray(ts, dtype=np.float64)
        self._ensure(int(keys.max()) + 1)
        if self.gate_at is None:  # the inner learner takes the whole batch; only the tail goes rank by rank
            raw = self.inner.score_learn(keys, values, ts)
            return self._by_rank(keys, ts, raw, values)
        return self._by_rank(keys, ts, None, values)

    def _by_rank(self, keys: IntArray, ts: FloatArray, raw: FloatArray | None, values: FloatArray) -> FloatArray:
        n = keys.shape[0]
        units = np.sort(keys)
        if n == 1 or not np.any(units[1:] == units[:-1]):
            return self._step(keys, values, ts, raw)
        rank = occurrence_rank(keys)
        order = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[order], np.arange(int(rank.max()) + 2)).tolist()
        scores = np.empty(n, dtype=np.float64)
        for r in range(len(bounds) - 1):
            idx = order[bounds[r] : bounds[r + 1]]
            scores[idx] = self._step(keys[idx], values[idx], ts[idx], None if raw is None else raw[idx])
        return scores

    def _step(self, k: IntArray, x: FloatArray, t: FloatArray, raw: FloatArray | None) -> FloatArray:
        """Points of distinct series: score (with the inner learner, unless `raw` is given), calibrate, learn."""
        due = self._due[k]
        now = t > due  # re-bases whose time has come (nan compares False)
        if now.any():
            self._lift(k[now], due[now], self._due_restart[k[now]])
            self._due[k[now]] = np.nan
        self._newest[k] = np.maximum(self._newest[k], t)  # k: distinct series
        if raw is None:
            raw = self._inner_gated(k, x, t)
            held = ~np.isnan(self._held_since[k])
        else:
            held = np.zeros(k.shape[0], dtype=bool)
        score = 1.0 - self._tail.tail(k, raw, ~held)
        if self.gate_at is not None:
            opens = ~held & (score >= self.gate_at) & (t >= self._free_until[k])
            ends = held & (score < self.release_at)
            self._held_since[k] = np.where(opens, t, np.where(ends, np.nan, self._held_since[k]))
        return np.asarray(score, dtype=np.float64)

    def _inner_gated(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        """Raw scores of the inner learner; series on hold are scored by a copy that forgets what it learns."""
        since = self._held_since[k]
        if self.rebase_after_s is not None:
            late = t - since >= self.rebase_after_s  # False where not held (nan)
            if late.any():
                for key, when in zip(k[late].tolist(), t[late].tolist(), strict=True):
                    self._lift(np.array([key]), when, True)  # now: this point is the first after the timeout
                    self._rebases.append(Rebase(key, when, "timeout"))
        held = ~np.isnan(self._held_since[k])
        if not held.any():
            return self.inner.score_learn(k, x, t)
        frozen = self.inner.frozen_rows(k[held])
        if frozen is not None:  # the declared normal model is put back for the held keys after the step
            kept = [(owner, name, rows, getattr(owner, name)[rows].copy()) for owner, name, rows in frozen]
            raw = self.inner.score_learn(k, x, t)
            for owner, name, rows, saved in kept:
                getattr(owner, name)[rows] = saved
            return raw
        raw = np.empty(k.shape[0], dtype=np.float64)
        probe = self.inner.clone_state()
        raw[held] = probe.score_learn(k[held], x[held], t[held])
        if not held.all():
            raw[~held] = self.inner.score_learn(k[~held], x[~held], t[~held])
        return raw


def _score_form(learner: Learner) -> str:
    """How the learner squeezes its surprise into [0, 1) (`Learner.score_form`); "mixed" for parts that differ."""
    if isinstance(learner, MaxOf):
        forms = {_score_form(part) for part in learner.learners}
        return forms.pop() if len(forms) == 1 else "mixed"
    return learner.score_form
