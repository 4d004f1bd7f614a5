"""Back-off for password guessing: failed logins are counted per name, per client address and per pair of the
two, and past a few free tries each further try must wait longer (1 s, 2 s, 4 s, ... up to a cap) after the
last one. There is no lockout: a real user whose name is under attack waits at most the name's cap.

An attempt is counted when it is admitted, before its password is checked, and taken back when it succeeds:
so many guesses sent at once are held back just as many sent one by one.

>>> guard = LoginGuard()
>>> [guard.admit("ana", "10.0.0.9", now=0.0).wait_s for _ in range(6)]
[0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
>>> guard.admit("ana", "10.0.0.9", now=1.0).wait_s  # after the wait, one more try; the next waits longer
0.0
>>> guard.admit("ana", "10.0.0.9", now=1.5).wait_s
1.5
>>> attempt = guard.admit("ana", "10.0.0.7", now=3.0)  # another address: only the name's count applies
>>> attempt.wait_s
0.0
>>> guard.succeeded(attempt)  # a right password takes its attempt back and clears its own pair
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

WINDOW_S = 900.0  # failures older than this are forgotten


@dataclass(frozen=True, slots=True)
class Limit:
    """`free` failures in the window cost nothing; the n-th after them waits 2**n s after the last, up to `cap_s`."""

    free: int
    cap_s: float

    def wait_after(self, failures: int) -> float:
        """
        >>> [Limit(free=2, cap_s=5.0).wait_after(n) for n in range(6)]
        [0.0, 0.0, 1.0, 2.0, 4.0, 5.0]
        """
        return 0.0 if failures < self.free else min(self.cap_s, 2.0 ** (failures - self.free))


PAIR = Limit(free=5, cap_s=900.0)  # one client guessing one name
ADDRESS = Limit(free=20, cap_s=900.0)  # one client guessing many names
NAME = Limit(free=10, cap_s=60.0)  # many clients guessing one name: capped low, so no one can lock a user out


@dataclass(slots=True)
class Attempt:
    """One admitted try (or a refused one, with `wait_s` > 0): the keys it was counted under and when."""

    keys: tuple[tuple[str, str], ...]
    at: float
    wait_s: float = 0.0
    counted: bool = field(default=True)


class LoginGuard:
    """Counts of recent failed (or still running) logins, shared by the requests of one app."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()  # admitting and counting is one step, whatever thread calls

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - WINDOW_S:
            times.popleft()
        return times

    def admit(self, name: str, address: str, now: float) -> Attempt:
        """Count a new try at `name` from `address`, or refuse it with the seconds to wait (not counted)."""
        limits = {("pair", f"{name}\x00{address}"): PAIR, ("address", address): ADDRESS, ("name", name): NAME}
        with self._lock:
            if len(self._failures) > self.max_keys:  # names tried at random must not grow it without end
                self._forget(now)
            wait = 0.0
            for key, limit in limits.items():
                times = self._recent(key, now)
                if times:
                    wait = max(wait, times[-1] + limit.wait_after(len(times)) - now)
            if wait > 0:
                return Attempt((), now, math.ceil(wait * 10) / 10, counted=False)
            for key in limits:
                self._failures[key].append(now)
            return Attempt(tuple(limits), now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: take the attempt back, and forget the pair's failures."""
        with self._lock:
            for key in attempt.keys:
                times = self._failures.get(key)
                if times is None:
                    continue
                if key[0] == "pair":
                    del self._failures[key]
                elif attempt.at in times:
                    times.remove(attempt.at)

    def _forget(self, now: float) -> None:
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= now - WINDOW_S]:
            del self._failures[key]
