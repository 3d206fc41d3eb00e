"""Django's standard form templates written in Python: the same string, without the template engine.

Django renders every widget, every `label_tag` and every `<option>` of a select through its
template engine: `select.html` includes `select_option.html` once per option, each including
`attrs.html`. On a Desk page with twenty fields and selects of dozens of agents that was a sixth
of the page's time. Each function here renders one of Django 6.1's templates (in
`django/forms/templates/`) from the context the template receives (a widget's `get_context()`,
an option of its `optgroups`, `BoundField.label_tag`'s context) and returns exactly the string the
engine returns:

- `{{ x }}` as the engine prints it: an aware datetime in the current time zone, numbers and dates
  localised in the active language, then escaped unless safe (`_printed`);
- `{{ x|stringformat:'s' }}`: `%s` of the value, never localised, escaped unless the value itself
  was a SafeString (`_formatted`);
- attributes in their dict's order, `False` left out, `True` as a bare name;
- the templates' own whitespace: a template included by another keeps its file's final newline
  (`<option …>…</option>\\n`), so each function returns what its file renders to, and the
  renderer strips the outer result as `BaseRenderer.render` does.

A function raises `Unsupported` where the context holds what it does not reproduce: a value the
engine would call (it calls callables it meets), a mapping that is not a plain dict, an `attrs`
with a key named `items` (the engine would loop over that key), a missing key, an option of
another template. The renderer then renders the template (`web.fields.DeskFormRenderer`).

`usable()` says which templates may be rendered here: those whose files (the template and every
template it includes) are Django's own as the renderer loads them, from an engine that escapes
and prints nothing for a missing variable. A project or app overriding one of them keeps its
template; anything else (file inputs, multi-widgets, a widget's own template) is not listed.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django.forms
from django.template import TemplateDoesNotExist
from django.template.defaultfilters import stringformat
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # missing from django-stubs

WIDGETS = "django/forms/widgets/"
LABEL = "django/forms/label.html"
_DJANGO_TEMPLATES = Path(django.forms.__file__).parent / "templates"

# Renders a widget's context (or an option's), given the names of the templates usable here.
TemplateFunction = Callable[[dict[str, Any], frozenset[str]], str]


class Unsupported(Exception):
    """The context holds something these functions do not render the way the engine does."""


# --- values, as the engine prints and looks them up ---------------------------------------------


def _printed(value: Any) -> str:
    """`{{ value }}` as the engine prints it (autoescaping on)."""
    if type(value) is str:
        return html.escape(value)
    value = localize(template_localtime(value))
    if not issubclass(type(value), str):
        value = str(value)
    return conditional_escape(value)


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}` (a safe filter: a SafeString's text stays unescaped)."""
    if type(value) is str:
        return html.escape(value)
    text = stringformat(value, "s")
    return text if isinstance(value, SafeData) else html.escape(text)


def _plain(value: Any) -> Any:
    """`value` as the engine resolves it, where it would not call it."""
    if callable(value):
        raise Unsupported(value)
    return value


def _get(mapping: dict[str, Any], key: str) -> Any:
    """`mapping.key` where the templates expect the key."""
    try:
        return _plain(mapping[key])
    except KeyError:
        raise Unsupported(key) from None


