"""The demo desk's service levels and processes: what a shop's support manager would set up.

Saved through the same services an admin's definitions go through, after the demo's
conversations are loaded, so they apply from now on (the history has no clocks):

- a business calendar, the desk's default: Monday to Friday 09:00-13:00 and 14:00-18:00 in
  Rome, with Italy's public holidays of this year and the next (from the `holidays` package);
- two SLA policies: VIP customers (first response within an hour around the clock, resolution
  within a business day; at the breach the priority goes up and the team hears of it) and the
  standard one for everyone else (first response and resolution in business time per priority;
  a warning at 80 %, a tag at the breach);
- a tier path for Technical Support: Setup help (tier 1), then Replacements (tier 2);
- a mailbox per department address (for mail from an MTA; no IMAP account);
- a blueprint for Technical Support's replacements under warranty, for tickets tagged `rma`:
  diagnosis, then the replacement approved (two business days at most before the team is
  reminded), then shipped; cancellable at any step with a note.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sportello.accounts.models import Department, Team, User
from sportello.blueprints.services import blueprint_save
from sportello.sla.calendars import calendar_import_holidays, calendar_save
from sportello.sla.services import policy_save
from sportello.sla.tiers import tier_path_save

CALENDAR = "shop-hours"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def demo_service_levels_create(*, now: datetime) -> dict[str, int]:
    """Save the sample calendar, SLA policies, tier path and blueprint. Returns how many of each."""
    admin = User.objects.filter(role="admin", is_active=True).order_by("id").first()
    support = Department.objects.get(name="Technical Support")
    setup = Team.objects.get(department=support, name="Setup help")
    replacements = Team.objects.get(department=support, name="Replacements")
    calendar_save(definition=SHOP_HOURS, is_default=True, actor=admin, now=now)
    calendar_import_holidays(key=CALENDAR, country="IT", years=[now.year, now.year + 1], actor=admin, now=now)
    for definition in (VIP, STANDARD):
        policy_save(definition=definition, actor=admin, now=now)
    tier_path_save(
        definition={
            "key": "technical-support",
            "name": "Technical Support",
            "department": support.pk,
            "tiers": [
                {"key": "t1", "name": "Tier 1: setup help", "team": setup.pk},
                {"key": "t2", "name": "Tier 2: replacements", "team": replacements.pk},
            ],
        },
        actor=admin,
        now=now,
    )
    blueprint_save(definition=_warranty_replacement(support.pk), actor=admin, now=now)
    # Every department's address receives mail (from an MTA: `sportello mail ingest`, or the
    # inbound endpoint); an admin adds the IMAP account to poll one.
    from sportello.channels.mailboxes import mailbox_create

    mailboxes = [
        mailbox_create(actor=admin, data={"address": d.email, "department_id": d.pk}, now=now)
        for d in Department.objects.order_by("id")
    ]
    return {"calendars": 1, "sla_policies": 2, "tier_paths": 1, "blueprints": 1, "mailboxes": len(mailboxes)}


SHOP_HOURS: dict[str, Any] = {
    "key": CALENDAR,
    "name": "Shop office hours",
    "time_zone": "Europe/Rome",
    "weekly": {d: [["09:00", "13:00"], ["14:00", "18:00"]] for d in WEEKDAYS},
}

VIP: dict[str, Any] = {
    "key": "vip",
    "name": "VIP customers",
    "position": 10,
    "calendar": CALENDAR,
    "when": {
        "any": [
            {"field": "requester.vip", "op": "is", "value": True},
            {"field": "organization.vip", "op": "is", "value": True},
        ]
    },
    "targets": {
        "first_response": {p: {"within": "1h"} for p in ("low", "normal", "high", "urgent")},
        "next_response": {p: {"within": "4h"} for p in ("low", "normal", "high", "urgent")},
        "resolution": {p: {"within": "1d", "business": True} for p in ("low", "normal", "high", "urgent")},
    },
    "warnings": [{"at_percent": 80}],
    "escalations": [
        {
            "after_breach": "0m",
            "actions": [
                {"set": {"field": "ticket.priority", "value": "urgent"}},
                {"add_tags": ["sla_breached"]},
                {
                    "notify": {
                        "to": ["assignee", "team"],
                        "subject": "VIP ticket #{{ ticket.number }} is past its target",
                        "body": "{{ requester.name }} is waiting: answer now."
                        "\n\nOpen the ticket: {{ links.agent_ticket }}",
                    }
                },
            ],
        }
    ],
}

STANDARD: dict[str, Any] = {
    "key": "standard",
    "name": "Everyone else",
    "position": 100,  # no `when`: every ticket no policy before it took
    "calendar": CALENDAR,
    "targets": {
        "first_response": {
            "low": {"within": "2d", "business": True},
            "normal": {"within": "8h", "business": True},
            "high": {"within": "4h", "business": True},
            "urgent": {"within": "1h"},
        },
        "resolution": {
            "low": {"within": "10d", "business": True},
            "normal": {"within": "5d", "business": True},
            "high": {"within": "3d", "business": True},
            "urgent": {"within": "1d"},
        },
    },
    "warnings": [{"at_percent": 80}],
    "escalations": [{"after_breach": "0m", "actions": [{"add_tags": ["sla_breached"]}]}],
}


def _warranty_replacement(department: int) -> dict[str, Any]:
    return {
        "key": "warranty-replacement",
        "name": "Replacement under warranty",
        "department": department,
        "entry": {"field": "ticket.tags", "op": "contains", "value": "rma"},
        "allow_automation_bypass": True,
        "states": [
            {"key": "diagnosis", "name": "Diagnosis", "status": "open"},
            {
                "key": "approved",
                "name": "Replacement approved",
                "status": "pending",
                "time_limit": "2d",
                "business": True,
                "escalations": [
                    {
                        "after": "0m",
                        "actions": [
                            {
                                "notify": {
                                    "to": ["team"],
                                    "subject": "Replacement for #{{ ticket.number }} not shipped yet",
                                    "body": "Approved two business days ago: ship it or tell the customer."
                                    "\n\nOpen the ticket: {{ links.agent_ticket }}",
                                }
                            }
                        ],
                    }
                ],
            },
            {"key": "shipped", "name": "Shipped", "status": "solved", "terminal": True},
            {"key": "cancelled", "name": "Cancelled", "status": "closed", "terminal": True},
        ],
        "transitions": [
            {
                "key": "approve",
                "name": "Approve the replacement",
                "from": "diagnosis",
                "to": "approved",
                "owners": {"roles": ["agent", "admin"]},
                "during": {
                    "fields": [{"field": "ticket.custom.product_code", "required": True}],
                    "note": "required",
                },
                "after": [
                    {"add_tags": ["replacement_approved"]},
                    {
                        "notify": {
                            "to": ["requester"],
                            "subject": "Your replacement is approved",
                            "body": "A new {{ ticket.custom.product_code }} leaves within two working days.",
                        }
                    },
                ],
            },
            {"key": "ship", "name": "Shipped", "from": "approved", "to": "shipped"},
            {
                "key": "cancel",
                "name": "Cancel",
                "from": "*",
                "to": "cancelled",
                "during": {"note": "required"},
            },
        ],
    }
