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
        key="blueprints",
        group=GROUPS[2],
        label=_("Blueprints"),
        description=_(
            "A department's process as states and transitions: who moves a ticket on, "
            "what they must fill in, how long each step may take."
        ),
        url_name="console:blueprints",
    ),
)


def grouped() -> list[tuple[Promise, list[Section]]]:
    """The groups that have sections, in the Console's order, each with its sections."""
    return [(g, [s for s in SECTIONS if s.group == g]) for g in GROUPS if any(s.group == g for s in SECTIONS)]
