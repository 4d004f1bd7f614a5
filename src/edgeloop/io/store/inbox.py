"""Handing an operator's answer to the agent, over any `OperatorStore`: the answer goes into the store's inbox,
the running agent takes it within about a second, and its result comes back through the same row."""

from __future__ import annotations

import time

from edgeloop.io.store.base import OperatorStore


def answer_agent(
    store: OperatorStore, kind: str, decision: str, answer: str, by: str, why: str, wait_s: float
) -> str | None:
    """Put an answer (`approval`, `verdict` or `policy`) in the inbox; the agent's result, waiting up to
    `wait_s`, or None when it has not taken it yet (an answer given while the agent is down waits for it)."""
    row_id = store.submit_answer(kind, decision, answer, by, why, time.time())
    deadline = time.monotonic() + wait_s
    while True:
        result = store.read_answer_result(row_id)
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)
