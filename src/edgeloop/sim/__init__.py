"""sim part of edgeloop (see ARCHITECTURE.md)."""
