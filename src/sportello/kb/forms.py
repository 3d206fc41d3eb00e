"""The forms of the agents' knowledge-base pages: they parse what was typed; the services
decide (`kb.services`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Department

from .models import ArticleState, KbSection
from .selectors import kb_languages

STATE_LABELS = {
    ArticleState.DRAFT: _("Draft"),
    ArticleState.INTERNAL: _("Internal"),
    ArticleState.PUBLIC: _("Public"),
}


def state_choices() -> list[tuple[str, Any]]:
    return [(state.value, STATE_LABELS[state]) for state in ArticleState]


def language_choices() -> list[tuple[str, str]]:
    return [(code, code.upper()) for code in kb_languages()]


class SectionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        language = self.widget.attrs.get("data-language", "en")
        category = obj.category.title.get(language) or next(iter(obj.category.title.values()), "")
        section = obj.title.get(language) or next(iter(obj.title.values()), "")
        return f"{category} / {section}"


class ArticleNewForm(forms.Form):
    section = SectionChoice(label=_("Section"), queryset=KbSection.objects.none())
    source_language = forms.ChoiceField(label=_("Language"), choices=())

    def __init__(self, *args: Any, sections: Any, language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["section"]
        assert isinstance(field, SectionChoice)
        field.queryset = sections
        field.widget.attrs["data-language"] = language
        source = self.fields["source_language"]
        assert isinstance(source, forms.ChoiceField)
        source.choices = language_choices()


class TranslationForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=250)
    summary = forms.CharField(label=_("Summary"), max_length=500, required=False)
    keywords = forms.CharField(label=_("Keywords"), max_length=500, required=False)
    body_html = forms.CharField(
        label=_("Body (HTML)"), required=False, widget=forms.Textarea(attrs={"rows": 18}), strip=False
    )
    state = forms.ChoiceField(label=_("State"), choices=state_choices)
    note = forms.CharField(label=_("Note about this change"), max_length=300, required=False)
    expected_version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


class RestoreForm(forms.Form):
    number = forms.IntegerField(min_value=1)
    expected_version = forms.IntegerField(min_value=0)


class IdListField(forms.Field):
    """Ids as the editor loaded them ("3,7"), for the stale check; blank: none."""

    widget = forms.HiddenInput

    def to_python(self, value: Any) -> list[int]:
        text = value if isinstance(value, str) else ""
        if len(text) > 10_000:
            raise forms.ValidationError(_("Reload the page and try again."))
        try:
            return sorted({int(part) for part in text.split(",") if part.strip()})
        except ValueError:
            raise forms.ValidationError(_("Reload the page and try again.")) from None


def id_list(ids: Any) -> str:
    return ",".join(str(i) for i in sorted(ids))


class ArticleSettingsForm(forms.Form):
    """Who an article serves and what it relates to (`kb.services.article_settings_save`)."""

    departments = forms.ModelMultipleChoiceField(
        label=_("Departments"),
        queryset=Department.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Suggestions show it to these departments' customers and agents; none: every department."
        ),
    )
    related = forms.TypedMultipleChoiceField(
        label=_("Related articles"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Shown under the article; the link goes both ways."),
    )
    expected_departments = IdListField(required=False)
    expected_related = IdListField(required=False)

    def __init__(self, *args: Any, departments: Any, articles: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["departments"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = departments
        related = self.fields["related"]
        assert isinstance(related, forms.TypedMultipleChoiceField)
        related.choices = articles
