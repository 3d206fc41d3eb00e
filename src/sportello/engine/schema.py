"""The error every rule, macro and policy parser raises: a message and the path of the bad part."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


class RuleSchemaError(ValueError):
    """Invalid rule input. `path` locates the error in the document, e.g. `when.all[2].field`
    or `actions[0].set.value`; `message` says what is wrong in plain words."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def at(path: str, key: str | int) -> str:
    """The path of a child: `at("when.all", 2)` is `when.all[2]`, `at("when", "all")` is `when.all`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


# -- parsing helpers shared by every document parser ----------------------------------------------

# How deep any document we read may nest (objects and lists, counting the outermost): deep
# enough for the deepest rule (conditions nest at most ten groups), shallow enough that no
# recursive walk over the data can exhaust the stack.
NESTING_MAX = 64


def nesting_exceeds(value: object, limit: int = NESTING_MAX) -> bool:
    """Whether `value` (parsed JSON or YAML) nests objects and lists deeper than `limit`;
    iterative, so it is safe on any input."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Sequence[object] = list(node.values())
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


NAME_MAX = 200
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def mapping(data: object, path: str, required: Sequence[str], optional: Sequence[str] = ()) -> dict[str, Any]:
    """`data` as a mapping with the `required` keys and no key outside `required` + `optional`."""
    if not isinstance(data, dict):
        raise RuleSchemaError(path, "must be a mapping")
    for key in data:
        if key not in required and key not in optional:
            raise RuleSchemaError(at(path, str(key)[:60]), "unknown key")
    for key in required:
        if key not in data:
            raise RuleSchemaError(at(path, key), "is required")
    return data


def sequence(data: object, path: str, limit: int, *, absent_empty: bool = False) -> list[Any]:
    """`data` as a list of at most `limit` items; `absent_empty`: None reads as []."""
    if data is None and absent_empty:
        return []
    if not isinstance(data, list):
        raise RuleSchemaError(path, "must be a list")
    if len(data) > limit:
        raise RuleSchemaError(path, f"at most {limit} items")
    return data


def slug(value: object, path: str) -> str:
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise RuleSchemaError(
            path, "must be a key: 1 to 64 of a-z, 0-9, _ and -, starting with a letter or digit"
        )
    return value


def one_line(value: object, path: str, max_length: int = NAME_MAX) -> str:
    """A non-empty single-line string (a name)."""
    if not isinstance(value, str) or not value.strip():
        raise RuleSchemaError(path, "must be a non-empty string")
    if len(value) > max_length or any(c in value for c in "\x00\n\r"):
        raise RuleSchemaError(path, f"must be one line of at most {max_length} characters")
    return value


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise RuleSchemaError(path, "must be true or false")
    return value
