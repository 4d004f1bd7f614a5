"""Temporary: selection files moved to `edgeloop.learn.selection`; `agent/site.py` imports this until it switches.

Delete this module when `site.py` imports from `edgeloop.learn.selection`.
"""

from edgeloop.learn.selection import load_selection

__all__ = ["load_selection"]
