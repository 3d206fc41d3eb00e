"""Placeholders in message text, subjects and webhook bodies: `{{ ticket.number }}`,
`{{ requester.name }}`, `{{ ticket.custom.order_id }}`, `{{ agent.name }}`.

Templates are Jinja2, rendered in a sandbox over plain nested dicts (`context_from_facts`):
- names resolve only to keys of those dicts (and list items): no attribute of any object, no key
  starting with `_`, no global (`range`, `cycler`, `lipsum`, ... are gone), and calls return
  nothing, so `{{ ''.__class__ }}` or `{{ cycler.__init__.__globals__ }}` render empty;
- an unknown name renders empty, however deep (`{{ ticket.custom.missing.x }}`), and compares
  false; only plain values (str, numbers, dates) render: None and any other object render
  empty, a list renders as its items joined by ", ";
- only a small list of filters is available (`FILTERS`); `include`, `extends`, `import`,
  `macro` and `call` blocks are refused;
- `*`, `**`, `/`, `//` and `%` are guarded: a result that would be too large, a division by
  zero or a string formatting renders empty;
- templates are at most `TEMPLATE_MAX` characters; output stops at `OUTPUT_MAX` characters.

`check_template` is the parse-time check (RuleSchemaError with the given path). `render` never
raises: a template that fails the check renders as its own text (cut to `OUTPUT_MAX`), and an
error while rendering ends the output where it happened. Text is not escaped; `html=True`
escapes every inserted value for HTML.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEnvironment

from sportello.engine.schema import RuleSchemaError

TEMPLATE_MAX = 20_000
OUTPUT_MAX = 100_000
POWER_MAX = 64  # largest exponent of `**`

FILTERS = frozenset(
    {
        "abs",
        "capitalize",
        "count",
        "d",
        "default",
        "e",
        "escape",
        "first",
        "join",
        "last",
        "length",
        "lower",
        "replace",
        "round",
        "sort",
        "striptags",
        "title",
        "trim",
        "truncate",
        "unique",
        "upper",
    }
)
_FORBIDDEN_NODES: dict[type[nodes.Node], str] = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
}


class _Blank(ChainableUndefined):
    """An unknown name: renders empty, chains (`a.b.c`), calls to itself, compares false."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> _Blank:  # type: ignore[override]
        return self

    def __lt__(self, other: Any) -> bool:  # type: ignore[override]
        return False

    __le__ = __gt__ = __ge__ = __lt__  # type: ignore[assignment]

    def _same(self, *args: Any) -> _Blank:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same  # type: ignore[assignment]
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _same  # type: ignore[assignment]
    __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = __pos__ = _same  # type: ignore[assignment]


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}


_LOOP_ATTRIBUTES = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length"})


def _is_index(obj: Any, argument: Any) -> bool:
    if not isinstance(obj, list | tuple) or not isinstance(argument, int) or isinstance(argument, bool):
        return False
    return -len(obj) <= argument < len(obj)


def _refused(operator: str, left: Any, right: Any) -> bool:
    """Whether a guarded operation would be too large or is not arithmetic on numbers."""
    if operator == "*" and (_sized(left) or _sized(right)):
        seq, times = (left, right) if _sized(left) else (right, left)
        return not isinstance(times, int) or len(seq) * max(times, 0) > OUTPUT_MAX
    if not all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in (left, right)):
        return True
    return operator == "**" and (abs(right) > POWER_MAX or abs(left) > 2**64)


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset(_BINOPS)

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self.getitem(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping) and isinstance(argument, str) and not argument.startswith("_"):
            if argument in obj:
                return obj[argument]
        elif isinstance(obj, LoopContext) and argument in _LOOP_ATTRIBUTES:
            return getattr(obj, argument)
        elif _is_index(obj, argument):
            return obj[argument]
        return self.undefined(obj=obj, name=str(argument))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        return __self.undefined(name="call")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if isinstance(left, _Blank) or isinstance(right, _Blank):
            return self.undefined(name=operator)
        if _refused(operator, left, right):
            return self.undefined(name=operator)
        try:
            return _BINOPS[operator](left, right)
        except (ArithmeticError, TypeError, ValueError):
            return self.undefined(name=operator)


