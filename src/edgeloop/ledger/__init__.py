"""ledger part of edgeloop (see ARCHITECTURE.md)."""
