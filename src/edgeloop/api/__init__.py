"""api part of edgeloop (see ARCHITECTURE.md)."""
