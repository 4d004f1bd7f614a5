"""fleet part of edgeloop (see ARCHITECTURE.md)."""

from edgeloop.fleet.coordinator import CapCoordinator
from edgeloop.fleet.envelope import Trust, seal, unseal
from edgeloop.fleet.knowledge import KnowledgeError, KnowledgeSummary, MergedKnowledge, MetricSummary, merge
from edgeloop.fleet.powercap import CapPeer, Lease, Need
from edgeloop.fleet.share import FleetKnowledge, knowledge_topic, share_knowledge, share_site_knowledge, site_summaries

__all__ = [
    "CapCoordinator",
    "CapPeer",
    "FleetKnowledge",
    "KnowledgeError",
    "KnowledgeSummary",
    "Lease",
    "MergedKnowledge",
    "MetricSummary",
    "Need",
    "Trust",
    "knowledge_topic",
    "merge",
    "seal",
    "share_knowledge",
    "share_site_knowledge",
    "site_summaries",
    "unseal",
]
