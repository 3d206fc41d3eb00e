"""The error every rule, macro and policy parser raises: a message and the path of the bad part."""

from __future__ import annotations


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
