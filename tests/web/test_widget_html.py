"""The Desk's form renderer writes Django's standard widgets and labels in Python (web.widget_html):
byte for byte what Django's templates render, for any name, attributes, value and choices, in
every language of the Desk; an overridden template, a widget's own template or context, and
anything else go through the templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import django.forms
import pytest
from django import forms
from django.forms.boundfield import BoundWidget
from django.utils import translation
from django.utils.functional import Promise, cached_property
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy, pgettext_lazy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.web import widget_html
from sportello.web.fields import DeskFormRenderer

DJANGO_TEMPLATES = Path(django.forms.__file__).parent / "templates"


class TemplatesOnly(DeskFormRenderer):
    """The Desk's renderer without its Python: every template through the engine."""

    python_templates = frozenset()


class Counting(DeskFormRenderer):
    """The Desk's renderer, counting the templates it loads (none when it renders in Python)."""

    loaded: list[str]

    def __init__(self) -> None:
        self.loaded = []

    def get_template(self, template_name: str) -> Any:
        self.loaded.append(template_name)
        return super().get_template(template_name)

    def reset(self) -> Counting:
        _ = self.python_templates  # the start-up check loads every template once
        self.loaded.clear()
        return self


TEMPLATES = TemplatesOnly()
PYTHON = Counting().reset()

# --- values of every kind a template prints ---------------------------------------------------------

text = st.text(st.sampled_from("ab <>&\"'é€中\u200f\n\t%s{}") | st.characters(codec="utf-8"), max_size=10)
lazy = st.sampled_from(
    [
        gettext_lazy("Yes"),
        gettext_lazy("No"),
        gettext_lazy("Unknown"),
        gettext_lazy("This field is required."),
        gettext_lazy("Enter a valid date."),
        pgettext_lazy("month name", "May"),
    ]
)
safe = text.map(mark_safe)
numbers = st.one_of(
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
moments = st.one_of(
    st.dates(),
    st.times(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))])),
)
scalars = st.one_of(text, lazy, safe, numbers, moments, st.booleans(), st.none())
attr_names = st.one_of(
    st.sampled_from(["id", "class", "disabled", "required", "aria-describedby", "data-x", "placeholder"]),
    st.sampled_from(["type", "multiple", "checked", "selected", "value", "name"]),
    text.filter(lambda n: n != "items"),  # an attribute named `items` is left to the engine
    st.integers(0, 5),
)
attrs = st.dictionaries(attr_names, scalars, max_size=5)
names = st.one_of(text, st.sampled_from(["status", "contact-name", "cf_order"]))
choice_values = st.one_of(
    text, safe, st.integers(-5, 2000), st.decimals(places=2, allow_nan=False, allow_infinity=False)
)
choice_labels = st.one_of(text, lazy, safe, numbers, moments)
flat_choices = st.lists(st.tuples(choice_values | st.none(), choice_labels), max_size=6)
choices = st.lists(
    st.one_of(
        st.tuples(choice_values | st.none(), choice_labels),
        st.tuples(st.one_of(text.filter(bool), lazy, st.integers(1, 9)), flat_choices.filter(bool)),
    ),
    max_size=6,
)
languages = st.sampled_from(["en", "es", "it"])

INPUTS = [
    forms.TextInput,
    forms.EmailInput,
    forms.NumberInput,
    forms.HiddenInput,
    forms.URLInput,
    forms.SearchInput,
    forms.TelInput,
    forms.ColorInput,
    forms.DateInput,
    forms.DateTimeInput,
    forms.TimeInput,
    forms.Textarea,
]
CHOICES = [forms.Select, forms.SelectMultiple, forms.RadioSelect, forms.CheckboxSelectMultiple]


def rendered(render: Any) -> str:
    """`render(renderer)` through the templates and in Python, which must be the same string; the
    Python one loads no template."""
    by_templates = render(TEMPLATES)
    PYTHON.loaded.clear()
    in_python = render(PYTHON)
    assert in_python == by_templates
    assert PYTHON.loaded == []
    return in_python


@st.composite
def selected(draw: Any, given_choices: list[Any]) -> Any:
    """A widget's value for these choices: nothing, one of them (as given or as text), or several."""
    values = [
        v
        for value, label in given_choices
        for v in ([c for c, _ in label] if isinstance(label, list) else [value])
    ]
    one = st.sampled_from(values) if values else st.none()
    return draw(st.one_of(st.none(), st.just(""), one, one.map(str), st.lists(one, max_size=3), scalars))


