"""Form fields tied to their messages for screen readers, the same way in every Desk form.

Every form renders through `DeskFormRenderer` (settings.FORM_RENDERER), whose bound fields give
a control `aria-describedby` naming its help (`<id>-help`) and its inline error (`<id>-error`)
and, while it has an error, `aria-invalid="true"`. The shared partials print the help and the
error under those ids (`web/_field.html`, `web/_field_errors.html`); a control written by hand
in a template takes the same attributes from the `field_aria` tag (sportello_web)."""

from __future__ import annotations

from django.forms.boundfield import BoundField
from django.forms.renderers import DjangoTemplates


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
