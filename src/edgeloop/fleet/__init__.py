"""fleet part of edgeloop (see ARCHITECTURE.md)."""

from edgeloop.fleet.envelope import Trust, seal, unseal
from edgeloop.fleet.knowledge import KnowledgeError, KnowledgeSummary, MergedKnowledge, MetricSummary, merge
from edgeloop.fleet.share import FleetKnowledge, knowledge_topic, share_knowledge, share_site_knowledge, site_summaries

__all__ = [
    "FleetKnowledge",
    "KnowledgeError",
    "KnowledgeSummary",
    "MergedKnowledge",
    "MetricSummary",
    "Trust",
    "knowledge_topic",
    "merge",
    "seal",
    "share_knowledge",
    "share_site_knowledge",
    "site_summaries",
    "unseal",
]