# --- the property -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    widget_class=st.sampled_from(INPUTS),
    name=names,
    base_attrs=attrs,
    extra_attrs=attrs,
    value=scalars,
    localized=st.booleans(),
    language=languages,
)
def test_inputs_and_textareas_render_as_their_templates(
    widget_class: type[forms.Widget],
    name: str,
    base_attrs: dict[Any, Any],
    extra_attrs: dict[Any, Any],
    value: Any,
    localized: bool,
    language: str,
) -> None:
    widget = widget_class(attrs=base_attrs)
    widget.is_localized = localized
    with translation.override(language):
        rendered(lambda r: widget.render(name, value, extra_attrs, renderer=r))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=names,
    base_attrs=attrs,
    extra_attrs=attrs,
    value=scalars | st.sampled_from(["true", "false", "on"]),
    render_value=st.booleans(),
    language=languages,
)
def test_checkboxes_and_passwords_render_as_their_templates(
    name: str,
    base_attrs: dict[Any, Any],
    extra_attrs: dict[Any, Any],
    value: Any,
    render_value: bool,
    language: str,
) -> None:
    with translation.override(language):
        checkbox = forms.CheckboxInput(attrs=base_attrs)
        rendered(lambda r: checkbox.render(name, value, extra_attrs, renderer=r))
        password = forms.PasswordInput(attrs=base_attrs, render_value=render_value)
        rendered(lambda r: password.render(name, value, extra_attrs, renderer=r))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    widget_class=st.sampled_from([*CHOICES, forms.NullBooleanSelect]),
    name=names,
    base_attrs=attrs,
    extra_attrs=attrs,
    given_choices=choices,
    data=st.data(),
    wrap_label=st.booleans(),
    language=languages,
)
def test_choice_widgets_and_their_options_render_as_their_templates(
    widget_class: type[forms.widgets.ChoiceWidget],
    name: str,
    base_attrs: dict[Any, Any],
    extra_attrs: dict[Any, Any],
    given_choices: list[Any],
    data: Any,
    wrap_label: bool,
    language: str,
) -> None:
    widget = widget_class(attrs=base_attrs)
    if widget_class is forms.NullBooleanSelect:
        value = data.draw(scalars | st.sampled_from([True, False, "true", "false", "2", "3"]))
    else:
        widget.choices = given_choices
        value = data.draw(selected(given_choices))
    with translation.override(language):
        rendered(lambda r: widget.render(name, value, extra_attrs, renderer=r))
        # each option alone, as a template's `{% for radio in field %}{{ radio.tag }}` prints it
        for option in widget.subwidgets(name, value, extra_attrs):
            rendered(lambda r, option=option: BoundWidget(widget, option, r).tag(wrap_label=wrap_label))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    label=st.one_of(text, lazy, safe, st.none()),
    contents=st.one_of(st.none(), text, safe),
    auto_id=st.sampled_from(["id_%s", "%s", "", False, "f-<%s>"]),
    widget_id=st.one_of(st.none(), text),
    label_suffix=st.one_of(st.none(), st.sampled_from([":", "", " →", "<&>"])),
    attrs=st.none() | attrs.filter(lambda a: isinstance(a.get("class", ""), str)),  # Django adds to it
    required=st.booleans(),
    required_css_class=st.one_of(st.none(), text),
    widget=st.sampled_from([forms.TextInput, forms.RadioSelect, forms.CheckboxSelectMultiple, forms.Select]),
    language=languages,
)
def test_labels_and_legends_render_as_their_template(
    label: Any,
    contents: Any,
    auto_id: Any,
    widget_id: Any,
    label_suffix: Any,
    attrs: dict[Any, Any] | None,
    required: bool,
    required_css_class: str | None,
    widget: type[forms.Widget],
    language: str,
) -> None:
    def label_tag(renderer: Any, tag: str = "label") -> str:
        form = forms.Form(auto_id=auto_id, renderer=renderer)
        if required_css_class is not None:
            form.required_css_class = required_css_class  # type: ignore[attr-defined]  # documented; not in django-stubs
        form.fields["field"] = forms.CharField(
            label=label, required=required, widget=widget(attrs={"id": widget_id} if widget_id else None)
        )
        field = form["field"]
        if tag == "legend":
            return str(field.legend_tag(contents, attrs, label_suffix))
        return str(field.label_tag(contents, attrs, label_suffix))

    with translation.override(language):
        rendered(label_tag)
        rendered(lambda r: label_tag(r, "legend"))


def test_a_desk_form_prints_its_labels_controls_and_errors_the_same_way() -> None:
    from sportello.web.workflow_forms import EscalateForm

    tiers: list[tuple[str, str | Promise]] = [("1", "L1 <support>"), ("2", gettext_lazy("Unknown"))]
    for data in ({"reason": "x & y", "to": "2"}, {"reason": "", "to": "3"}):
        for name in ("reason", "to"):
            rendered(lambda r, name=name, data=data: str(EscalateForm(data, tiers=tiers, renderer=r)[name]))
            rendered(
                lambda r, name=name, data=data: str(
                    EscalateForm(data, tiers=tiers, renderer=r)[name].label_tag()
                )
            )


