"""A new ticket for a phone call or a walk-in, opened by an agent on the customer's behalf.

The department comes first: its layout's custom fields appear below it (an HTMX re-render keeps
what was typed). The requester is found (name, e-mail or phone, suggestions as radio buttons) or
created inline: name and e-mail, or name and phone for a caller who gives no address (replies to
them are recorded, not e-mailed). The first message is the customer's words, recorded as
theirs and entered by the agent (`tickets.services.ticket_open`). A refusal shows inline, next
to the field it names, with everything typed kept."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from sportello.accounts.models import Department, Role, User
from sportello.contacts import selectors as contact_selectors
from sportello.contacts.language import new_contact_language
from sportello.contacts.models import Contact
from sportello.contacts.services import contact_create
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from sportello.core.forms import choice_field
from sportello.core.http import HtmxRequest
from sportello.tickets import permissions, selectors, services
from sportello.tickets.models import SUBJECT_MAX_LENGTH, Channel, LayoutField

from .customer_form import LAYOUT_PREFIX, layout_field, layout_values
from .errors import attach_error, error_message
from .labels import PRIORITY_LABELS
from .shell import agent_required

TEMPLATE = "web/new_ticket.html"
SUGGESTIONS_MAX = 8
CF_PREFIX = LAYOUT_PREFIX
# The ways in an agent records a ticket for: the call they took, an e-mail or chat they are
# passing on, or someone at the counter ("web": entered in the Desk).
CHANNELS = [
    (Channel.PHONE.value, _("Phone call")),
    (Channel.WEB.value, _("Walk-in or other")),
    (Channel.EMAIL.value, _("Email")),
    (Channel.CHAT.value, _("Chat")),
]
# Service field names -> this form's fields.
FIELD_ALIASES = {
    "department_id": "department",
    "requester_id": "requester",
    "requester_email": "new_email",
    "requester_name": "new_name",
    "email": "new_email",
    "name": "new_name",
    "phone": "new_phone",
    "description": "description",
    "description_html": "description",
}


def departments_for(user: User) -> list[Department]:
    """Where this agent may open tickets: their departments; an admin's, every active one."""
    qs = Department.objects.filter(is_active=True)
    if user.role != Role.ADMIN:
        qs = qs.filter(agents=user)
    return list(qs.order_by("name"))


def customer_field(row: LayoutField) -> forms.Field:
    """A form field for one row of the layout, with the values allowed in its department (none
    required here: the agent records what the customer said)."""
    return layout_field(row)


