"""Reading a policy file: YAML in, a validated `Policy` out, or a `PolicyError` naming the field and YAML line.

`load_policy` is the one function of `policy/` that reads a file.

>>> parse_policy("version: 1\\nautonomy: {site: 5}\\n")
Traceback (most recent call last):
...
edgeloop.policy.load.PolicyError: policy line 2: autonomy.site: Input should be 0, 1, 2 or 3
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from edgeloop.model.yamldoc import YamlFieldError, validate_yaml
from edgeloop.policy.schema import Policy

DEFAULT_FILE = "default_policy.yaml"


class PolicyError(YamlFieldError):
    """A bad policy. `field` is the dotted path, `line` the 1-based YAML line when known."""

    def __init__(self, field: str, reason: str, line: int | None = None, source: str = "policy") -> None:
        super().__init__(field, reason, line, source)


def parse_policy(text: str, source: str = "policy") -> Policy:
    """Validate a policy from YAML text; the first problem is raised as a `PolicyError`."""
    return validate_yaml(text, Policy, source, "a mapping with version, autonomy, rules, guardrails", PolicyError)


def load_policy(path: Path | None = None) -> Policy:
    """Read a policy file; without a path, the shipped default (recommend schedule_maintenance above 0.9)."""
    if path is None:
        text = resources.files("edgeloop.policy").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
        return parse_policy(text, DEFAULT_FILE)
    return parse_policy(path.read_text(encoding="utf-8"), path.name)
