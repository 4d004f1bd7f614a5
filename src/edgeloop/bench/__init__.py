"""bench part of edgeloop (see ARCHITECTURE.md)."""
