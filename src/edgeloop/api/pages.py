"""Pagination shared by every list route: `?limit=&offset=`, answered as `{"total", "limit", "offset", "items"}`.

>>> Page(limit=2, offset=1).of([1, 2, 3, 4])
{'total': 4, 'limit': 2, 'offset': 1, 'items': [2, 3]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query


@dataclass(frozen=True)
class Page:
    limit: int = 100
    offset: int = 0

    def of(self, items: Sequence[Any]) -> dict[str, Any]:
        """One page of a list held in memory."""
        return self.answer(len(items), list(items[self.offset : self.offset + self.limit]))

    def answer(self, total: int, items: list[Any]) -> dict[str, Any]:
        """The answer for a page the caller cut itself (SQL `LIMIT ? OFFSET ?`)."""
        return {"total": total, "limit": self.limit, "offset": self.offset, "items": items}


def _page(
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many items")] = 100,
    offset: Annotated[int, Query(ge=0, description="skip this many items first")] = 0,
) -> Page:
    return Page(limit, offset)


Paged = Annotated[Page, Depends(_page)]
