"""The learners an agent can run, by name: every entry of `LEARNERS` as the agent tunes it, and a few variants.

Model selection (`edgeloop bench select`) scores these candidates and a selection file names them; the agent
builds the named ones per asset type. `robust_ewma` and `ewma_noise` get the agent's memory (`make_learner`).

>>> sorted(set(CANDIDATES) - set(LEARNERS))
['novelty_ensemble_nohold']
>>> make_named("novelty_ensemble_nohold").hold
0
"""

from __future__ import annotations

from collections.abc import Callable

from edgeloop.learn.base import Learner
from edgeloop.learn.ensemble import NoveltyEnsemble
from edgeloop.learn.registry import LEARNERS

#: variants worth a place in a selection: the NAB-tuned ensemble without its hold (one alarm per event suits NAB's
#: scoring; the agent's sustain and cooldown already make one decision of a run of alarms)
VARIANTS: dict[str, Callable[[], Learner]] = {
    "novelty_ensemble_nohold": lambda: NoveltyEnsemble(hold=0),
}
CANDIDATES: tuple[str, ...] = (*sorted(LEARNERS), *sorted(VARIANTS))


def make_named(name: str) -> Learner:
    """A fresh learner of that name, as the agent runs it."""
    if name in VARIANTS:
        return VARIANTS[name]()
    from edgeloop.agent.service import make_learner  # service wires the whole agent: importing it up here loops
    from edgeloop.settings import AgentSettings

    return make_learner(AgentSettings(learner=name))
