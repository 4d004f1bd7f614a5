"""One learner per asset type: each series key is routed to the learner of its device's asset type.

Model selection (`edgeloop bench select`) picks the best learner per asset type; this composite runs them side by
side in one agent and keeps the batch protocol: one `score_learn` per sub-learner per micro-batch, on that
learner's points only, with the scores scattered back in the batch's order. Keys nobody routed go to `default`.
With no `default`, such keys score 0 (a challenger that watches only some asset types).
A key's route is set once, when its series is announced (`route`), and never changes, so batch and point by
point agree. Sub-learners keep the site's global keys: they need no translation and `set_groups` passes through.

>>> import numpy as np
>>> from edgeloop.learn.ewma import RobustEWMA
>>> from edgeloop.learn.novelty import RangeNovelty
>>> learner = PerAssetType({"pump": RobustEWMA()}, default=RangeNovelty())
>>> learner.route(np.array([0, 2]), "pump")
>>> keys, x, ts = np.array([0, 1, 2, 1]), np.array([1.0, 5.0, 2.0, 6.0]), np.array([0.0, 0.0, 1.0, 1.0])
>>> learner.score_learn(keys, x, ts).shape, learner.asset_type_of(np.array([0, 1, 2]))
((4,), ['pump', None, 'pump'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike

from edgeloop.learn.base import FloatArray, IntArray, Learner, grow

DEFAULT_ROUTE = -1


class PerAssetType(Learner):
    """A sub-learner per asset type (`parts`), and `default` (if any) for keys of any other type."""

    name = "per_asset_type"

    def __init__(self, parts: Mapping[str, Learner], default: Learner | None = None) -> None:
        self.parts = dict(parts)
        self.default = default
        self._types: list[str] = sorted(self.parts)
        self._route = np.zeros(0, dtype=np.int64)

    @property
    def n_series(self) -> int:
        return sum(part.n_series for part in self._all())

    def _all(self) -> list[Learner]:
        return [*self.parts.values(), *([] if self.default is None else [self.default])]

    def params(self) -> dict[str, Any]:
        """Each part's class and parameters (`clone` rebuilds the parts themselves)."""
        parts = {t: {"class": type(p).__name__, **p.params()} for t, p in self.parts.items()}
        default = None if self.default is None else {"class": type(self.default).__name__, **self.default.params()}
        return {"parts": parts, "default": default}

    def clone(self) -> Self:
        """Fresh parts, the same routes."""
        default = None if self.default is None else self.default.clone()
        fresh = type(self)({t: p.clone() for t, p in self.parts.items()}, default)
        fresh._types, fresh._route = list(self._types), self._route.copy()
        return fresh

    def route(self, keys: ArrayLike, asset_type: str) -> None:
        """Send these keys to `asset_type`'s learner (the default one while the type has none)."""
        k = np.asarray(keys, dtype=np.int64).ravel()
        if k.size == 0:
            return
        if asset_type not in self._types:
            self._types.append(asset_type)
        self._route = grow(self._route, int(k.max()) + 1, DEFAULT_ROUTE)
        self._route[k] = self._types.index(asset_type)

    def asset_type_of(self, keys: IntArray) -> list[str | None]:
        """Each key's asset type (None: not routed)."""
        routes = self._routes(keys)
        return [None if r == DEFAULT_ROUTE else self._types[r] for r in routes.tolist()]

    def part(self, asset_type: str) -> Learner | None:
        """The learner that scores `asset_type`'s keys (None: nobody)."""
        return self.parts.get(asset_type, self.default)

    def replace(self, asset_type: str, learner: Learner) -> Learner | None:
        """Put `learner` in charge of `asset_type`'s keys from now on; returns the learner it replaces."""
        old = self.part(asset_type)
        self.parts[asset_type] = learner
        if asset_type not in self._types:
            self._types.append(asset_type)
        return old

    def set_groups(self, key_to_group: ArrayLike) -> None:
        """Tell every part that watches a device's metrics together which keys those are."""
        for part in self._all():
            set_groups = getattr(part, "set_groups", None)
            if set_groups is not None:
                set_groups(key_to_group)

    def _routes(self, keys: IntArray) -> IntArray:
        inside = keys < self._route.shape[0]
        return np.where(inside, self._route[np.where(inside, keys, 0)], DEFAULT_ROUTE)

    def score_learn(self, keys: IntArray, values: FloatArray, ts: FloatArray) -> FloatArray:
        out = np.zeros(keys.shape[0], dtype=np.float64)
        if keys.shape[0] == 0:
            return out
        routes = self._routes(keys)
        for r in np.unique(routes).tolist():
            mine = np.flatnonzero(routes == r)
            learner = self.default if r == DEFAULT_ROUTE else self.part(self._types[r])
            if learner is not None:
                out[mine] = learner.score_learn(keys[mine], values[mine], ts[mine])
        return out
