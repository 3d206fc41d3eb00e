"""The People section's forms: what an admin types, checked for shape; the services check the
rest (a taken address, the last admin) and their errors land on the same forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from sportello.accounts.models import Department, Role, User
from sportello.contacts.language import desk_default_language
from sportello.contacts.models import Organization

ROLE_CHOICES = [
    (Role.AGENT.value, pgettext_lazy("role", "Agent")),
    (Role.LIGHT_AGENT.value, pgettext_lazy("role", "Light agent")),
    (Role.ADMIN.value, pgettext_lazy("role", "Admin")),
]
ROLE_HELP = _(
    "Agents work the tickets of their departments; light agents read them and add internal notes; "
    "admins configure the desk and see every department."
)


class _Form(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class DepartmentsField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class MembersField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.email})"


def _departments() -> DepartmentsField:
    return DepartmentsField(
        label=_("Departments"),
        queryset=Department.objects.order_by("name", "pk"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The departments whose tickets they work. Leaving one also leaves its teams."),
    )


class InviteForm(_Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial=Role.AGENT, help_text=ROLE_HELP)
    departments = _departments()
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        initial=settings.LANGUAGE_CODE,
        help_text=_("Of the invitation and of their desk, until they change it."),
    )


class AgentForm(_Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, help_text=ROLE_HELP)
    supervisor = forms.BooleanField(
        label=_("Supervisor"),
        required=False,
        help_text=_("Reads the reports of their departments. Admins read every department's."),
    )
    departments = _departments()


class TeamForm(_Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        help_text=_("A team stays in the department it is created in; its members work there."),
    )
    members = MembersField(
        label=_("Members"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Active agents of the team's department."),
    )

    def __init__(self, *args: Any, department: Department | None = None, **kwargs: Any) -> None:
        """`department`: the team's, when editing one (it cannot change; only its agents can be
        members)."""
        super().__init__(*args, **kwargs)
        field = self.fields["department"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Department.objects.order_by("name", "pk")
        agents = User.objects.filter(is_active=True).order_by("name", "pk")
        if department is not None:
            field.disabled = True
            field.initial = department.pk
            agents = agents.filter(departments=department)
            # The team's fingerprint when the form was drawn (`team_update(expected=...)`).
            self.fields["seen"] = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
        members = self.fields["members"]
        assert isinstance(members, forms.ModelMultipleChoiceField)
        members.queryset = agents


TIER_CHOICES = [
    ("standard", pgettext_lazy("tier", "Standard")),
    ("silver", pgettext_lazy("tier", "Silver")),
    ("gold", pgettext_lazy("tier", "Gold")),
    ("platinum", pgettext_lazy("tier", "Platinum")),
]


class ContactForm(_Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    email = forms.EmailField(
        label=_("E-mail"), max_length=254, required=False, help_text=_("An e-mail address, a phone or both.")
    )
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    organization = forms.ModelChoiceField(
        label=_("Organization"), queryset=Organization.objects.order_by("name", "pk"), required=False
    )
    # Optional in the post: a form without it (older pages, scripts) leaves the language as it is.
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        required=False,
        help_text=_("Of the e-mails and portal pages this customer gets."),
    )
    vip = forms.BooleanField(
        label=_("VIP"),
        required=False,
        help_text=_("VIP customers' tickets can get their own service levels."),
    )
    expected = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].initial = desk_default_language()


class OrganizationForm(_Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    domains = forms.CharField(
        label=_("E-mail domains"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One a line, e.g. acme.com. New contacts with an address there join the organization."),
    )
    tier = forms.ChoiceField(label=_("Tier"), choices=TIER_CHOICES)
    vip = forms.BooleanField(label=_("VIP"), required=False)
    expected = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_domains(self) -> list[str]:
        text = str(self.cleaned_data.get("domains") or "")
        return [d.strip() for d in text.replace(",", "\n").splitlines() if d.strip()]
