"""NAB's application profiles: how much a detected window earns and a false or missed alarm costs.

`config/profiles.json` stores magnitudes; the scorer applies the signs (a false positive row costs
`fp_weight` times a negative sigmoid value, a missed window costs `-fn_weight`).

>>> p = parse_profiles('{"standard": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 0.11}}}')
>>> p["standard"].fp_weight
0.11
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

#: the three profiles NAB reports, in the order of its scoreboard
PROFILE_NAMES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
_KEYS = {"tp_weight": "tpWeight", "fp_weight": "fpWeight", "fn_weight": "fnWeight", "tn_weight": "tnWeight"}


class ProfileError(ValueError):
    """A profiles file that cannot be used; `path` names it when it came from a file."""

    def __init__(self, reason: str, path: Path | None = None) -> None:
        self.reason, self.path = reason, path
        super().__init__(f"{path}: {reason}" if path is not None else reason)


@dataclass(frozen=True, slots=True)
class Profile:
    """Weight magnitudes of one profile. `tn_weight` is kept as read but NAB's scorer never uses it."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float
    tn_weight: float = 0.0


def parse_profiles(raw: bytes | str, path: Path | None = None) -> dict[str, Profile]:
    """Profiles from the JSON text of a `profiles.json`, keyed by name, in file order."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProfileError(f"not JSON: {exc}", path) from exc
    if not isinstance(doc, dict) or not doc:
        raise ProfileError("expected an object of profiles", path)
    profiles: dict[str, Profile] = {}
    for name, body in doc.items():
        matrix = body.get("CostMatrix") if isinstance(body, dict) else None
        if not isinstance(matrix, dict):
            raise ProfileError(f"profile {name!r} has no CostMatrix object", path)
        weights: dict[str, float] = {}
        for field, key in _KEYS.items():
            value = matrix.get(key, 0.0 if field == "tn_weight" else None)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ProfileError(f"profile {name!r}: {key} must be a number, got {value!r}", path)
            weights[field] = float(value)
        profiles[name] = Profile(name=name, **weights)
    return profiles


def load_profiles(path: Path) -> dict[str, Profile]:
    """Read a `profiles.json`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read: {exc.strerror}", path) from exc
    return parse_profiles(raw, path)
