"""io part of edgeloop (see ARCHITECTURE.md)."""
