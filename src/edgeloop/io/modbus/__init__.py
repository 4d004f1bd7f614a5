"""Modbus TCP: register maps, polling and the adapter that gives a site agent v1 messages (issue 16)."""
