"""Each configuration kind's human, translated label, singular and plural ("Rule", "Rules"):
what the Console shows instead of a kind's registered name (`core.versioning`). A kind not
listed here yet shows its own English label, capitalised."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from sportello.core.snapshots import snapshot_kinds
from sportello.core.versioning import config_kinds

LABELS: dict[str, tuple[Promise, Promise]] = {
    "rules": (pgettext_lazy("configuration kind", "Rule"), pgettext_lazy("configuration kind", "Rules")),
    "macros": (pgettext_lazy("configuration kind", "Macro"), pgettext_lazy("configuration kind", "Macros")),
    "assignment_policies": (_("Assignment policy"), _("Assignment policies")),
    "sla_policies": (_("SLA policy"), _("SLA policies")),
    "calendars": (_("Business calendar"), _("Business calendars")),
    "tier_paths": (_("Tier path"), _("Tier paths")),
    "blueprints": (
        pgettext_lazy("configuration kind", "Blueprint"),
        pgettext_lazy("configuration kind", "Blueprints"),
    ),
    "notification_templates": (_("Notification template"), _("Notification templates")),
    "departments": (
        pgettext_lazy("configuration kind", "Department"),
        pgettext_lazy("configuration kind", "Departments"),
    ),
    "statuses": (
        pgettext_lazy("configuration kind", "Status"),
        pgettext_lazy("configuration kind", "Statuses"),
    ),
    "fields": (
        pgettext_lazy("configuration kind", "Custom field"),
        pgettext_lazy("configuration kind", "Custom fields"),
    ),
    "layouts": (
        pgettext_lazy("configuration kind", "Layout"),
        pgettext_lazy("configuration kind", "Layouts"),
    ),
    "canned_responses": (
        pgettext_lazy("configuration kind", "Canned response"),
        pgettext_lazy("configuration kind", "Canned responses"),
    ),
    "agents": (pgettext_lazy("configuration kind", "Agent"), pgettext_lazy("configuration kind", "Agents")),
    "teams": (pgettext_lazy("configuration kind", "Team"), pgettext_lazy("configuration kind", "Teams")),
    "mailboxes": (
        pgettext_lazy("configuration kind", "Mailbox"),
        pgettext_lazy("configuration kind", "Mailboxes"),
    ),
    "portal": (_("Portal settings"), _("Portal settings")),
    "designated_contacts": (_("Designated contacts"), _("Designated contacts")),
}


def _fallback(name: str) -> str:
    kind = config_kinds().get(name) or snapshot_kinds().get(name)
    label = kind.label if kind is not None else name.replace("_", " ")
    return label[:1].upper() + label[1:]


def kind_label(name: str) -> str:
    """The kind `name` in the singular: "Rule", "SLA policy"."""
    found = LABELS.get(name)
    return str(found[0]) if found else _fallback(name)


def kind_plural(name: str) -> str:
    """The kind `name` in the plural: "Rules", "SLA policies"."""
    found = LABELS.get(name)
    return str(found[1]) if found else _fallback(name) + "s"


def kind_choices() -> list[tuple[str, str]]:
    """Every registered kind as (name, plural label), by label."""
    names = [*config_kinds(), *snapshot_kinds()]
    return sorted(((name, kind_plural(name)) for name in names), key=lambda c: c[1].casefold())
