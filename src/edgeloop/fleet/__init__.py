"""fleet part of edgeloop (see ARCHITECTURE.md)."""
