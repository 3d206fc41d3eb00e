"""The Console's assignment pages (group Workflows): round-robin policies — the list, the editor
and each member's load and status now — and direct assignment, event rules that assign a ticket
to an agent or a team when it matches one condition.

Policies are saved through `automation.assignment.policy_save` (the API's save) with the version
the admin edited, so an edit made on a stale page is refused and shown with what changed; direct
assignment rules through `automation.services.rule_save`, as ordinary event rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import path
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sportello.accounts.forms import STATUS_LABELS
from sportello.accounts.models import Department, Role, Team, User
from sportello.automation import assignment, selectors, services
from sportello.automation.models import AssignmentPolicy
from sportello.core import clock
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.versioning import version_diff
from sportello.tickets.models import CustomField
from sportello.web.labels import CATEGORY_LABELS, CHANNEL_LABELS

from .views import admin_required, current_admin, render_console

RESERVED_KEYS = frozenset({"new"})  # the new policy's page
POOL_CHOICES = [
    ("department", gettext_lazy("Everyone in a department")),
    ("team", gettext_lazy("The members of a team")),
    ("agents", gettext_lazy("Agents I choose")),
]
OFFLINE_CHOICES = [
    ("skip", gettext_lazy("Only agents who are online get tickets (away and offline agents are skipped)")),
    ("assign", gettext_lazy("Agents who are away or offline get tickets too")),
]
# The parts of a policy, as the page names them (a stale edit lists what changed by these).
PART_LABELS = {
    "name": gettext_lazy("Name"),
    "pool": gettext_lazy("Who takes tickets"),
    "max_open_per_agent": gettext_lazy("Most open tickets per agent"),
    "count_categories": gettext_lazy("Tickets that count toward the limit"),
    "offline": gettext_lazy("Away and offline agents"),
    "backlog": gettext_lazy("When nobody has room"),
}
EXCLUDED_LABELS = {
    "offline": gettext_lazy("Skipped: not online"),
    "at capacity": gettext_lazy("Skipped: at the limit"),
    "not eligible": gettext_lazy("Skipped: not in the ticket's department"),
}
AGENT_STATUS_LABELS: dict[str, Any] = {str(k): v for k, v in STATUS_LABELS.items()}
# A service's error on a definition path, shown on this form's field.
FIELD_OF_PATH = {
    "name": "name",
    "key": "key",
    "pool": "pool",
    "pool.department": "department",
    "pool.team": "team",
    "pool.agents": "agents",
    "max_open_per_agent": "max_open_per_agent",
    "count_categories": "count_categories",
    "offline": "offline",
    "backlog": "backlog",
}


# --------------------------------------------------------------------------------------------
# Reading what the pickers offer


def _pickers() -> dict[str, list[tuple[int, str]]]:
    """Departments, teams and agents (never light agents) to choose from: three queries."""
    return {
        "departments": [(d.pk, d.name) for d in Department.objects.filter(is_active=True).order_by("name")],
        "teams": [
            (t.pk, f"{t.name} ({t.department.name})")
            for t in Team.objects.select_related("department").order_by("name", "id")
        ],
        "agents": [
            (u.pk, u.name or u.email)
            for u in User.objects.filter(is_active=True)
            .exclude(role=Role.LIGHT_AGENT)
            .order_by("name", "email")
            .only("pk", "name", "email")
        ],
    }


# --------------------------------------------------------------------------------------------
# The policy form


class PolicyForm(forms.Form):
    """A round-robin policy as an admin edits it; `definition()` is what the service saves."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    key = forms.SlugField(
        label=gettext_lazy("Key"),
        max_length=80,
        required=False,
        help_text=gettext_lazy(
            "Names the policy in rules and in exported YAML. Made from the name when left empty; "
            "it cannot change later."
        ),
    )
    pool = forms.ChoiceField(
        label=gettext_lazy("Who takes tickets"), choices=POOL_CHOICES, widget=forms.RadioSelect
    )
    department = forms.TypedChoiceField(label=gettext_lazy("Department"), coerce=int, required=False)
    team = forms.TypedChoiceField(label=gettext_lazy("Team"), coerce=int, required=False)
    agents = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Agents"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    max_open_per_agent = forms.IntegerField(
        label=gettext_lazy("Most open tickets per agent"),
        min_value=1,
        max_value=100_000,
        required=False,
        help_text=gettext_lazy("Leave empty for no limit."),
    )
    count_categories = forms.MultipleChoiceField(
        label=gettext_lazy("Tickets that count toward the limit"),
        choices=list(CATEGORY_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one kind of ticket.")},
    )
    offline = forms.ChoiceField(
        label=gettext_lazy("Away and offline agents"), choices=OFFLINE_CHOICES, widget=forms.RadioSelect
    )
    backlog = forms.BooleanField(
        label=gettext_lazy("When nobody has room, keep tickets waiting and hand them out as agents free up"),
        required=False,
    )
    active = forms.BooleanField(
        label=gettext_lazy("Active: rules may assign through this policy"), required=False
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    def __init__(self, *args: Any, pickers: dict[str, list[tuple[int, str]]], creating: bool, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.creating = creating
        empty = [("", _("Choose…"))]
        self.fields["department"].choices = empty + pickers["departments"]  # type: ignore[attr-defined]
        self.fields["team"].choices = empty + pickers["teams"]  # type: ignore[attr-defined]
        self.fields["agents"].choices = pickers["agents"]  # type: ignore[attr-defined]
        if not creating:
            del self.fields["key"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pool = data.get("pool")
        if pool == "department" and not data.get("department"):
            self.add_error("department", _("Choose the department whose agents take tickets."))
        if pool == "team" and not data.get("team"):
            self.add_error("team", _("Choose the team whose members take tickets."))
        if pool == "agents" and not data.get("agents"):
            self.add_error("agents", _("Choose at least one agent."))
        if self.creating and not data.get("key") and data.get("name"):
            data["key"] = slugify(data["name"])[:80].strip("-")
            if not data["key"]:
                self.add_error("key", _("Give a key of letters, digits and hyphens."))
        if self.creating and data.get("key") in RESERVED_KEYS:
            self.add_error("key", _("This key is reserved; choose another."))
        return data

    def definition(self, key: str) -> dict[str, Any]:
        d = self.cleaned_data
        pool = d["pool"]
        return {
            "key": key,
            "name": d["name"],
            "pool": {pool: d["agents"] if pool == "agents" else d[pool]},
            "max_open_per_agent": d.get("max_open_per_agent"),
            "count_categories": d["count_categories"],
            "offline": d["offline"],
            "backlog": bool(d.get("backlog")),
        }


def _initial(policy: AssignmentPolicy) -> dict[str, Any]:
    d = policy.definition
    ((pool, value),) = d["pool"].items()
    return {
        "name": d["name"],
        "pool": pool,
        "department": value if pool == "department" else None,
        "team": value if pool == "team" else None,
        "agents": value if pool == "agents" else [],
        "max_open_per_agent": d.get("max_open_per_agent"),
        "count_categories": d.get("count_categories", ["new", "open"]),
        "offline": d.get("offline", "skip"),
        "backlog": d.get("backlog", True),
        "active": policy.active,
        "version": policy.version,
    }


NEW_POLICY = {
    "pool": "department",
    "count_categories": ["new", "open"],
    "offline": "skip",
    "backlog": True,
    "active": True,
    "version": 0,
}


def _pool_summary(definition: dict[str, Any], names: dict[str, dict[int, str]]) -> str:
    ((pool, value),) = definition["pool"].items()
    if pool == "department":
        return _("Department %(name)s") % {"name": names["departments"].get(value, f"#{value}")}
    if pool == "team":
        return _("Team %(name)s") % {"name": names["teams"].get(value, f"#{value}")}
    agents = [names["agents"].get(a, f"#{a}") for a in value]
    return ", ".join(agents)


# --------------------------------------------------------------------------------------------
# Views


@admin_required
@require_http_methods(["GET"])
def policies(request: HttpRequest) -> HttpResponse:
    """Every round-robin policy: who takes tickets, the limit, offline agents, what is waiting."""
    from django.db.models import Count

    rows = list(assignment.policy_list().annotate(waiting=Count("backlog")))
    names = {k: dict(v) for k, v in _pickers().items()} if rows else {}
    items = [
        {
            "policy": p,
            "pool": _pool_summary(p.definition, names),
            "cap": p.definition.get("max_open_per_agent"),
            "skips_offline": p.definition.get("offline", "skip") == "skip",
        }
        for p in rows
    ]
    return render_console(
        request,
        "console/assignment/policies.html",
        {"section": "round-robin", "items": items, "now": clock.now()},
    )


def _editor(
    request: HttpRequest,
    form: PolicyForm,
    *,
    policy: AssignmentPolicy | None,
    status: int = 200,
    stale: list[str] | None = None,
) -> HttpResponse:
    context = {
        "section": "round-robin",
        "form": form,
        "policy": policy,
        "members": _members(policy) if policy is not None else [],
        "stale": stale,
        "now": clock.now(),
    }
    return render_console(request, "console/assignment/policy_edit.html", context, status=status)


def _members(policy: AssignmentPolicy) -> list[dict[str, Any]]:
    cap = policy.definition.get("max_open_per_agent")
    return [
        {
            "user": m.user,
            "status": AGENT_STATUS_LABELS.get(m.user.status, m.user.status),
            "open_count": m.open_count,
            "cap": cap,
            "last_assigned_at": m.last_assigned_at,
            "next": m.next,
            "excluded": EXCLUDED_LABELS.get(m.excluded_because or ""),
        }
        for m in assignment.policy_members(policy=policy)
    ]


def _changed_parts(key: str, a: int, b: int) -> list[str]:
    """The parts of the policy that changed from version a to b, as the form names them."""
    try:
        changes = version_diff(assignment.POLICIES, key=key, a=a, b=b)
    except NotFound:
        return []
    parts = dict.fromkeys(str(PART_LABELS.get(c.path.split(".")[0].split("[")[0], c.path)) for c in changes)
    return list(parts)


def _save(
    request: HttpRequest, form: PolicyForm, *, key: str, policy: AssignmentPolicy | None
) -> HttpResponse:
    """Save the form through the policy service; errors and stale edits re-render what was sent."""
    posted = form.cleaned_data.get("version")
    expected = 0 if policy is None else (policy.version if posted is None else posted)
    try:
        saved, written = assignment.policy_save(
            definition=form.definition(key),
            created_by=current_admin(request),
            now=clock.now(),
            active=bool(form.cleaned_data.get("active")),
            expected_version=expected,
        )
    except ValidationFailed as exc:
        form.add_error(FIELD_OF_PATH.get(exc.field or ""), exc.message)
        return _editor(request, form, policy=policy, status=422)
    except Conflict as exc:
        if exc.code == "policy_exists" or policy is None:
            form.add_error("key", _("A policy with this key exists already; choose another key."))
            return _editor(request, form, policy=policy, status=409)
        current = assignment.policy_get(key=key)
        data: QueryDict = request.POST.copy()
        data["version"] = str(current.version)  # saving again replaces theirs, knowingly
        again = PolicyForm(data, pickers=_pickers(), creating=False)
        again.is_valid()
        stale = _changed_parts(key, expected, current.version) if expected else []
        return _editor(request, again, policy=current, status=409, stale=stale)
    except NotFound:
        raise Http404 from None
    if not written:
        messages.info(request, _("Nothing changed: the policy is as it was."))
    else:
        messages.success(
            request,
            _("Policy “%(name)s” saved (version %(version)s).")
            % {"name": saved.name, "version": saved.version},
        )
    return redirect("console:policy_edit", key=saved.key)


@admin_required
@require_http_methods(["GET", "POST"])
def policy_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _editor(
            request, PolicyForm(initial=NEW_POLICY, pickers=_pickers(), creating=True), policy=None
        )
    form = PolicyForm(request.POST, pickers=_pickers(), creating=True)
    if not form.is_valid():
        return _editor(request, form, policy=None, status=422)
    return _save(request, form, key=form.cleaned_data["key"], policy=None)


@admin_required
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest, key: str) -> HttpResponse:
    """GET: the policy's form and its members now. POST: save a new version (from the version
    the page was opened at)."""
    try:
        policy = assignment.policy_get(key=key)
    except NotFound:
        raise Http404 from None
    if request.method != "POST":
        return _editor(
            request, PolicyForm(initial=_initial(policy), pickers=_pickers(), creating=False), policy=policy
        )
    form = PolicyForm(request.POST, pickers=_pickers(), creating=False)
    if not form.is_valid():
        return _editor(request, form, policy=policy, status=422)
    return _save(request, form, key=policy.key, policy=policy)


# --------------------------------------------------------------------------------------------
# Direct assignment: event rules "when <one condition> assign to <agent or team>"

DIRECT_CHANNELS = ("email", "web", "portal", "chat", "phone", "api")
CONDITION_CHOICES = [
    ("channel", gettext_lazy("The channel is")),
    ("subject", gettext_lazy("The subject contains")),
    ("text", gettext_lazy("The subject or the description contains")),
    ("department", gettext_lazy("The department is")),
    ("domain", gettext_lazy("The requester's e-mail domain is")),
    ("custom", gettext_lazy("A custom field is")),
]
# Custom fields a direct assignment can test, by type: the value typed is read as that type.
CUSTOM_CONDITION_TYPES = ("text", "long_text", "number", "decimal", "picklist", "date")
CUSTOM_INPUT_TYPES = {"number": "number", "decimal": "number", "date": "date"}
TARGET_CHOICES = [("agent", gettext_lazy("An agent")), ("team", gettext_lazy("A team"))]
UNASSIGNED = {"field": "ticket.assignee", "op": "absent"}
CUSTOM_PREFIX = "ticket.custom."


def _custom_fields() -> list[CustomField]:
    """The active custom fields a direct assignment can test: one query."""
    return list(
        CustomField.objects.filter(is_active=True, type__in=CUSTOM_CONDITION_TYPES).order_by("position", "id")
    )


class CustomFieldSelect(forms.Select):
    """The custom-field picker: each option says its field's type and picklist values, which
    console/direct.js reads to type the value input (a number, a date, a list to pick from)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields: dict[str, CustomField] = {}

    def create_option(
        self,
        name: str,
        value: Any,
        label: int | str,
        selected: bool,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        field = self.fields.get(str(value))
        if field is not None:
            option["attrs"]["data-input"] = CUSTOM_INPUT_TYPES.get(field.type, "text")
            option["attrs"]["data-options"] = "\n".join(str(o["label"]) for o in field.options or [])
        return option


def _custom_value(field: CustomField, raw: str) -> tuple[Any, str | None]:
    """The typed value for a condition on `field` read from what the admin typed, or an error."""
    text = raw.strip()
    if not text:
        return None, _("Type the value the field must have.")
    if field.type in ("number", "decimal"):
        try:
            number = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return None, _("Type a number, such as 42.")
        if not number.is_finite():
            return None, _("Type a number, such as 42.")
        if field.type == "number" or number == number.to_integral_value():
            if number != number.to_integral_value():
                return None, _("Type a whole number, such as 42.")
            return int(number), None
        return str(number), None
    if field.type == "picklist":
        for option in field.options or []:
            if text.lower() in (str(option["value"]).lower(), str(option["label"]).lower()):
                return option["value"], None
        labels = ", ".join(str(o["label"]) for o in field.options or [])
        return None, _("Choose one of this field's values: %(values)s.") % {"values": labels}
    if field.type == "date":
        try:
            return date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, _("Type a date as YYYY-MM-DD, such as 2026-03-31.")
    return text, None


class DirectForm(forms.Form):
    """One direct-assignment rule: a condition on a new ticket and who it goes to."""

    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Shown in the rules list. Made from the condition when left empty."),
    )
    condition = forms.ChoiceField(label=gettext_lazy("When a new ticket…"), choices=CONDITION_CHOICES)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False)
    department = forms.TypedChoiceField(label=gettext_lazy("Department"), coerce=int, required=False)
    text = forms.CharField(
        label=gettext_lazy("Words or domain"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Letter case does not matter: “refund” matches “Refund”."),
    )
    target = forms.ChoiceField(
        label=gettext_lazy("Assign it to"), choices=TARGET_CHOICES, widget=forms.RadioSelect
    )
    agent = forms.TypedChoiceField(label=gettext_lazy("Agent"), coerce=int, required=False)
    team = forms.TypedChoiceField(label=gettext_lazy("Team"), coerce=int, required=False)

    def __init__(
        self,
        *args: Any,
        pickers: dict[str, list[tuple[int, str]]],
        custom_fields: list[CustomField],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        empty = [("", _("Choose…"))]
        self.custom_fields = {f.key: f for f in custom_fields}
        if custom_fields:
            widget = CustomFieldSelect()
            widget.fields = self.custom_fields
            self.fields["custom_field"] = forms.ChoiceField(
                label=_("Custom field"),
                required=False,
                choices=empty + [(f.key, f.label) for f in custom_fields],
                widget=widget,
            )
            self.fields["value"] = forms.CharField(
                label=_("Value"),
                max_length=200,
                required=False,
                help_text=_("What the field must be, such as XT372. Letter case does not matter."),
            )
        else:
            self.fields["condition"].choices = [c for c in CONDITION_CHOICES if c[0] != "custom"]  # type: ignore[attr-defined]
        self.fields["channel"].choices = empty + [(c, CHANNEL_LABELS[c]) for c in DIRECT_CHANNELS]  # type: ignore[attr-defined]
        self.fields["department"].choices = empty + pickers["departments"]  # type: ignore[attr-defined]
        self.fields["agent"].choices = empty + pickers["agents"]  # type: ignore[attr-defined]
        self.fields["team"].choices = empty + pickers["teams"]  # type: ignore[attr-defined]
        self.labels = {k: dict(v) for k, v in pickers.items()}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        condition = data.get("condition")
        if condition == "channel" and not data.get("channel"):
            self.add_error("channel", _("Choose a channel."))
        if condition == "department" and not data.get("department"):
            self.add_error("department", _("Choose a department."))
        if condition in ("subject", "text", "domain"):
            text = (data.get("text") or "").strip()
            if condition == "domain":
                text = text.lower().removeprefix("@")
            data["text"] = text
            if not text:
                self.add_error(
                    "text",
                    _("Type the words to look for.")
                    if condition != "domain"
                    else _("Type a domain, such as example.com."),
                )
        if condition == "custom":
            field = self.custom_fields.get(data.get("custom_field") or "")
            if field is None:
                self.add_error("custom_field" if self.custom_fields else "condition", _("Choose a field."))
            else:
                value, error = _custom_value(field, data.get("value") or "")
                if error:
                    self.add_error("value", error)
                data["typed_value"] = value
        target = data.get("target")
        if target == "agent" and not data.get("agent"):
            self.add_error("agent", _("Choose the agent who gets these tickets."))
        if target == "team" and not data.get("team"):
            self.add_error("team", _("Choose the team that gets these tickets."))
        return data

    def when(self) -> dict[str, Any]:
        d = self.cleaned_data
        match d["condition"]:
            case "channel":
                test: dict[str, Any] = {"field": "ticket.channel", "op": "is", "value": d["channel"]}
            case "subject":
                test = {"field": "ticket.subject", "op": "contains", "value": d["text"]}
            case "text":
                test = {
                    "any": [
                        {"field": "ticket.subject", "op": "contains", "value": d["text"]},
                        {"field": "message.body", "op": "contains", "value": d["text"]},
                    ]
                }
            case "department":
                test = {"field": "ticket.department", "op": "is", "value": d["department"]}
            case "custom":
                field = CUSTOM_PREFIX + d["custom_field"]
                test = {"field": field, "op": "is", "value": d["typed_value"]}
            case _:
                test = {"field": "requester.domain", "op": "is", "value": d["text"]}
        return {"all": [test, UNASSIGNED]}

    def default_name(self) -> str:
        d = self.cleaned_data
        who = self.labels["agents" if d["target"] == "agent" else "teams"].get(d[d["target"]], "")
        what = {
            "channel": lambda: str(CHANNEL_LABELS[d["channel"]]),
            "department": lambda: self.labels["departments"].get(d["department"], ""),
            "custom": lambda: f"{self.custom_fields[d['custom_field']].label} {d['value'].strip()}",
        }.get(d["condition"], lambda: f"“{d['text']}”")()
        return f"{what} → {who}"[:200]


def _custom_summary(test: dict[str, Any], fields: dict[str, CustomField]) -> str:
    """A condition on a custom field in words: its label and the value (a picklist's label)."""
    key = str(test.get("field", "")).removeprefix(CUSTOM_PREFIX)
    field = fields.get(key)
    value = test.get("value", "")
    if field is not None:
        labels = {o["value"]: o["label"] for o in field.options or []}
        value = labels.get(value, value)
    return _("%(field)s is %(value)s") % {"field": field.label if field else key, "value": value}


def _direct_summary(
    definition: dict[str, Any], names: dict[str, dict[int, str]], fields: dict[str, CustomField]
) -> tuple[str, str]:
    """What a direct-assignment rule tests and who it assigns to, in words."""
    tests = [t for t in definition.get("when", {}).get("all", []) if t != UNASSIGNED]
    when = "—"
    if len(tests) == 1:
        t = tests[0]
        if "any" in t:
            when = _("Subject or description contains “%(text)s”") % {"text": t["any"][0].get("value", "")}
        elif t.get("field") == "ticket.channel":
            when = _("Channel is %(channel)s") % {
                "channel": CHANNEL_LABELS.get(t.get("value"), t.get("value"))
            }
        elif t.get("field") == "ticket.subject":
            when = _("Subject contains “%(text)s”") % {"text": t.get("value", "")}
        elif t.get("field") == "ticket.department":
            when = _("Department is %(name)s") % {"name": names["departments"].get(t.get("value"), "?")}
        elif t.get("field") == "requester.domain":
            when = _("Requester's domain is %(domain)s") % {"domain": t.get("value", "")}
        elif str(t.get("field", "")).startswith(CUSTOM_PREFIX):
            when = _custom_summary(t, fields)
    actions = definition.get("actions", [])
    assign = actions[0].get("assign", {}) if len(actions) == 1 and isinstance(actions[0], dict) else {}
    if "agent" in assign:
        who = names["agents"].get(assign["agent"], f"#{assign['agent']}")
    elif "team" in assign:
        who = _("Team %(name)s") % {"name": names["teams"].get(assign["team"], f"#{assign['team']}")}
    else:
        who = "—"
    return when, who


def _direct_page(request: HttpRequest, form: DirectForm, *, status: int = 200) -> HttpResponse:
    rules = list(services.direct_rules())
    current = selectors.rule_current_definitions(rules=rules) if rules else {}
    names = {k: dict(v) for k, v in form.labels.items()}
    items = []
    for rule in rules:
        version = current.get(rule.pk)
        when, who = _direct_summary(version.definition if version else {}, names, form.custom_fields)
        items.append({"rule": rule, "when": when, "who": who})
    context = {"section": "direct-assignment", "form": form, "items": items, "now": clock.now()}
    return render_console(request, "console/assignment/direct.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def direct(request: HttpRequest) -> HttpResponse:
    """GET: the direct-assignment rules and the form for a new one. POST: save it as an event
    rule (through the rules service), last in the order."""
    if request.method != "POST":
        return _direct_page(
            request,
            DirectForm(
                initial={"condition": "channel", "target": "agent"},
                pickers=_pickers(),
                custom_fields=_custom_fields(),
            ),
        )
    form = DirectForm(request.POST, pickers=_pickers(), custom_fields=_custom_fields())
    if not form.is_valid():
        return _direct_page(request, form, status=422)
    name = form.cleaned_data["name"] or form.default_name()
    target = form.cleaned_data["target"]
    try:
        rule = services.direct_rule_create(
            name=name,
            when=form.when(),
            assign={target: form.cleaned_data[target]},
            created_by=current_admin(request),
            now=clock.now(),
        )
    except ValidationFailed as exc:
        form.add_error(None, exc.message)
        return _direct_page(request, form, status=422)
    except Conflict:
        form.add_error(None, _("Many rules were being added at the same moment; add this one again."))
        return _direct_page(request, form, status=409)
    messages.success(
        request, _("Rule “%(name)s” saved: new tickets that match are assigned.") % {"name": rule.name}
    )
    return redirect("console:direct")


@admin_required
@require_http_methods(["POST"])
def direct_toggle(request: HttpRequest, key: str) -> HttpResponse:
    """Turn a direct-assignment rule off (a new version, inactive) or on again."""
    on = request.POST.get("active") == "1"
    try:
        rule = services.direct_rule_set_active(
            key=key, active=on, created_by=current_admin(request), now=clock.now()
        )
    except NotFound:
        raise Http404 from None
    if on:
        messages.success(request, _("Rule “%(name)s” is on again.") % {"name": rule.name})
    else:
        messages.success(
            request, _("Rule “%(name)s” is off: it assigns nothing until turned on.") % {"name": rule.name}
        )
    return redirect("console:direct")


urlpatterns = [
    path("round-robin/", policies, name="policies"),
    path("round-robin/new/", policy_new, name="policy_new"),
    path("round-robin/<slug:key>/", policy_edit, name="policy_edit"),
    path("direct-assignment/", direct, name="direct"),
    path("direct-assignment/<slug:key>/active/", direct_toggle, name="direct_toggle"),
]