class NewTicketForm(forms.Form):
    department = forms.TypedChoiceField(label=_("Department"), coerce=int)
    requester_q = forms.CharField(label=_("Find the customer"), required=False, max_length=200)
    requester = forms.TypedChoiceField(
        label=_("Customer"), required=False, coerce=int, empty_value=None, widget=forms.RadioSelect
    )
    new_name = forms.CharField(label=_("Name"), required=False, max_length=200)
    new_email = forms.EmailField(label=_("Email"), required=False, max_length=254)
    new_phone = forms.CharField(label=_("Phone"), required=False, max_length=40)
    channel = forms.ChoiceField(label=_("Channel"), choices=CHANNELS, initial=Channel.PHONE.value)
    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX_LENGTH)
    priority = forms.ChoiceField(label=_("Priority"), initial="normal")
    description = forms.CharField(
        label=_("What the customer said"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Recorded as the customer's first message, entered by you."),
    )

    def __init__(self, *args: Any, user: User, department_id: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.user = user
        self.departments = departments_for(user)
        choice_field(self, "department").choices = [("", _("Choose a department"))] + [
            (d.pk, d.name) for d in self.departments
        ]
        choice_field(self, "priority").choices = [(k, v) for k, v in PRIORITY_LABELS.items()]
        # The customers offered: the one picked (kept across re-renders) and those found.
        picked = self.data.get("requester") if self.is_bound else None
        found: list[Contact] = []
        if picked and str(picked).isdigit():
            found = list(Contact.objects.filter(pk=int(picked)))
        self.set_requesters(found)
        self.department_id = department_id if department_id is not None else self._department_from_data()
        self.layout = (
            selectors.department_layouts(department_ids=[self.department_id]).get(self.department_id, [])
            if self.department_id is not None
            else []
        )
        for row in self.layout:
            self.fields[CF_PREFIX + row.field.key] = customer_field(row)

    def set_requesters(self, contacts: list[Contact]) -> None:
        self.requesters = contacts
        choice_field(self, "requester").choices = [(c.pk, requester_label(c)) for c in contacts]

    def _department_from_data(self) -> int | None:
        raw = self.data.get("department") if self.is_bound else self.initial.get("department")
        if raw is None or not str(raw).isdigit():
            return None
        pk = int(raw)
        return pk if any(d.pk == pk for d in self.departments) else None

    @property
    def custom_fields(self) -> list[forms.BoundField]:
        return [self[CF_PREFIX + r.field.key] for r in self.layout]

    def clean(self) -> dict[str, Any]:
        cd = super().clean() or {}
        if cd.get("requester") is not None or "new_email" in self.errors:
            return cd
        if not cd.get("new_email") and not cd.get("new_phone"):
            self.add_error("requester", _("Pick the customer, or give a new customer's e-mail or phone."))
        elif not cd.get("new_email") and not cd.get("new_name", "").strip():
            self.add_error("new_name", _("Give the name of a customer known only by their phone."))
        return cd

    def custom_values(self) -> dict[str, Any]:
        return layout_values(self.layout, self.cleaned_data)


def requester_label(c: Contact) -> str:
    """A customer as the suggestions list them: name and e-mail, or name and phone."""
    reach = c.email or c.phone
    return f"{c.name} <{reach}>" if c.name and c.email else f"{c.name} · {reach}" if c.name else reach


def _requester(form: NewTicketForm) -> int:
    """The requester's id: the contact picked, else the contact with the new e-mail, else (no
    e-mail given) the contact known only by the new phone; created with what was typed when
    there is none."""
    cd = form.cleaned_data
    if cd["requester"] is not None:
        if not Contact.objects.filter(pk=cd["requester"]).exists():
            raise ValidationFailed("no such customer", field="requester_id")
        return int(cd["requester"])
    if cd["new_email"]:
        same = Contact.objects.filter(email__iexact=cd["new_email"])
    else:
        same = Contact.objects.filter(email="", phone=" ".join(cd["new_phone"].split()))
    existing = same.values_list("pk", flat=True).first()
    if existing is not None:
        return int(existing)
    try:
        return contact_create(
            email=cd["new_email"],
            name=cd["new_name"],
            phone=cd["new_phone"],
            # the customer's words as the agent took them down tell their language
            language=new_contact_language(subject=cd["subject"], body=cd["description"]),
            actor=form.user,
        ).pk
    except Conflict:  # created meanwhile
        found = same.values_list("pk", flat=True).first()
        if found is None:
            raise
        return int(found)


def _attach(form: NewTicketForm, exc: DomainError) -> int:
    if isinstance(exc, NotFound):
        form.add_error(None, error_message(exc))
        return 404
    field = exc.field or ""
    if field.startswith("custom_fields."):
        name = CF_PREFIX + field.removeprefix("custom_fields.")
        if name in form.fields:
            form.add_error(name, error_message(exc))
            return exc.status
    alias = FIELD_ALIASES.get(field)
    if alias is not None and alias in form.fields:
        form.add_error(alias, error_message(exc))
        return exc.status
    return attach_error(form, exc)


@agent_required
@require_http_methods(["GET", "POST"])
def ticket_new(request: HtmxRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not permissions.can_edit_fields(user):
        return render(request, TEMPLATE, {"refused": True}, status=403)
    if request.method == "GET":
        departments = departments_for(user)
        initial = {"department": departments[0].pk} if len(departments) == 1 else {}
        form = NewTicketForm(user=user, initial=initial)
        return render(request, TEMPLATE, {"form": form})
    form = NewTicketForm(request.POST, user=user)
    status = 422
    if form.is_valid():
        cd = form.cleaned_data
        try:
            with transaction.atomic():
                requester_id = _requester(form)
                outcome = services.ticket_open(
                    principal=user,
                    via=Via.WEB,
                    data={
                        "subject": cd["subject"],
                        "department_id": cd["department"],
                        "requester_id": requester_id,
                        "channel": cd["channel"],
                        "priority": cd["priority"],
                        "description": cd["description"],
                        "custom_fields": form.custom_values(),
                    },
                    now=clock.now(),
                )
        except DomainError as exc:
            status = _attach(form, exc)
        else:
            url = reverse("web:ticket", kwargs={"ticket_id": outcome.ticket.pk})
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if request.htmx:
        return render(request, f"{TEMPLATE}#new_ticket_form", {"form": form}, status=status)
    return render(request, TEMPLATE, {"form": form}, status=status)


@agent_required
@require_GET
def ticket_new_fields(request: HttpRequest) -> HttpResponse:
    """The department's layout fields, for the department just chosen (values typed for fields
    the new layout also has are kept)."""
    user: User = request.user  # type: ignore[assignment]
    form = NewTicketForm(request.GET, user=user)
    return render(request, f"{TEMPLATE}#custom_fields", {"form": form})


@agent_required
@require_GET
def requester_suggestions(request: HttpRequest) -> HttpResponse:
    """Customers whose name, e-mail or phone holds what was typed, as choices for the form."""
    user: User = request.user  # type: ignore[assignment]
    picked = request.GET.get("requester", "")
    # Unbound: the choices only, the one picked still checked, and no error while typing.
    form = NewTicketForm(user=user, initial={"requester": int(picked) if picked.isdigit() else None})
    q = request.GET.get("requester_q", "").strip()
    found: list[Contact] = []
    if len(q) >= 2:
        try:
            found = list(
                contact_selectors.contact_list(user=user, q=q).order_by("name", "id")[:SUGGESTIONS_MAX]
            )
        except ValidationFailed:
            found = []
    if picked.isdigit() and all(c.pk != int(picked) for c in found):
        found = [*Contact.objects.filter(pk=int(picked)), *found]
    form.set_requesters(found)
    return render(request, f"{TEMPLATE}#requester_choices", {"form": form, "q": q})
