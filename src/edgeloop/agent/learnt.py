"""What a restart needs of a site agent: its learnt state (registry, learner, alarm stage, guard), written to its
checkpoint file (`agent/checkpoint.py`) and taken back at start, and the audit log's signed head, published so
that whoever keeps a copy catches records cut later (`audit/head.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from edgeloop.agent import checkpoint
from edgeloop.agent.outcomes import RESTART_EVENTS, rebase_reason
from edgeloop.agent.repeats import Newest
from edgeloop.audit.directory import write_atomic
from edgeloop.audit.head import AUDIT_HEAD, sign_head
from edgeloop.io.store import Chunk, SeriesNames
from edgeloop.io.topics import agent_topic
from edgeloop.learn.catalog import gated_parts
from edgeloop.policy import GuardState

if TYPE_CHECKING:  # the agent calls these with itself
    from edgeloop.agent.site import SiteAgent

log = logging.getLogger(__name__)


async def save_checkpoint(agent: SiteAgent, commit_wait_s: float = 2.0) -> None:
    """Write the learnt state to the site's checkpoint file (`agent/checkpoint.py`) once the store has committed
    every write queued before it (or not at all after `commit_wait_s`); a failure is logged. A checkpoint that
    had learnt what the store then lost in a kill would make the agent skip it when the broker sends it again."""
    data = checkpoint.encode(state_of(agent))  # here, between batches: a consistent state
    marks, mark = agent.store.marks, agent.store.marks.queued
    deadline = time.monotonic() + commit_wait_s
    while marks.committed < mark:
        if time.monotonic() > deadline or agent.store.failure is not None:
            log.warning("checkpoint not written: the store has not committed what it learnt from")
            return
        await asyncio.sleep(0.01)
    try:
        await asyncio.to_thread(checkpoint.write, agent.settings.checkpoint_path, data)
    except OSError as exc:
        log.warning("checkpoint not written to %s: %s", agent.settings.checkpoint_path, exc)


async def publish_audit_head(agent: SiteAgent) -> None:
    """Publish the audit log's signed head (`audit/head.py`), retained on `_agent/audit/head` and written to
    the site's `audit-head.json` (served by the API): whoever keeps a copy catches records cut later."""
    if agent.audit is None:
        return
    records, head = agent.audit.state()
    payload = orjson.dumps(sign_head(agent.site, records, head, agent.clock(), agent.audit.key))
    agent.publish(agent_topic(agent.site, AUDIT_HEAD), payload, 1, retain=True)
    try:
        await asyncio.to_thread(write_atomic, agent.settings.audit_head_path, payload)
    except OSError as exc:
        log.warning("audit head not written to %s: %s", agent.settings.audit_head_path, exc)


def replay(agent: SiteAgent, run: int, skip: int) -> int:
    """Let the learner learn again what the store took after the checkpoint (the run's telemetry rows after its
    first `skip`): an agent killed between two checkpoints resumes where it stopped, not at the checkpoint, and
    scores what follows as a run that never stopped would. Series the checkpoint did not know are left out.
    How many points were learnt."""
    known, learnt = agent.registry.n_series, 0
    names: SeriesNames | None = None  # the store's series, read once if a chunk holds a key the checkpoint lacks
    for chunk in agent.store.read_run_chunks(run, skip):
        if chunk.keys.shape[0] and int(chunk.keys.max()) >= known:
            names = agent.store.read_series_names() if names is None else names
            known = renew_as_before(agent, run, chunk, known, names)
        handled = chunk.keys < known  # a late reading's too, stored unlearnt: it is looked up if it comes again
        if handled.any():
            at = chunk.ts[handled]
            agent.newest.note(agent.registry.device_of[chunk.keys[handled].astype(np.int64)], at)
        keep = handled & ~np.isnan(chunk.scores)  # NaN: a late reading, stored and never learnt
        keys = chunk.keys[keep].astype(np.int64)
        if keys.shape[0] == 0:
            continue
        ts, values = chunk.ts[keep], chunk.vals[keep]
        late = ts < agent.newest.of_series(keys)  # late readings the run put in place: put in place again
        if late.any():
            agent.rewind.place(agent, keys[late], ts[late], values[late], agent.clock())
            keys, ts, values = keys[~late], ts[~late], values[~late]
            if keys.shape[0] == 0:
                continue
        agent.learner.score_learn(keys, values, ts)
        agent.newest.note(agent.registry.device_of[keys], ts, keys, ts)
        agent.data_ts = max(agent.data_ts, float(ts.max()))
        learnt += int(keys.shape[0])
    for gated in gated_parts(agent.learner):
        gated.take_rebases()  # re-bases the first run met are in its audit log already
    if learnt:
        log.info("learnt again %d points stored after the checkpoint", learnt)
    return learnt


