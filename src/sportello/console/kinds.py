"""Each configuration kind's human, translated label, singular and plural ("Rule", "Rules"):
what the Console shows instead of a kind's registered name (`core.versioning`). A kind not
listed here yet shows its own English label, capitalised."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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
}


def _fallback(name: str) -> str:
    kind = config_kinds().get(name)
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
    return sorted(((name, kind_plural(name)) for name in config_kinds()), key=lambda c: c[1].casefold())
