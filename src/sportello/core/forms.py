"""What the forms of the HTML edges share."""

from __future__ import annotations

from django import forms


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """The form's own copy of its choice field `name`, for setting its choices per request (a
    form's `fields` are plain `Field`s to the type checker)."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField), name
    return field
