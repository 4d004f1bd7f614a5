"""A partition of a site's devices: `i/P`, the devices whose stable hash falls in slot i of P.

The hash is of the device id alone (BLAKE2b, the first 8 bytes), so every agent, on any machine and Python
version, puts a device in the same partition, and a device's learner state stays with one agent.

>>> p = Partition.parse("1/3")
>>> p, str(p)
(Partition(index=1, count=3), '1/3')
>>> sorted(Partition(i, 3).owns("pump-7") for i in range(3))
[False, False, True]
>>> Partition.parse("3/3")
Traceback (most recent call last):
ValueError: partition '3/3': the index must be in 0..2
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def device_slot(device: str, count: int) -> int:
    """Which of `count` partitions holds `device`."""
    digest = hashlib.blake2b(device.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


@dataclass(frozen=True, slots=True)
class Partition:
    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"partition '{self.index}/{self.count}': the count must be at least 1")
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition '{self.index}/{self.count}': the index must be in 0..{self.count - 1}")

    @classmethod
    def parse(cls, text: str) -> Partition:
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"partition {text!r} must be i/P, e.g. 0/2")
        return cls(int(index), int(count))

    @classmethod
    def from_label(cls, text: str) -> Partition | None:
        """The partition a `label` names (``p1of3``), or None for any other text.

        >>> Partition.from_label("p1of3"), Partition.from_label("pump-1"), Partition.from_label("p3of3")
        (Partition(index=1, count=3), None, None)
        """
        index, sep, count = text.removeprefix("p").partition("of")
        if not text.startswith("p") or not sep or not index.isdigit() or not count.isdigit():
            return None
        try:
            return cls(int(index), int(count))
        except ValueError:
            return None

    def owns(self, device: str) -> bool:
        return self.count == 1 or device_slot(device, self.count) == self.index

    @property
    def label(self) -> str:
        """For names of files, topics and client ids: ``p1of3``."""
        return f"p{self.index}of{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


#: between a site and its partition in a shared store's site key (`store_key`)
PART_SEPARATOR = "--"


def store_key(site: str, part: Partition | None) -> str:
    """A site's key in a shared store: the site, or for one of its partitions `site--pIofP`.

    >>> store_key("plant-a", None), store_key("plant-a", Partition(1, 4))
    ('plant-a', 'plant-a--p1of4')
    """
    return site if part is None else f"{site}{PART_SEPARATOR}{part.label}"
