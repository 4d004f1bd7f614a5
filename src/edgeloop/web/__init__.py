"""web part of edgeloop (see ARCHITECTURE.md)."""
