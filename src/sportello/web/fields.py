"""Form fields tied to their messages for screen readers, the same way in every Desk form.

Every form renders through `DeskFormRenderer` (settings.FORM_RENDERER), whose bound fields give
a control `aria-describedby` naming its help (`<id>-help`) and its inline error (`<id>-error`)
and, while it has an error, `aria-invalid="true"`. The shared partials print the help and the
error under those ids (`web/_field.html`, `web/_field_errors.html`); a control written by hand
in a template takes the same attributes from the `field_aria` tag (sportello_web).

The renderer writes Django's standard widgets and labels in Python (web.widget_html): the same
string as their templates, for a fraction of the time; any other template, an overridden one or a
context the Python does not reproduce goes through the template engine as before."""

from __future__ import annotations

from typing import Any

from django.forms.boundfield import BoundField
from django.forms.renderers import DjangoTemplates
from django.http import HttpRequest
from django.utils.functional import cached_property

from sportello.web import widget_html


def help_id(field: BoundField) -> str:
    return f"{field.auto_id}-help"


def error_id(field: BoundField) -> str:
    return f"{field.auto_id}-error"


def described_by(field: BoundField, *extra: str) -> str:
    """The ids describing `field`'s control: `extra` ones first, then its help and its error."""
    ids = [i for i in extra if i]
    if field.auto_id and not field.is_hidden:
        if field.help_text:
            ids.append(help_id(field))
        if field.errors:
            ids.append(error_id(field))
    return " ".join(ids)


class DeskBoundField(BoundField):
    @property
    def aria_describedby(self) -> str | None:
        # A widget that names its own description keeps it (Django's rule).
        if self.field.widget.attrs.get("aria-describedby"):
            return None
        return described_by(self)


class DeskFormRenderer(DjangoTemplates):
    bound_field_class = DeskBoundField

    def render(self, template_name: str, context: Any, request: HttpRequest | None = None) -> str:
        if request is None and template_name in self.python_templates:
            try:
                return widget_html.render(template_name, context, self.python_templates).strip()
            except widget_html.Unsupported:
                pass
        return super().render(template_name, context, request)

    @cached_property
    def python_templates(self) -> frozenset[str]:
        """The templates rendered in Python: Django's own files only (checked once, on first use,
        through this renderer's loaders)."""
        return widget_html.usable(self.get_template)