# --- what goes through the templates --------------------------------------------------------------


class Overriding(Counting):
    """Templates in `directory` come first, as an app or project overriding Django's would."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    @cached_property
    def engine(self) -> Any:
        return self.backend(
            {
                "APP_DIRS": False,
                "DIRS": [self.directory, DJANGO_TEMPLATES],
                "NAME": "overriding",
                "OPTIONS": {},
            }
        )


def override(directory: Path, name: str, source: str) -> None:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


def test_an_overridden_template_and_every_template_including_it_go_through_the_engine(tmp_path: Path) -> None:
    override(
        tmp_path,
        "django/forms/widgets/attrs.html",
        "{% for name, value in widget.attrs.items %} data-{{ name }}={{ value }}{% endfor %}",
    )
    renderer = Overriding(tmp_path)

    assert widget_html.WIDGETS + "text.html" not in renderer.python_templates
    assert widget_html.WIDGETS + "select.html" not in renderer.python_templates
    assert widget_html.WIDGETS + "multiple_input.html" in renderer.python_templates  # attrs.html unused
    assert widget_html.LABEL in renderer.python_templates  # django/forms/attrs.html is another file
    assert forms.TextInput().render("q", "x", {"id": "q"}, renderer=renderer) == (
        '<input type="text" name="q" value="x" data-id=q>'
    )
    assert forms.Select(choices=[(1, "One")]).render("n", 1, renderer=renderer) == (
        '<select name="n">\n  <option value="1" data-selected=True>One</option>\n\n</select>'
    )


def test_a_select_whose_option_template_is_overridden_goes_through_the_engine(tmp_path: Path) -> None:
    override(tmp_path, "django/forms/widgets/select_option.html", "<option>{{ widget.label }}</option>")
    renderer = Overriding(tmp_path).reset()

    assert widget_html.WIDGETS + "select.html" in renderer.python_templates  # its own files are Django's
    html = forms.Select(choices=[(1, "One"), (2, "Two")]).render("n", 1, renderer=renderer)

    assert html == '<select name="n">\n  <option>One</option>\n  <option>Two</option>\n</select>'
    assert renderer.loaded == ["django/forms/widgets/select.html"]


class CustomTemplate(forms.TextInput):
    template_name = "desk/widgets/custom.html"


def test_a_widget_with_its_own_template_goes_through_the_engine(tmp_path: Path) -> None:
    override(tmp_path, "desk/widgets/custom.html", "<custom {{ widget.name }}>")
    renderer = Overriding(tmp_path).reset()

    assert CustomTemplate().render("w", "v", renderer=renderer) == "<custom w>"
    assert renderer.loaded == ["desk/widgets/custom.html"]


class CustomContext(forms.TextInput):
    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        return {**super().get_context(name, value, attrs), "hint": "a widget's own context"}


@pytest.mark.parametrize(
    ("widget", "template"),
    [
        (CustomContext(), "django/forms/widgets/text.html"),
        (forms.TextInput(attrs={"data-when": lambda: "called"}), "django/forms/widgets/text.html"),
        (forms.TextInput(attrs={"items": [("data-a", "b")]}), "django/forms/widgets/text.html"),
        (forms.ClearableFileInput(), "django/forms/widgets/clearable_file_input.html"),
        (forms.SplitDateTimeWidget(), "django/forms/widgets/splitdatetime.html"),
    ],
)
def test_a_context_the_python_does_not_reproduce_goes_through_the_engine(
    widget: forms.Widget, template: str
) -> None:
    renderer = Counting().reset()
    value = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)

    html = widget.render("w", value, renderer=renderer)

    assert html == widget.render("w", value, renderer=TEMPLATES)
    assert renderer.loaded[0] == template


def test_the_engine_calls_a_callable_attribute_and_loops_over_an_attribute_named_items() -> None:
    called = forms.TextInput(attrs={"data-when": lambda: "called"})
    items = forms.TextInput(attrs={"items": [("data-a", "b")], "id": "x"})

    assert called.render("w", None, renderer=PYTHON) == '<input type="text" name="w" data-when="called">'
    assert items.render("w", None, renderer=PYTHON) == '<input type="text" name="w" data-a="b">'


def test_a_renderer_given_a_request_renders_the_template() -> None:
    from django.test import RequestFactory

    renderer = Counting().reset()
    context = forms.TextInput().get_context("q", "", None)
    html = renderer.render("django/forms/widgets/text.html", context, RequestFactory().get("/"))
    assert html == '<input type="text" name="q">'
    assert renderer.loaded == ["django/forms/widgets/text.html"]
