"""policy part of edgeloop (see ARCHITECTURE.md)."""
