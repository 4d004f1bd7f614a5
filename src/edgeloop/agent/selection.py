"""Selection files: the learner, threshold and sustain chosen for each asset type, with the evidence.

`edgeloop bench select` writes one; `agent.selection` names one for the agent. A bad file is refused with the
line at fault (`SelectionError`), as policy and economics files are.

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

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgeloop.agent.catalog import CANDIDATES
from edgeloop.model.yamldoc import YamlFieldError, validate_yaml


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
        if name not in CANDIDATES:
            raise ValueError(f"unknown learner {name!r}; known: {', '.join(CANDIDATES)}")
        return name


class Selection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(1, ge=1, le=1)
    data: str = Field("", description="the labelled data set the choice was made on")
    made: str = Field("", description="when (UTC date)")
    scoring: str = Field("", description="how candidates were scored")
    asset_types: dict[str, Choice] = Field(default_factory=dict)


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
