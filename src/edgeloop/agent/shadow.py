"""Temporary: the old constructor of `ModelBoard` for `agent/site.py` until it builds `agent.models.ModelBoard`.

Delete this module when `site.py` imports from `edgeloop.agent.models` (its board is then always present).
"""

from __future__ import annotations

from collections.abc import Mapping

from edgeloop.agent import models
from edgeloop.agent.models import Standing
from edgeloop.learn.routed import PerAssetType
from edgeloop.learn.selection import Selection
from edgeloop.settings import AgentSettings

__all__ = ["ModelBoard", "Standing"]


class ModelBoard(models.ModelBoard):
    """A board built the old way; the caller puts its learner in `champion.default` afterwards."""

    def __init__(self, settings: AgentSettings, selection: Selection | None, saved: Mapping[str, Standing]) -> None:
        super().__init__(PerAssetType({}), name=settings.learner, threshold=settings.threshold,
                         sustain=settings.sustain, cooldown_s=settings.cooldown_s,
                         label_window_s=settings.label_window_s, promote_min_labels=settings.promote_min_labels,
                         promote_margin=settings.promote_margin, selection=selection,
                         challengers=settings.challengers, saved=saved)  # fmt: skip
