"""Regular expressions in conditions: the shapes that backtrack badly are refused when a
condition is parsed (`parse_regex`), so that evaluating a rule on hostile text stays linear;
`compiled_regex` caches the compiled patterns evaluation uses."""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Any

from sportello.engine.schema import RuleSchemaError

REGEX_MAX = 500


_sre: Any = importlib.import_module("re._parser")
_PROBE = "".join(chr(c) for c in range(32, 127)) + "\t\n\r\x0b\x0c\u00a0\u2003éÉßçñøЖж中٣_"
_CATEGORY_RE = {
    "CATEGORY_DIGIT": re.compile(r"\d"),
    "CATEGORY_NOT_DIGIT": re.compile(r"\D"),
    "CATEGORY_SPACE": re.compile(r"\s"),
    "CATEGORY_NOT_SPACE": re.compile(r"\S"),
    "CATEGORY_WORD": re.compile(r"\w"),
    "CATEGORY_NOT_WORD": re.compile(r"\W"),
}


def parse_regex(raw: object, path: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise RuleSchemaError(path, "must be a non-empty regular expression")
    if len(raw) > REGEX_MAX:
        raise RuleSchemaError(path, f"must be at most {REGEX_MAX} characters")
    problem = _pattern_problem(raw)
    if problem:
        raise RuleSchemaError(path, problem)
    return raw


@lru_cache(maxsize=512)
def _pattern_problem(pattern: str) -> str | None:
    try:
        re.compile(pattern)
        tree = _sre.parse(pattern)
    except (re.error, RecursionError, OverflowError) as e:
        return f"is not a valid regular expression: {e}"
    return _regex_problem(tree)


def _regex_problem(tree: Any) -> str | None:
    """Why the pattern may take too long, or None when its shape is safe."""
    repeats: list[list[Any]] = []
    items = list(tree)
    problem = _walk_regex(items, inside_repeat=False, repeats=repeats)
    if problem:
        return problem
    # A repetition that ends the pattern never backtracks (nothing after it can fail), so it
    # cannot multiply the work of another one: `^RE:.*refund.*` is fine.
    while items and str(items[-1][0]) == "AT":
        items.pop()
    if items and str(items[-1][0]) in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and repeats:
        repeats.pop()
    sets = [_chars_of(body) for body in repeats]
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            if sets[i] & sets[j]:
                return (
                    "has two repetitions that can match the same characters (as in .*a.*b): "
                    "it can take too long on long texts"
                )
    return None


def _walk_regex(items: list[Any], *, inside_repeat: bool, repeats: list[list[Any]]) -> str | None:
    for op, av in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _lo, hi, body = av
            body = list(body)
            many = hi > 1
            if many:
                if inside_repeat:
                    return "repeats a group that itself repeats (as in (a+)+): it can take too long"
                if _has_branch(body):
                    return "repeats a group with alternatives (as in (a|b)*): it can take too long"
                repeats.append(body)
            problem = _walk_regex(body, inside_repeat=inside_repeat or many, repeats=repeats)
        elif name == "SUBPATTERN":
            problem = _walk_regex(list(av[3]), inside_repeat=inside_repeat, repeats=repeats)
        elif name == "ATOMIC_GROUP":
            problem = _walk_regex(list(av), inside_repeat=inside_repeat, repeats=repeats)
        elif name in ("ASSERT", "ASSERT_NOT"):
            problem = _walk_regex(list(av[1]), inside_repeat=inside_repeat, repeats=repeats)
        elif name == "BRANCH":
            problem = None
            for seq in av[1]:
                problem = problem or _walk_regex(list(seq), inside_repeat=inside_repeat, repeats=repeats)
        elif name in ("GROUPREF", "GROUPREF_EXISTS", "GROUPREF_IGNORE", "GROUPREF_LOC_IGNORE"):
            return "must not use back-references or conditional groups"
        else:
            problem = None
        if problem:
            return problem
    return None


def _has_branch(items: list[Any]) -> bool:
    for op, av in items:
        name = str(op)
        if name == "BRANCH":
            return True
        if name == "SUBPATTERN" and _has_branch(list(av[3])):
            return True
        if name == "ATOMIC_GROUP" and _has_branch(list(av)):
            return True
        if name in ("ASSERT", "ASSERT_NOT") and _has_branch(list(av[1])):
            return True
    return False


def _chars_of(items: list[Any]) -> set[str]:
    """The probe characters that some single-character item of `items` may match (all of its
    case variants count, so case-insensitive patterns are covered)."""
    found: set[str] = set()
    for ch in _PROBE:
        variants = {v for v in (ch, ch.lower(), ch.upper()) if len(v) == 1}
        if any(_item_may_match(items, v) for v in variants):
            found.add(ch)
    return found


def _item_may_match(items: list[Any], ch: str) -> bool:
    code = ord(ch)
    for op, av in items:
        name = str(op)
        if name == "LITERAL" and av == code:
            return True
        if name in ("NOT_LITERAL", "ANY") and av != code:
            return True
        if name == "IN" and _in_class(list(av), ch):
            return True
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and _item_may_match(list(av[2]), ch):
            return True
        if name == "SUBPATTERN" and _item_may_match(list(av[3]), ch):
            return True
        if name == "ATOMIC_GROUP" and _item_may_match(list(av), ch):
            return True
        if name == "BRANCH" and any(_item_may_match(list(seq), ch) for seq in av[1]):
            return True
    return False


def _in_class(members: list[Any], ch: str) -> bool:
    code = ord(ch)
    negate = False
    hit = False
    for op, av in members:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif (name == "LITERAL" and av == code) or (name == "RANGE" and av[0] <= code <= av[1]):
            hit = True
        elif name == "CATEGORY":
            pattern = _CATEGORY_RE.get(str(av))
            if pattern is None or pattern.fullmatch(ch):
                hit = True
    return hit != negate


@lru_cache(maxsize=512)
def compiled_regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
