"""Model selection: the candidates, the choice of the best per asset type, and the selection file that keeps it.

`edgeloop bench select` scores every candidate on labelled data (`edgeloop.bench.select`), `choose` picks the
learner, threshold and sustain of each asset type, and a selection file keeps the choice with the evidence;
`agent.selection` names one for the agent. A bad file is refused with the line at fault (`SelectionError`), as
policy and economics files are. Learners are named as the agent reads them (`edgeloop.learn.catalog`).

>>> CANDIDATES[-3:]
('ewma_noise_spot', 'ewma_noise_timed_spot', 'novelty_ensemble_nohold')
>>> text = '''
... data: factory recording
... asset_types:
...   pump: {learner: robust_ewma, threshold: 0.95, sustain: 4}
... '''
>>> parse_selection(text, "sel.yaml").asset_types["pump"].threshold
0.95
>>> try:
...     parse_selection(text.replace("0.95", "1.5"), "sel.yaml")
... except SelectionError as exc:
...     print(exc)
sel.yaml line 4: asset_types.pump.threshold: Input should be less than 1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgeloop.learn.catalog import AGENT_ALIASES, AGENT_NAMES, LEARNERS, VARIANTS
from edgeloop.model.yamldoc import YamlFieldError, validate_yaml

#: what `edgeloop bench select` scores by default, by the names the agent reads: every entry of `LEARNERS` (so
#: `robust_ewma` and `ewma_noise` are the timed variants, not scored twice under their own names) and the rest
CANDIDATES: tuple[str, ...] = (*sorted(LEARNERS), *sorted(set(VARIANTS) - set(AGENT_ALIASES.values())))
#: named as a challenger (`agent.challengers`): the selection's runners-up of each asset type
RUNNERS_UP = "runners_up"


class SelectionError(YamlFieldError):
    """A selection file that cannot be used; the message names the file, line and field."""


class Candidate(BaseModel):
    """One learner at one threshold and sustain, as scored on the labelled data."""

    model_config = ConfigDict(extra="forbid")
    learner: str
    threshold: float = Field(gt=0, lt=1)
    sustain: int = Field(1, ge=1)
    precision: float | None = None
    recall: float | None = None
    f1: float = 0.0
    alarms: int = 0
    false_alarms: int = 0
    events: int = 0
    caught: int = 0


class Choice(BaseModel):
    """What an asset type runs: a learner the agent knows, its alarm threshold and sustain."""

    model_config = ConfigDict(extra="forbid")
    learner: str
    threshold: float = Field(gt=0, lt=1)
    sustain: int = Field(1, ge=1)
    runners_up: list[str] = Field(default_factory=list, description="the next best learners, best first")
    evidence: list[Candidate] = Field(default_factory=list, description="every candidate's best score")

    @field_validator("learner")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in AGENT_NAMES:
            raise ValueError(f"unknown learner {name!r}; known: {', '.join(AGENT_NAMES)}")
        return name


class Selection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(1, ge=1, le=1)
    data: str = Field("", description="the labelled data set the choice was made on")
    made: str = Field("", description="when (UTC date)")
    scoring: str = Field("", description="how candidates were scored")
    asset_types: dict[str, Choice] = Field(default_factory=dict)


def choose(evidence: Mapping[str, Sequence[Candidate]], data: str, *, made: str, scoring: str) -> Selection:
    """Per asset type, the candidate with the best F1 (ties: fewer alarms, then the name), the next two as its
    runners-up, and all the evidence, best first. `made` is the date to write in the file."""
    chosen = {}
    for asset_type, candidates in sorted(evidence.items()):
        ranked = sorted(candidates, key=lambda c: (-c.f1, c.alarms, c.learner))
        top = ranked[0]
        chosen[asset_type] = Choice(learner=top.learner, threshold=top.threshold, sustain=top.sustain,
                                    runners_up=[c.learner for c in ranked[1:3]], evidence=ranked)  # fmt: skip
    return Selection(data=data, made=made, scoring=scoring, asset_types=chosen)


def parse_selection(text: str, source: str = "selection") -> Selection:
    return validate_yaml(text, Selection, source, "a mapping with 'asset_types'", SelectionError)


def load_selection(path: Path) -> Selection:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SelectionError("(file)", f"cannot read: {exc.strerror}", None, str(path)) from exc
    return parse_selection(text, str(path))


def dump_selection(selection: Selection) -> str:
    head = "# made by `edgeloop bench select`; per asset type: the learner, threshold and sustain the agent runs\n"
    return head + yaml.safe_dump(selection.model_dump(mode="json"), sort_keys=False, width=118)