def _finalize(value: Any) -> Any:
    """Only plain values render: None and any other object (a template reference, a function)
    render empty; a list renders as its items joined by ", "."""
    if isinstance(value, list | tuple):
        return ", ".join(str(_finalize(v)) for v in value)
    if isinstance(value, str | int | float | Decimal | date):
        return value
    return ""


def _environment(html: bool) -> _Sandbox:
    env = _Sandbox(autoescape=html, undefined=_Blank, finalize=_finalize, keep_trailing_newline=True)
    env.globals.clear()
    env.filters = {name: f for name, f in env.filters.items() if name in FILTERS}
    return env


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def _problem(template: str) -> str | None:
    if not isinstance(template, str):
        return "must be a string"
    if len(template) > TEMPLATE_MAX:
        return f"must be at most {TEMPLATE_MAX} characters"
    try:
        tree = _TEXT.parse(template)
    except TemplateError as e:
        line = getattr(e, "lineno", None)
        where = f" (line {line})" if line else ""
        return f"is not a valid template{where}: {e.message or e}"
    for kind, tag in _FORBIDDEN_NODES.items():
        if tree.find(kind) is not None:
            return f"must not use {tag!r}"
    for node in tree.find_all(nodes.Filter):
        if node.name not in FILTERS:
            return f"uses the unknown filter {node.name!r}; available: {', '.join(sorted(FILTERS))}"
    return None


def check_template(template: str, *, path: str) -> None:
    """Raise RuleSchemaError(path, ...) unless `template` parses and keeps to the sandbox's rules."""
    problem = _problem(template)
    if problem:
        raise RuleSchemaError(path, problem)


@lru_cache(maxsize=256)
def _compiled(template: str, html: bool) -> Any:
    if _problem(template):
        return None
    env = _HTML if html else _TEXT
    try:
        return env.from_string(template)
    except TemplateError:
        return None


def render(template: str, context: Mapping[str, Any], *, html: bool = False) -> str:
    """`template` rendered over `context` (plain nested dicts). Never raises (see the module)."""
    if not isinstance(template, str):
        return ""
    compiled = _compiled(template, html)
    if compiled is None:
        return template[:OUTPUT_MAX]
    out: list[str] = []
    size = 0
    chunks: Iterator[str] = compiled.generate(dict(context))
    try:
        for chunk in chunks:
            out.append(chunk)
            size += len(chunk)
            if size >= OUTPUT_MAX:
                break
    except Exception:  # noqa: S110 - any runtime error ends the output where it happened
        pass
    return "".join(out)[:OUTPUT_MAX]


def placeholders_of(template: str) -> set[str]:
    """The dotted names the template reads (`{"ticket.custom.order_id", "requester.name"}`),
    without names it sets itself (loop variables, `set`). Empty for an invalid template."""
    if _problem(template):
        return set()
    tree = _TEXT.parse(template)
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")} | {"loop"}
    found: set[str] = set()
    _collect(tree, found)
    return {name for name in found if name.split(".", 1)[0] not in local}


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name if node.ctx == "load" else None
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return f"{base}.{node.attr}" if base else None
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        base = _dotted(node.node)
        return f"{base}.{node.arg.value}" if base else None
    return None


def _collect(node: nodes.Node, found: set[str]) -> None:
    name = _dotted(node)
    if name is not None:
        found.add(name)
        return
    for child in node.iter_child_nodes():
        _collect(child, found)


def context_from_facts(facts: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Nest flat facts for templates: `{"ticket.custom.order_id": 7}` becomes
    `{"ticket": {"custom": {"order_id": 7}}}`. Sets become sorted lists. `extra` (already nested)
    is merged on top. A fact whose path runs through a non-mapping value is left out."""
    context: dict[str, Any] = {}
    for path in sorted(facts):
        if not isinstance(path, str) or not path:
            continue
        parts = path.split(".")
        node = context
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            if not isinstance(node.get(parts[-1]), dict):
                node[parts[-1]] = _plain(facts[path])
    if extra:
        _merge(context, extra)
    return context


def _plain(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:
            return sorted(value, key=repr)
    return value


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        current = into.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value)
        else:
            into[key] = {**value} if isinstance(value, Mapping) else _plain(value)
