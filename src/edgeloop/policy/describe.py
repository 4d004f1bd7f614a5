"""What `edgeloop policy` prints: a policy file in one line, and a stored decision record explained line by line.

Pure: both take values (a parsed policy, a decision's JSON record) and return text.
"""

from __future__ import annotations

from typing import Any

from edgeloop.policy.schema import Policy


def summary(policy: Policy) -> str:
    """One line: how many rules, and the autonomy levels.

    >>> summary(Policy.model_validate({"rules": [{"name": "r", "action": "stop"}],
    ...                                "autonomy": {"site": 1, "asset_types": {"pump": 3}, "actions": {"stop": 2}}}))
    '1 rule, autonomy site 1, asset types pump 3, actions stop 2'
    """
    autonomy = policy.autonomy
    n = len(policy.rules)
    parts = [f"{n} rule{'' if n == 1 else 's'}", f"autonomy site {int(autonomy.site)}"]
    if autonomy.asset_types:
        parts.append("asset types " + ", ".join(f"{k} {int(v)}" for k, v in autonomy.asset_types.items()))
    if autonomy.actions:
        parts.append("actions " + ", ".join(f"{k} {int(v)}" for k, v in autonomy.actions.items()))
    return ", ".join(parts)


def explain_lines(record: dict[str, Any]) -> list[str]:
    """What `explain` prints for one decision record.

    >>> explain_lines({"id": "d1", "device": "p1", "rule": "r", "status": "blocked", "autonomy": 3, "reason": "x",
    ...                "guardrails": [{"name": "quiet_hours", "passed": False, "detail": "inside"}]})[-1]
    '  FAIL quiet_hours: inside'
    """
    lines = [
        f"decision {record.get('id', '?')} (device {record.get('device', '?')})",
        f"rule:     {record.get('rule') or '(no rule matched)'}",
        f"status:   {record.get('status', '?')}",
        f"reason:   {record.get('reason') or '(none recorded)'}",
        f"autonomy: {record.get('autonomy', '?')}",
    ]
    if record.get("on_delay_s"):
        lines.append(f"on-delay: raised after {record['on_delay_s']:g} s: operators called alarms like it false "
                     "and they went away on their own (edgeloop.learn.ondelay)")  # fmt: skip
    checks = record.get("guardrails")
    if not isinstance(checks, list):
        lines.append("guardrails: none stored in this record (decided before the policy engine stored them)")
        return lines
    lines.append("guardrails:" if checks else "guardrails: none evaluated")
    for check in checks:
        if not isinstance(check, dict):
            lines.append(f"  ???? {check!r}")
            continue
        mark = "ok  " if check.get("passed") else "FAIL"
        lines.append(f"  {mark} {check.get('name', '?')}: {check.get('detail', '')}")
    return lines
