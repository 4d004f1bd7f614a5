"""The agent's learnt state on disk, so that a restart resumes warm instead of learning every series again.

A checkpoint holds the device registry (its series keys index the learners' arrays), the learner and the alarm
stage (thresholds, runs, cooldowns, watches, what feedback taught). It is written atomically (a reader or a
crash sees the old file or the new one) every `agent.checkpoint_s` and when the agent stops, and read when it
starts. It is the agent's own file in its data dir (0600): pickle is fine for that, never for input from others.
A checkpoint of another format version, or one that cannot be read, is set aside with a warning and the agent
starts cold: learnt state is worth keeping, not worth refusing to run for.
"""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any

from edgeloop.audit.directory import write_atomic
from edgeloop.model import Partition

log = logging.getLogger(__name__)

FILE = "checkpoint.pickle"
VERSION = 1


def encode(state: dict[str, Any]) -> bytes:
    """The bytes of a checkpoint of `state` (taken between batches, so that it is consistent)."""
    return pickle.dumps({"version": VERSION, **state}, protocol=pickle.HIGHEST_PROTOCOL)


def write(path: Path, data: bytes) -> None:
    """Write a checkpoint's bytes to `path` atomically, readable by the agent's user alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    os.chmod(path, 0o600)


def load(path: Path) -> dict[str, Any] | None:
    """The state saved at `path`; None when there is none or it cannot be used (it is then renamed aside)."""
    if not path.exists():
        return None
    try:
        state = pickle.loads(path.read_bytes())
        if not isinstance(state, dict) or state.get("version") != VERSION:
            raise ValueError(f"format version {state.get('version') if isinstance(state, dict) else '?'}")
    except Exception as exc:  # a torn or foreign file: keep it for a look, start cold
        aside = path.with_name(path.name + ".unusable")
        os.replace(path, aside)
        log.warning(
            "checkpoint %s not usable (%s: %s); kept as %s, starting cold", path, type(exc).__name__, exc, aside
        )
        return None
    return state


def peek(path: Path) -> dict[str, Any] | None:
    """The state saved at `path`, or None, leaving the file as it is (it may be another agent's)."""
    try:
        state = pickle.loads(path.read_bytes())
    except Exception:  # missing, torn, or foreign: not ours to set aside
        return None
    return state if isinstance(state, dict) and state.get("version") == VERSION else None


def handover(site_root: Path, part: Partition, own: Path) -> tuple[dict[str, Any], Path, int] | None:
    """The learnt state a new partition starts from when it has no checkpoint of its own (P changed): of the
    site's other checkpoints (the unpartitioned agent's in `site_root`, and each partition's in `site_root/p*of*`),
    the one holding most of the devices `part` now owns. Returns it, its path and how many of its devices this
    partition owns; None when there is none.

    The state is taken whole: the devices of other partitions stay in the registry, inert (no telemetry of theirs
    reaches this agent). Devices this partition owns that were in other old checkpoints start afresh."""
    best: tuple[dict[str, Any], Path, int] | None = None
    for path in [site_root / FILE, *sorted(site_root.glob(f"p*of*/{FILE}"))]:
        if path == own:
            continue
        state = peek(path)
        if state is None or "registry" not in state:
            continue
        owned = sum(part.owns(known.meta.device) for known in state["registry"].by_index)
        if owned and (best is None or owned > best[2]):
            best = (state, path, owned)
    return best
