"""Translated names of the views shipped with the desk (stored in English, shown in the agent's
language while nobody renames them)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

SHIPPED_NAMES: dict[str, tuple[str, Promise]] = {
    "my-open": ("My open tickets", _("My open tickets")),
    "unassigned": ("Unassigned in my departments", _("Unassigned in my departments")),
    "all-unresolved": ("All unresolved", _("All unresolved")),
    "sla-at-risk": ("At risk and breached", _("At risk and breached")),
    "vip": ("VIP", _("VIP")),
    "pending": ("Pending", _("Pending")),
    "recently-solved": ("Recently solved", _("Recently solved")),
    "customer-updated": ("Updated by the customer", _("Updated by the customer")),
}


def view_name(key: str | None, name: str) -> str:
    shipped = SHIPPED_NAMES.get(key or "")
    if shipped is not None and shipped[0] == name:
        return str(shipped[1])
    return name
