"""Site and device ids: `[a-z0-9][a-z0-9_-]{0,63}`, the only ids that may appear in a topic."""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def is_valid_id(text: str) -> bool:
    """Tell whether `text` is a valid site or device id.

    >>> is_valid_id("pump-07"), is_valid_id("Pump 7"), is_valid_id("-x")
    (True, False, False)
    """
    return ID_PATTERN.fullmatch(text) is not None
