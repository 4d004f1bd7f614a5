"""Stopping a process's event loop cleanly on SIGINT and SIGTERM: shared by the agent's and the simulators'
commands, so it lives at the edge rather than in either."""

from __future__ import annotations

import asyncio
import contextlib
import signal


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM end the loop cleanly (drain, flush, publish offline)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
