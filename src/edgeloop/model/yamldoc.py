"""Validating a YAML document against a pydantic model, with errors that name the field and its line.

Used by the files people write by hand (a site's economics, its policy). A key given twice is an error:
YAML would keep the last one without a word, silently dropping a limit or a cost.

>>> from pydantic import BaseModel
>>> class Limits(BaseModel):
...     max: int
>>> validate_yaml("max: 3", Limits, "limits.yaml", "a mapping").max
3
>>> try:
...     validate_yaml("max: 3\\nmax: x", Limits, "limits.yaml", "a mapping")
... except YamlFieldError as exc:
...     print(exc)
limits.yaml line 2: max: key given twice
"""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class YamlFieldError(ValueError):
    """A bad document. `field` is the dotted path, `line` the 1-based YAML line when known."""

    def __init__(self, field: str, reason: str, line: int | None = None, source: str = "document") -> None:
        self.field, self.reason, self.line, self.source = field, reason, line, source
        where = f"{source} line {line}" if line is not None else source
        super().__init__(f"{where}: {field}: {reason}")


def validate_yaml(
    text: str, model: type[M], source: str, shape: str, error: type[YamlFieldError] = YamlFieldError
) -> M:
    """`model` from YAML `text`; the first problem is raised as `error` (`shape` says what the top must be)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise error("(file)", f"not valid YAML: {getattr(exc, 'problem', exc)}", line, source) from exc
    if not isinstance(data, dict):
        raise error("(file)", f"must be {shape}", 1, source)
    _no_duplicate_keys(node, (), source, error)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        raise error(".".join(map(str, loc)) or "(file)", reason, line_of(node, loc), source) from None


def _no_duplicate_keys(node: Any, loc: tuple[str, ...], source: str, error: type[YamlFieldError]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                raise error(".".join((*loc, name)), "key given twice", key.start_mark.line + 1, source)
            seen.add(name)
            _no_duplicate_keys(value, (*loc, name), source, error)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _no_duplicate_keys(item, (*loc, str(i)), source, error)


def line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the YAML node on `loc`: a mapping entry by its key's line (an unknown or block-valued key is
    found where it is written), a missing key by its parent's."""
    line = None if node is None else node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if entry is None:
                return line
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line
