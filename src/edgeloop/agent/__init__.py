"""The site agent: runs the loop for one site and owns its state."""

from edgeloop.agent.site import SiteAgent
from edgeloop.agent.stats import AgentStats

__all__ = ["AgentStats", "SiteAgent"]
