"""Rules, guardrails and autonomy levels. Pure: no I/O, no wall clock."""

from edgeloop.policy.site import SitePolicy, Verdict

__all__ = ["SitePolicy", "Verdict"]
