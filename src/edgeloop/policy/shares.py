"""A site's limits split over the partitions that run it (`agent.partition`): each partition counts only its own
actions, so each gets a share of the site-wide limits, and together they stay within them.

>>> from edgeloop.policy.schema import Guardrails, Policy, RateLimit, RateLimits
>>> site = Policy(guardrails=Guardrails(rate_limit=RateLimits(per_site=RateLimit(max=30, per_h=1)), max_stopped=5))
>>> part = share_site_limits(site, 2).guardrails
>>> part.rate_limit.per_site.max, part.max_stopped
(15, 2)
"""

from __future__ import annotations

from edgeloop.policy.schema import Policy


def share_site_limits(policy: Policy, parts: int) -> Policy:
    """The policy one of `parts` partitions enforces: the per-site rate limit and `max_stopped` divided by
    `parts`, rounded down. A rate limit keeps at least one action (its schema's floor): below `parts`, the site
    as a whole may then see up to `parts` actions in the window."""
    if parts <= 1:
        return policy
    guard = policy.guardrails
    per_site = guard.rate_limit.per_site
    rate = guard.rate_limit
    if per_site is not None:
        rate = rate.model_copy(update={"per_site": per_site.model_copy(update={"max": max(1, per_site.max // parts)})})
    stopped = None if guard.max_stopped is None else guard.max_stopped // parts
    return policy.model_copy(update={"guardrails": guard.model_copy(update={"rate_limit": rate,
                                                                           "max_stopped": stopped})})  # fmt: skip
