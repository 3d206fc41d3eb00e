"""Every editor of a versioned configuration kind links to the thing's history, and the link
opens it: rules, round-robin policies, blueprints, business calendars, SLA policies, tier paths,
macros and notification templates (the demo desk has one of each kind but the template)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(now: datetime) -> Any:
    from sportello.accounts.models import Role, User
    from sportello.demo.loader import demo_load
    from sportello.notifications.services import template_save

    demo_load(tickets=0, now=now)
    admin = User.objects.filter(role=Role.ADMIN).earliest("pk")
    template_save(
        key="ticket_received", language="es", subject="Recibido", body_text="Hola", actor=admin, now=now
    )
    return admin


def test_each_editor_links_to_its_history(demo: Any, browser: Any) -> None:
    from sportello.automation.models import AssignmentPolicy, Macro, Rule
    from sportello.blueprints.models import Blueprint
    from sportello.sla.models import BusinessCalendar, SlaPolicy, TierPath

    client = browser(demo)
    editors: dict[str, tuple[Any, str]] = {
        "rules": (Rule, "/console/rules/{}/edit/"),
        "assignment_policies": (AssignmentPolicy, "/console/round-robin/{}/"),
        "blueprints": (Blueprint, "/console/blueprints/{}/edit/"),
        "calendars": (BusinessCalendar, "/console/calendars/{}/"),
        "sla_policies": (SlaPolicy, "/console/sla-policies/{}/"),
        "tier_paths": (TierPath, "/console/tier-paths/{}/"),
        "macros": (Macro, "/console/macros/{}/"),
    }
    pages = {
        kind: (page.format(model.objects.earliest("pk").key), model.objects.earliest("pk").key)
        for kind, (model, page) in editors.items()
    }
    pages["notification_templates"] = ("/console/templates/ticket_received/es/", "ticket_received/es")
    for kind, (page, key) in pages.items():
        html = client.get(page).content.decode()
        history = f"/console/history/{kind}/{key}/"
        assert f'<a class="history-link" href="{history}">History</a>' in html, page
        assert client.get(history).status_code == 200, history
