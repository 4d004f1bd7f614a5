"""audit part of edgeloop (see ARCHITECTURE.md)."""
