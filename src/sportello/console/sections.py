"""The Console's sections, registered once: its navigation and its overview are drawn from this
list, so a section appears in both when it exists and nowhere before. Groups follow an admin
centre's (People, Channels, Workflows, Service levels, Apps and integrations, Account); a group
with no section yet is not shown."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # the `section` a page names to be the current one
    group: Promise
    label: Promise
    description: Promise
    url_name: str


GROUPS: tuple[Promise, ...] = (
    _("People"),
    _("Channels"),
    _("Workflows"),
    _("Service levels"),
    _("Apps and integrations"),
    _("Account"),
)

SECTIONS: tuple[Section, ...] = (
    Section(
        key="tokens",
        group=GROUPS[4],
        label=_("API tokens"),
        description=_(
            "Every agent's tokens for the REST API: who holds them, when they were last used; revoke any."
        ),
        url_name="console:tokens",
    ),
    Section(
        key="agents",
        group=GROUPS[0],
        label=_("Agents"),
        description=_(
            "Invite agents by e-mail, set their role and departments, deactivate or reactivate them."
        ),
        url_name="console:agents",
    ),
    Section(
        key="teams",
        group=GROUPS[0],
        label=_("Teams"),
        description=_("Groups of agents within a department, for routing and assignment."),
        url_name="console:teams",
    ),
    Section(
        key="contacts",
        group=GROUPS[0],
        label=_("Contacts"),
        description=_("Customers: search them, edit their address, phone, organization and VIP flag."),
        url_name="console:contacts",
    ),
    Section(
        key="organizations",
        group=GROUPS[0],
        label=_("Organizations"),
        description=_("Customers' companies: their e-mail domains, tier and VIP flag."),
        url_name="console:organizations",
    ),
)


def grouped() -> list[tuple[Promise, list[Section]]]:
    """The groups that have sections, in the Console's order, each with its sections."""
    return [(g, [s for s in SECTIONS if s.group == g]) for g in GROUPS if any(s.group == g for s in SECTIONS)]