def renew_as_before(agent: SiteAgent, run: int, chunk: Chunk, known: int, names: SeriesNames) -> int:
    """Keys of `chunk` that the checkpoint did not know, given by a repair (or a restart) the earlier run met after
    its checkpoint: that event is in the store, not in the checkpoint, and the broker does not send it again. The
    device is renewed here as it was then (fresh keys are numbered in the order given, so they come out the same),
    its gated learners re-based at the event's time, and those keys are learnt again like the rest. Keys of a
    device the checkpoint did not know, or numbered otherwise, stay left out (`names`: the store's series). How
    many keys are now known."""
    for key in np.unique(chunk.keys[chunk.keys >= known]).tolist():
        if key < agent.registry.n_series:
            continue  # renewed with an earlier key of its device
        device, metric = names.get((run, key), ("", ""))
        if agent.registry.get(device) is None or key != agent.registry.n_series:
            break
        renewed, _ = agent.devices.renew(device)
        if renewed.keys.get(metric) != key:
            log.warning("not learnt again: %s's series after its renewal are numbered otherwise", device)
            break
        first = float(chunk.ts[chunk.keys == key].min())
        event = next((e for e in agent.store.read_events(device, 20) if e["kind"] in RESTART_EVENTS
                      and e["ts"] <= first), None)  # fmt: skip
        keys = np.fromiter(renewed.keys.values(), dtype=np.int64)
        if event is not None:
            agent.newest.start(keys, float(event["ts"]))
        if event is not None and event["kind"] == "repaired":
            agent.rewind.touch(keys)
            for gated in gated_parts(agent.learner):
                gated.rebase(keys, float(event["ts"]), rebase_reason(event["detail"]))
    return agent.registry.n_series


def state_of(agent: SiteAgent) -> dict[str, Any]:
    """What a restart needs to resume warm (`agent/checkpoint.py`): registry, learner and alarm stage."""
    return {"site": agent.site, "registry": agent.registry, "learner": agent.learner, "stage": agent.stage.snapshot(),
            "guard": agent.dispatcher.guard.to_json(), "newest": agent.newest.ts.copy(),
            "newest_series": agent.newest.series.copy(), "snapshots": agent.rewind.snapshots,
            "written": (agent.store.run, agent.chunks_written)}  # fmt: skip


def resume(agent: SiteAgent, state: dict[str, Any]) -> bool:
    """Take back `learnt_state()` of an earlier run of this site, before any message; whether it was taken."""
    if state.get("site") != agent.site or not agent.models.plain or len(agent.registry):
        return False  # another site's, or a model board's (its champions are rebuilt from the store)
    agent.learner = agent.models.learner = state["learner"]
    agent.devices.resume(state["registry"], agent.learner)
    agent.decoder.registry = agent.devices.registry
    agent.stage.restore(state["stage"])
    agent.devices.regroup()
    if "newest" in state:
        agent.newest = Newest(state["newest"], state.get("newest_series"))
    agent.rewind.snapshots = list(state.get("snapshots", [])) if agent.rewind.window_s > 0 else []
    if "written" in state:
        replay(agent, *state["written"])
    if "guard" in state and agent.store.read_guard_state() is None:  # handed over from another partitioning
        guard = GuardState.from_json(state["guard"])
        part = agent.partition.part
        if part is not None:  # the actions this partition's devices had: the rate limits go on counting them
            guard = GuardState([a for a in guard.actions if part.owns(a.device)],
                               {d for d in guard.stopped if part.owns(d)})  # fmt: skip
        agent.dispatcher.guard = guard
    return True
