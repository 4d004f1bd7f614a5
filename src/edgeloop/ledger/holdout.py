"""The randomized holdout: which devices the agent decides about but never acts on.

Design, per asset type (the stratum):
1. Devices new to the record are put in a random order: by a seeded hash of (seed, asset type, device), so the
   order does not depend on the order in which the devices were announced.
2. They take the next positions k = n, n+1, ... of their stratum, after the n devices already assigned.
3. Position k is in the holdout when floor((k+1)f + u) > floor(kf + u), f the fraction and u a seeded offset in
   [0, 1) per stratum: a systematic sample that keeps every stratum's holdout count within one of n·f.

With `draw="device"` step 3 is replaced by a draw per device: a device is in the holdout when its seeded hash
(step 1's, as a uniform in [0, 1)) is below f. Its arm then depends on the seed and its own id only, not on
which other devices the same agent saw: the partitions of a site (`agent.partition`) draw one holdout for the
site between them. The holdout's size is then binomial rather than within one of n·f.

The store logs the record incrementally: each batch of new devices as one row that says the position of its
first assignment (`HoldoutRecord.logged`), and the store folds the rows back into the whole record. A site of
100,000 devices registers them in hundreds of batches; logging the whole record each time wrote gigabytes.

A device keeps its arm for good: assignments already in the record are never revisited, so devices appearing
later never move earlier ones. The result is deterministic given the seed and the batches devices arrive in;
the agent logs each `HoldoutRecord` and passes the last one back in, so restarts keep every device's arm.

>>> design = HoldoutDesign(seed=7)
>>> record = design.assign({f"pump-{i}": "pump" for i in range(10)})
>>> sum(a.arm is Arm.HOLDOUT for a in record.assignments)
2
>>> later = design.assign({"pump-99": "pump"}, record)
>>> all(later.arm("pump-" + str(i)) is record.arm("pump-" + str(i)) for i in range(10))
True
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Arm(StrEnum):
    TREATED = "treated"  # the agent acts on this device
    HOLDOUT = "holdout"  # the agent decides and records what it would have done, but sends nothing


@dataclass(frozen=True, slots=True)
class Assignment:
    device: str
    asset_type: str
    arm: Arm
    position: int  # the device's place in its stratum's sequence


@dataclass(frozen=True, slots=True)
class HoldoutRecord:
    """Every assignment so far: the record the agent logs, and the input of the next `assign`."""

    seed: int
    fraction: float
    assignments: tuple[Assignment, ...] = ()
    draw: str = "sequence"
    # lookups kept beside the assignments, carried over by `extended`: a site registers devices in thousands of
    # batches, and rebuilding them from every assignment each time made that quadratic
    _by_device: dict[str, Assignment] = field(init=False, repr=False, compare=False)
    _taken: dict[str, int] = field(init=False, repr=False, compare=False)  # assignments per asset type
    _rows: list[dict[str, Any]] = field(init=False, repr=False, compare=False)  # the assignments as JSON

    def __post_init__(self) -> None:
        self._keep({}, {}, [], self.assignments)

    def _keep(self, by: dict[str, Assignment], taken: dict[str, int], rows: list[dict[str, Any]],
              added: Sequence[Assignment]) -> None:  # fmt: skip
        for a in added:
            by[a.device] = a
            taken[a.asset_type] = taken.get(a.asset_type, 0) + 1
            rows.append({"device": a.device, "asset_type": a.asset_type, "arm": str(a.arm), "position": a.position})
        object.__setattr__(self, "_by_device", by)
        object.__setattr__(self, "_taken", taken)
        object.__setattr__(self, "_rows", rows)

    def extended(self, added: Sequence[Assignment]) -> HoldoutRecord:
        """This record with `added` after its assignments (its lookups copied, not rebuilt).

        >>> r = HoldoutDesign(seed=1).assign({"m1": "motor"})
        >>> r.extended([Assignment("m2", "motor", Arm.TREATED, 1)]) == HoldoutRecord(1, 0.2, (*r.assignments,
        ...     Assignment("m2", "motor", Arm.TREATED, 1)))
        True
        """
        record = object.__new__(HoldoutRecord)
        for name, value in (("seed", self.seed), ("fraction", self.fraction), ("draw", self.draw),
                            ("assignments", self.assignments + tuple(added))):  # fmt: skip
            object.__setattr__(record, name, value)
        record._keep(dict(self._by_device), dict(self._taken), list(self._rows), added)
        return record

    def taken(self, asset_type: str) -> int:
        """How many devices of `asset_type` are assigned."""
        return self._taken.get(asset_type, 0)

    def get(self, device: str) -> Assignment | None:
        return self._by_device.get(device)

    def arm(self, device: str) -> Arm | None:
        found = self.get(device)
        return None if found is None else found.arm

    def devices(self, arm: Arm | None = None) -> list[str]:
        return [a.device for a in self.assignments if arm is None or a.arm is arm]

    def to_json(self, first: int = 0) -> dict[str, Any]:
        """The record; with `first`, only the assignments from that position on."""
        return {
            "seed": self.seed,
            "fraction": self.fraction,
            "draw": self.draw,
            "assignments": self._rows[first:],
        }

    def logged(self, first: int) -> dict[str, Any]:
        """What the store logs after an `assign`: the assignments from position `first` on, and `first`.

        >>> r = HoldoutDesign(seed=1).assign({"m1": "motor", "m2": "motor"})
        >>> r.logged(1)["assignments"] == r.to_json()["assignments"][1:], r.logged(1)["first"]
        (True, 1)
        """
        return {**self.to_json(first), "first": first}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HoldoutRecord:
        """
        >>> r = HoldoutDesign(seed=1).assign({"m1": "motor"})
        >>> HoldoutRecord.from_json(r.to_json()) == r
        True
        """
        return cls(
            int(data["seed"]),
            float(data["fraction"]),
            tuple(
                Assignment(str(a["device"]), str(a["asset_type"]), Arm(a["arm"]), int(a["position"]))
                for a in data["assignments"]
            ),
            str(data.get("draw", "sequence")),
        )


@dataclass(frozen=True, slots=True)
class HoldoutDesign:
    """The randomization: a seed and the fraction of each asset type's devices held out."""

    seed: int
    fraction: float = 0.2
    draw: str = "sequence"  # or "device": see the module's note

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction < 1.0:
            raise ValueError(f"holdout fraction {self.fraction} must be in [0, 1)")
        if self.draw not in ("sequence", "device"):
            raise ValueError(f"holdout draw {self.draw!r} must be sequence or device")

    def assign(self, devices: Mapping[str, str], record: HoldoutRecord | None = None) -> HoldoutRecord:
        """Assign the devices of `devices` (device -> asset type) that `record` does not hold yet."""
        if record is None:
            record = HoldoutRecord(self.seed, self.fraction, (), self.draw)
        elif (record.seed, record.fraction, record.draw) != (self.seed, self.fraction, self.draw):
            raise ValueError(
                f"record was made with seed={record.seed}, fraction={record.fraction}, draw={record.draw}; "
                f"this design has seed={self.seed}, fraction={self.fraction}, draw={self.draw}"
            )
        new = sorted(
            (asset, self._draw(asset, device), device)
            for device, asset in devices.items()
            if record.get(device) is None
        )
        taken: dict[str, int] = {}
        added: list[Assignment] = []
        for asset, u, device in new:
            k = taken[asset] = taken.get(asset, record.taken(asset) - 1) + 1
            arm = self._arm_at(asset, k) if self.draw == "sequence" else self._arm_of(u)
            added.append(Assignment(device, asset, arm, k))
        return record.extended(added)

    def _arm_of(self, u: float) -> Arm:
        return Arm.HOLDOUT if u < self.fraction else Arm.TREATED

    def _arm_at(self, asset_type: str, k: int) -> Arm:
        u = self._draw(asset_type, "")
        held = math.floor((k + 1) * self.fraction + u) > math.floor(k * self.fraction + u)
        return Arm.HOLDOUT if held else Arm.TREATED

    def _draw(self, asset_type: str, device: str) -> float:
        """A seeded uniform in [0, 1) from a hash: the same on every machine and Python version."""
        digest = hashlib.sha256(f"{self.seed}\x00{asset_type}\x00{device}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64
