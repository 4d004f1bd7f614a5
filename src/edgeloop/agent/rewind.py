"""Late readings put in their place: the learner goes back to before them and learns again.

A reading is late when a newer reading of its series was learnt before it came (`Newest.split_late`): a device
that sends again what was in flight when its link broke, a broker that delivers a killed session's message only
after a later restart. Learnt where it came, it would make the next reading look like that much change in one
step; left out, the series' learner goes on without it, and its scores part from those of a run that got it in
time (issue 17, docs/chaos.md; issue 18, docs/deployment.md).

So the agent keeps copies of its learner (`Snapshot`), one every quarter of `agent.late_window_s` of its clock,
over that window, in memory and in its checkpoint. A late reading of series k at time t is put in its place from
the newest copy that had learnt no point of k at or after t: k's rows are taken back from that copy
(`Learner.take_rows`), and k's stored points after the copy's newest, up to the newest learnt, are learnt again
with the late reading among them, in time order. The learner then holds what it would hold had the reading come
in time, and the late reading is stored with the score it gets in its place. The scores already given to the
points after it stay as they were stored: decisions were taken on them.

A late reading is stored unscored and not learnt, as before, when no copy is old enough (it came later than the
window), when the learner's state is not all per series (`learn.base.PER_SERIES_ROWS`), when its series was
re-based or renewed since the copy (`touch`), or when the points to learn again would pass `RELEARN_PER_MINUTE`.
`stats.late_readings` counts late readings, `stats.late_placed` those put in place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from edgeloop.learn.base import Learner

if TYPE_CHECKING:
    from edgeloop.agent.site import SiteAgent
    from edgeloop.io.decode import DecodedBatch

log = logging.getLogger(__name__)

#: points learnt again per minute of the agent's clock at most (some 5 s of its work here): a device sending old
#: readings on purpose must not make the agent learn history again and again; beyond it they are not learnt
RELEARN_PER_MINUTE = 2_000_000


@dataclass(slots=True)
class Snapshot:
    """A copy of the learner taken at `at` (the agent's clock), with each series' newest time learnt then."""

    at: float
    learner: Learner
    newest: NDArray[np.float64]
    #: series changed from outside the learning since (re-based, renewed): this copy cannot put them back
    stale: set[int] = field(default_factory=set)


class Rewind:
    """The learner's copies over the last `window_s` seconds, and putting late readings in place from them."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.snapshots: list[Snapshot] = []
        self._spent: list[tuple[float, int]] = []  # (agent's clock, points learnt again) over the last minute

    def keep(self, learner: Learner, newest: NDArray[np.float64], now: float) -> None:
        """Copy the learner if a quarter of the window went by since the last copy; drop the copies older than
        the window but the newest of them (it covers the window's start).

        >>> from edgeloop.learn.ewma import RobustEWMA
        >>> rewind = Rewind(100.0)
        >>> for now in (0.0, 10.0, 30.0, 60.0, 130.0):
        ...     rewind.keep(RobustEWMA(), np.zeros(1), now)
        >>> [s.at for s in rewind.snapshots]
        [30.0, 60.0, 130.0]
        """
        if self.window_s <= 0 or (self.snapshots and now - self.snapshots[-1].at < self.window_s / 4):
            return
        if not learner.take_rows(learner, np.zeros(0, dtype=np.int64)):  # state not all per series: it never can
            self.snapshots = []
            return
        self.snapshots.append(Snapshot(now, learner.clone_state(), newest.copy()))
        while len(self.snapshots) > 1 and now - self.snapshots[1].at >= self.window_s:
            del self.snapshots[0]

    def touch(self, keys: NDArray[np.int64]) -> None:
        """These series' state was changed from outside the learning (a re-base, a renewal): no copy taken before
        may put a reading of theirs in place, since learning again would not repeat that change."""
        for snap in self.snapshots:
            snap.stale.update(keys.tolist())

    def _copy_for(self, key: int, oldest: float) -> Snapshot | None:
        """The newest copy that learnt something of `key`, nothing at or after `oldest`, and was not touched."""
        for snap in reversed(self.snapshots):
            if key < snap.newest.shape[0] and -np.inf < snap.newest[key] < oldest and key not in snap.stale:
                return snap
        return None

    def take_late(self, agent: SiteAgent, late: DecodedBatch, now: float) -> NDArray[np.float64]:
        """Count `late`'s items as taken, note them as handled (a copy that comes again is looked up in the store)
        and put their points in place where they can be; their scores (NaN: not placed, stored unlearnt)."""
        agent.stats.messages += late.n_messages
        agent.stats.points += len(late.points)
        agent.newest.note(late.msg_device, late.msg_ts)
        points = late.points
        scores = self.place(agent, points.series, points.ts, points.values, now)
        agent.stats.late_placed += int(np.logical_and.reduceat(~np.isnan(scores), late.msg_start).sum())
        return scores

    def _within_budget(self, points: int, now: float) -> bool:
        self._spent = [(at, n) for at, n in self._spent if now - at < 60.0]
        if points + sum(n for _, n in self._spent) > RELEARN_PER_MINUTE:
            log.warning("not learnt again: %d points, over the budget of %d a minute", points, RELEARN_PER_MINUTE)
            return False
        self._spent.append((now, points))
        return True

    def renewed(self, agent: SiteAgent, device: str, ts: float, now: float) -> int:
        """A restart event (a repair) at data time `ts` met after readings of the device from `ts` on, which the
        old series learnt: the fresh series learn them now (stored under the old ones), in time order, as they
        would have had the event come first. How many points."""
        known = agent.registry.get(device)
        newest = agent.newest.of_device(known.index) if known is not None else -np.inf
        if self.window_s <= 0 or known is None or newest < ts:
            return 0
        agent.store.flush()
        parts = []
        stored = agent.store.read_many_series([(device, metric) for metric in known.keys], ts, newest)
        for metric, key in known.keys.items():
            st, sv, _ = stored[device, metric]
            parts.append((np.full(st.shape[0], key, dtype=np.int64), st, sv))
        keys, at, values = (np.concatenate([p[i] for p in parts]) for i in range(3))
        if keys.shape[0] == 0 or not self._within_budget(int(keys.shape[0]), now):
            return 0
        order = np.argsort(at, kind="stable")
        agent.learner.score_learn(keys[order], values[order], at[order])
        agent.newest.note(np.full(keys.shape[0], known.index), at, keys, at)
        return int(keys.shape[0])

    def place(
        self,
        agent: SiteAgent,
        keys: NDArray[np.int64],
        ts: NDArray[np.float64],
        values: NDArray[np.float64],
        now: float,
    ) -> NDArray[np.float64]:
        """Put these late points in place where they can be, learnt; their scores there (NaN: not placed). Points
        the store already holds (a restart's replay of readings placed before) are not taken twice."""
        scores = np.full(keys.shape[0], np.nan)
        if not self.snapshots or keys.shape[0] == 0:
            return scores
        chosen: dict[int, Snapshot] = {}
        for key in np.unique(keys).tolist():
            snap = self._copy_for(key, float(ts[keys == key].min()))
            if snap is not None:
                chosen[key] = snap
        if not chosen:
            return scores
        agent.store.flush()  # the points to learn again must be committed to be read
        late = set(zip(keys.tolist(), ts.tolist(), values.tolist(), strict=True))
        parts: list[tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]] = []
        spans = {key: (float(snap.newest[key]), float(agent.newest.series[key])) for key, snap in chosen.items()}
        names = {key: agent.registry.series_name(key) for key in chosen}
        stored = agent.store.read_many_series(  # one read for all: each a query or two on PostgreSQL
            names.values(), min(lo for lo, _ in spans.values()), max(hi for _, hi in spans.values())
        )
        for key, (lo, hi) in spans.items():
            st, sv, _ = stored[names[key]]
            keep = np.array([lo < t <= hi and (key, t, v) not in late for t, v in zip(st.tolist(), sv.tolist(),
                             strict=True)], dtype=bool)  # fmt: skip
            parts.append((np.full(int(keep.sum()), key, dtype=np.int64), st[keep], sv[keep]))
        placed = np.isin(keys, list(chosen))
        k_all = np.concatenate([p[0] for p in parts] + [keys[placed]])
        if not self._within_budget(int(k_all.shape[0]), now):
            return scores
        t_all = np.concatenate([p[1] for p in parts] + [ts[placed]])
        v_all = np.concatenate([p[2] for p in parts] + [values[placed]])
        if not agent.learner.take_rows(agent.learner, np.fromiter(chosen, dtype=np.int64)):  # all or nothing
            log.warning("late readings not put in place: %s keeps state that is not per series", agent.learner)
            return scores
        for key, snap in chosen.items():
            agent.learner.take_rows(snap.learner, np.array([key], dtype=np.int64))  # it learnt key: it has its rows
        order = np.argsort(t_all, kind="stable")
        learnt = agent.learner.score_learn(k_all[order], v_all[order], t_all[order])  # its re-bases: the caller's
        first_late = k_all.shape[0] - int(placed.sum())  # the late points follow the stored ones in k_all
        position = np.empty(k_all.shape[0], dtype=np.int64)
        position[order] = np.arange(k_all.shape[0])
        scores[placed] = learnt[position[first_late:]]
        for snap in self.snapshots:  # copies taken after the one used lack these readings: they cannot be used
            snap.stale.update(key for key, used in chosen.items() if snap.at > used.at)
        return scores
