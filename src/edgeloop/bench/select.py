"""`edgeloop bench select`: score every learner on labelled data, per asset type, and write a selection file.

The data is a factory recording (`edgeloop sim record`: telemetry, events, ground truth) or a NAB-format corpus
(`data/<category>/*.csv`, `labels/combined_windows.json`, `config/profiles.json`; a category is an asset type).
Several data sets (`--data` repeated) are scored as one. Each candidate of `edgeloop.learn.selection.CANDIDATES`
replays the whole data once, as the agent would feed it; its alarms are then counted at every threshold and
sustain of the sweep and scored event-wise (`eventscore.py`: one true alarm per fault, precision, recall by the
deadline, F1). Per asset type the best F1 wins (ties: fewer alarms; `edgeloop.learn.selection.choose`); the file
keeps every candidate's best score as evidence and the next two as runners-up (`agent.challengers: [runners_up]`
runs them in the shadow).
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from edgeloop.bench.eventscore import Unit, score
from edgeloop.bench.nab.corpus import CorpusError, load_corpus
from edgeloop.bench.recording import RecordingError, Replay, read_factory, read_nab
from edgeloop.learn.catalog import AGENT_NAMES, agent_learner
from edgeloop.learn.selection import CANDIDATES, Candidate, Selection, choose, dump_selection

THRESHOLDS = (0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
SCORING = ("event-wise: sustain hot samples in a row alarm, then a cooldown; an alarm is true when it is the "
           "first on a labelled fault, false when no fault is active; recall = developing faults (NAB: windows) "
           "alarmed by their deadline; F1 of the two")  # fmt: skip


def best_of(units: Sequence[Unit], learner: str, thresholds: Sequence[float], sustains: Sequence[int],
            cooldown_s: float) -> Candidate:  # fmt: skip
    """The threshold and sustain at which `learner`'s scores on `units` reach the highest F1 (ties: fewer alarms)."""
    best: Candidate | None = None
    for thr in thresholds:
        for sustain in sustains:
            t = score(units, thr, sustain, cooldown_s)
            c = Candidate(learner=learner, threshold=thr, sustain=sustain, precision=_r(t.precision),
                          recall=_r(t.recall), f1=round(t.f1, 4), alarms=t.alarms, false_alarms=t.false_alarms,
                          events=t.events, caught=t.caught)  # fmt: skip
            if best is None or (c.f1, -c.alarms) > (best.f1, -best.alarms):
                best = c
    assert best is not None
    return best


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def load_data(folder: Path, settle_s: float, lead_s: float) -> Replay:
    if (folder / "devices.json").is_file():
        return read_factory(folder, settle_s, lead_s)
    return read_nab(load_corpus(folder))


def table(selection: Selection) -> Table:
    out = Table(title=f"model selection on {selection.data}")
    for col in ("asset type", "learner", "threshold", "sustain", "alarms", "false", "precision", "recall", "F1", ""):
        out.add_column(col, justify="left" if col in ("asset type", "learner", "") else "right")
    for asset_type, choice in selection.asset_types.items():
        for c in choice.evidence:
            pct = ["-" if v is None else f"{v:.1%}" for v in (c.precision, c.recall)]
            mark = "selected" if c.learner == choice.learner else ""
            out.add_row(asset_type, c.learner, f"{c.threshold:g}", str(c.sustain), str(c.alarms), str(c.false_alarms),
                        pct[0], f"{pct[1]} ({c.caught}/{c.events})", f"{c.f1:.3f}", mark)  # fmt: skip
    return out


def select(
    data: list[Path],
    out: Path = Path("selection.yaml"),
    learners: str = ",".join(CANDIDATES),
    sustain: str = "1,2,4",
    settle_s: float = 7200.0,
    lead_s: float = 1800.0,
    cooldown_s: float = 21600.0,
    json_out: bool = False,
) -> int:
    """Score the candidates, write the selection file to `out` and print it; the exit code: 0 written, 2 bad input."""
    console = Console(stderr=True)
    names = [n.strip() for n in learners.split(",") if n.strip()]
    unknown = sorted(set(names) - set(AGENT_NAMES))
    try:
        sustains = sorted({int(s) for s in sustain.split(",") if s.strip()})
        if unknown or not names or not sustains or min(sustains) < 1:
            raise ValueError(f"unknown learners {unknown}; known: {', '.join(AGENT_NAMES)}" if unknown
                             else "need at least one learner and sustains >= 1")  # fmt: skip
        replays = [load_data(folder, settle_s, lead_s) for folder in data]
    except (ValueError, CorpusError, RecordingError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    evidence: dict[str, list[Candidate]] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=json_out) as progress:
        for name in names:
            task = progress.add_task(f"{name:<24}", total=sum(r.n_points for r in replays))
            tick = functools.partial(progress.advance, task)
            units = [u for replay in replays for u in replay.score_with(agent_learner(name), tick)]
            for asset_type in sorted({u.asset_type for u in units}):
                mine = [u for u in units if u.asset_type == asset_type]
                evidence.setdefault(asset_type, []).append(best_of(mine, name, THRESHOLDS, sustains, cooldown_s))
    made = dt.datetime.now(dt.UTC).date().isoformat()
    selection = choose(evidence, " + ".join(replay.name for replay in replays), made=made, scoring=SCORING)
    out.write_text(dump_selection(selection), encoding="utf-8")
    if json_out:
        sys.stdout.write(orjson.dumps(selection.model_dump(mode="json")).decode() + "\n")
        return 0
    Console().print(table(selection))
    picks: list[Any] = [f"{t}: {c.learner} at {c.threshold:g}, sustain {c.sustain}" for t, c in
                        selection.asset_types.items()]  # fmt: skip
    Console().print(f"wrote {out}: " + "; ".join(picks))
    return 0
