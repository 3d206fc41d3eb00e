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
        key="round-robin",
        group=GROUPS[2],
        label=_("Round robin"),
        description=_(
            "Assignment policies: who takes tickets in turn, how many each may hold, "
            "and who gets the next one."
        ),
        url_name="console:policies",
    ),
    Section(
        key="direct-assignment",
        group=GROUPS[2],
        label=_("Direct assignment"),
        description=_("Send new tickets that match one condition straight to an agent or a team."),
        url_name="console:direct",
    ),
    Section(
        key="macros",
        group=GROUPS[2],
        label=_("Macros"),
        description=_("Bundles of actions agents apply in one click; preview one on a ticket."),
        url_name="console:macros",
    ),
    Section(
        key="canned",
        group=GROUPS[2],
        label=_("Canned responses"),
        description=_("Reply texts agents insert into their answers; preview one on a ticket."),
        url_name="console:canned",
    ),
)


def grouped() -> list[tuple[Promise, list[Section]]]:
    """The groups that have sections, in the Console's order, each with its sections."""
    return [(g, [s for s in SECTIONS if s.group == g]) for g in GROUPS if any(s.group == g for s in SECTIONS)]
