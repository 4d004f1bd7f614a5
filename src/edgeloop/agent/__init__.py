"""agent part of edgeloop (see ARCHITECTURE.md)."""