def _dict(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise Unsupported(value)
    return value


def _include(option: Any, usable: frozenset[str]) -> str:
    """`{% include option.template_name with widget=option %}`."""
    option = _dict(option)
    name = _get(option, "template_name")
    if name not in usable or name not in _WIDGET_TEMPLATES:
        raise Unsupported(name)
    return _WIDGET_TEMPLATES[name][0](option, usable)


# --- the templates --------------------------------------------------------------------------------


def attrs_html(attrs: Any) -> str:
    """`widgets/attrs.html` over a widget's `attrs`, and `django/forms/attrs.html` (the same loop)
    over a label's."""
    attrs = _dict(attrs)
    if "items" in attrs:
        raise Unsupported("items")
    out = []
    for name, value in attrs.items():
        if _plain(value) is not False:
            out.append(" " + _printed(_plain(name)))
            if value is not True:
                out.append('="' + _formatted(value) + '"')
    return "".join(out)


def input_html(widget: dict[str, Any]) -> str:
    """`widgets/input.html`."""
    value = _get(widget, "value")
    html_ = f'<input type="{_printed(_get(widget, "type"))}" name="{_printed(_get(widget, "name"))}"'
    if value != None:  # noqa: E711 (the template's own test)
        html_ += f' value="{_formatted(value)}"'
    return html_ + attrs_html(_get(widget, "attrs")) + ">\n"


def textarea_html(widget: dict[str, Any]) -> str:
    """`widgets/textarea.html`."""
    value = _get(widget, "value")
    return (
        f'<textarea name="{_printed(_get(widget, "name"))}"{attrs_html(_get(widget, "attrs"))}>\n'
        f"{_printed(value) if value else ''}</textarea>\n"
    )


def select_html(widget: dict[str, Any], usable: frozenset[str]) -> str:
    """`widgets/select.html`: its options through their own template (`select_option.html`)."""
    out = [f'<select name="{_printed(_get(widget, "name"))}"{attrs_html(_get(widget, "attrs"))}>']
    for group_name, group_choices, _index in _get(widget, "optgroups"):
        if _plain(group_name):
            out.append(f'\n  <optgroup label="{_printed(group_name)}">')
        for option in _plain(group_choices):
            out.append("\n  " + _include(option, usable))
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>\n")
    return "".join(out)


def select_option_html(widget: dict[str, Any]) -> str:
    """`widgets/select_option.html`: one option of `select_html` (its `widget` is the option)."""
    return (
        f'<option value="{_formatted(_get(widget, "value"))}"{attrs_html(_get(widget, "attrs"))}>'
        f"{_printed(_get(widget, 'label'))}</option>\n"
    )


def multiple_input_html(widget: dict[str, Any], usable: frozenset[str]) -> str:
    """`widgets/multiple_input.html` (through `radio.html` and `checkbox_select.html`): a `<div>`
    of options, each through its own template (`radio_option.html`, `checkbox_option.html`)."""
    attrs = _dict(_get(widget, "attrs"))
    id_, class_ = _plain(attrs.get("id")), _plain(attrs.get("class"))
    out = ["<div"]
    if id_:
        out.append(f' id="{_printed(id_)}"')
    if class_:
        out.append(f' class="{_printed(class_)}"')
    out.append(">")
    for group, options, _index in _get(widget, "optgroups"):
        if _plain(group):
            out.append(f"\n  <div><label>{_printed(group)}</label>")
        for option in _plain(options):
            out.append("<div>\n    " + _include(option, usable) + "</div>")
        if group:
            out.append("\n  </div>")
    out.append("\n</div>\n")
    return "".join(out)


def input_option_html(widget: dict[str, Any]) -> str:
    """`widgets/input_option.html` (through `radio_option.html` and `checkbox_option.html`): one
    option of `multiple_input_html`, or a `BoundWidget.tag()`; the input inside its label when
    `wrap_label`."""
    wrap_label = _plain(widget.get("wrap_label"))
    out = ""
    if wrap_label:
        id_ = _plain(_dict(_get(widget, "attrs")).get("id"))
        out = f'<label for="{_printed(id_)}">' if id_ else "<label>"
    out += input_html(widget)
    if wrap_label:
        out += f" {_printed(_get(widget, 'label'))}</label>"
    return out + "\n"


def label_html(context: Any) -> str:
    """`django/forms/label.html` from `BoundField.label_tag`'s context."""
    context = _dict(context)
    if context.keys() != {"field", "label", "attrs", "use_tag", "tag"}:
        raise Unsupported(context.keys())
    label = _printed(_get(context, "label"))
    if not _get(context, "use_tag"):
        return label + "\n"
    tag = _printed(_get(context, "tag"))
    return f"<{tag}{attrs_html(_get(context, 'attrs'))}>{label}</{tag}>\n"


# --- which templates, standing for which files ----------------------------------------------------


def _widget_only(function: Callable[[dict[str, Any]], str]) -> TemplateFunction:
    return lambda widget, usable: function(widget)


def _including(template: TemplateFunction) -> TemplateFunction:
    """A template that is `{% include "<template>" %}` and a newline (`text.html`, `radio.html`, …)."""
    return lambda widget, usable: template(widget, usable) + "\n"


_ATTRS = WIDGETS + "attrs.html"
_INPUT = (WIDGETS + "input.html", _ATTRS)
_ONLY_INPUT: tuple[str, ...] = ("text", "email", "number", "hidden", "password", "url", "tel")
_ONLY_INPUT += ("search", "date", "datetime", "time", "color", "checkbox")
_MULTIPLE = (WIDGETS + "multiple_input.html",)
_OPTION = (WIDGETS + "input_option.html", *_INPUT)
_input, _input_option = _widget_only(input_html), _widget_only(input_option_html)

# template name -> (its function, every file its output depends on)
_WIDGET_TEMPLATES: dict[str, tuple[TemplateFunction, tuple[str, ...]]] = {
    WIDGETS + "input.html": (_input, _INPUT),
    **{WIDGETS + f"{n}.html": (_including(_input), (WIDGETS + f"{n}.html", *_INPUT)) for n in _ONLY_INPUT},
    WIDGETS + "textarea.html": (_widget_only(textarea_html), (WIDGETS + "textarea.html", _ATTRS)),
    WIDGETS + "select.html": (select_html, (WIDGETS + "select.html", _ATTRS)),
    WIDGETS + "select_option.html": (
        _widget_only(select_option_html),
        (WIDGETS + "select_option.html", _ATTRS),
    ),
    WIDGETS + "multiple_input.html": (multiple_input_html, _MULTIPLE),
    WIDGETS + "radio.html": (_including(multiple_input_html), (WIDGETS + "radio.html", *_MULTIPLE)),
    WIDGETS + "checkbox_select.html": (
        _including(multiple_input_html),
        (WIDGETS + "checkbox_select.html", *_MULTIPLE),
    ),
    WIDGETS + "input_option.html": (_input_option, _OPTION),
    WIDGETS + "radio_option.html": (_including(_input_option), (WIDGETS + "radio_option.html", *_OPTION)),
    WIDGETS + "checkbox_option.html": (
        _including(_input_option),
        (WIDGETS + "checkbox_option.html", *_OPTION),
    ),
}
_LABEL_FILES = (LABEL, "django/forms/attrs.html")


def _djangos_own(get_template: Callable[[str], Any], name: str) -> bool:
    """Whether `get_template(name)` loads Django's own file into an engine that escapes and prints
    nothing for a missing variable (the settings the functions above reproduce)."""
    try:
        template = get_template(name)
    except TemplateDoesNotExist:
        return False
    origin = getattr(template, "origin", None)
    engine = getattr(getattr(template, "template", None), "engine", None)
    return (
        origin is not None
        and Path(origin.name).resolve() == (_DJANGO_TEMPLATES / name).resolve()
        and getattr(engine, "autoescape", False) is True
        and getattr(engine, "string_if_invalid", None) == ""
    )


def usable(get_template: Callable[[str], Any]) -> frozenset[str]:
    """The names of the templates rendered here: those whose files `get_template` (a form
    renderer's) finds to be Django's own."""
    files = {f for _, needed in _WIDGET_TEMPLATES.values() for f in needed} | set(_LABEL_FILES)
    own = {f for f in files if _djangos_own(get_template, f)}
    names = {name for name, (_, needed) in _WIDGET_TEMPLATES.items() if own.issuperset(needed)}
    return frozenset(names | ({LABEL} if own.issuperset(_LABEL_FILES) else set()))


def render(template_name: str, context: Any, usable: frozenset[str]) -> str:
    """`template_name` (one of `usable`) rendered with a form renderer's `context`, unstripped;
    raises `Unsupported` for a context the functions do not reproduce."""
    if template_name == LABEL:
        return label_html(context)
    context = _dict(context)
    if context.keys() != {"widget"}:
        raise Unsupported(context.keys())
    return _WIDGET_TEMPLATES[template_name][0](_dict(context["widget"]), usable)
