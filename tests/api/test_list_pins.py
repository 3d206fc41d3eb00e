"""Every GET operation of the API that answers a list has its statement count pinned here: read by
an admin on the demo desk, at two page sizes, after one warm-up request (per-process caches and the
token's last-use write). A list whose statements grow with its rows fails, and so does a new list
operation that nobody pinned: add it to `PINS` with the count it has, after checking that the
count does not grow with the data."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

# Query parameters a list needs (or that make it hold several rows), by path.
QUERIES: dict[str, dict[str, str]] = {
    "/api/v1/search": {"q": "order"},
    "/api/v1/metrics/sla": {
        "from": "2026-09-01T00:00:00Z",
        "to": "2026-12-01T00:00:00Z",
        "group_by": "agent",
    },
}
# operationId -> statements of one request (an int, or one per database vendor).
PINS: dict[str, int | dict[str, int]] = {
    "accounts_api_list_agents": 3,
    "accounts_api_list_departments": 2,
    "accounts_api_list_teams": 3,
    "accounts_api_list_tokens": 2,
    "automation_api_assignment_get_backlog": 3,
    "automation_api_assignment_list_policies": 2,
    "automation_api_assignment_list_policy_versions": 3,
    "automation_api_list_rule_versions": 3,
    "automation_api_list_rules": 3,
    "automation_api_list_traces": 4,
    "automation_api_macros_list_macro_versions": 4,
    "automation_api_macros_list_macros": 3,
    "automation_api_timers_rule_preview": 5,
    "blueprints_api_all_metrics": 5,
    "blueprints_api_list_blueprint_versions": 3,
    "blueprints_api_list_blueprints": 3,
    "channels_api_list_deliveries": 4,
    "channels_api_list_parked": 2,
    "channels_api_mail_list_inbound": 2,
    "channels_api_mailboxes_list_mailboxes": 2,
    "channels_api_secrets_list_secrets": 2,
    "contacts_api_list_contacts": 2,
    "contacts_api_list_organizations": 2,
    "core_api_timers_failing": 6,  # one read per timer kind: surveys added one
    "kb_api_list_articles": 4,
    "kb_api_list_categories": 3,
    "kb_api_list_versions": 3,
    "notifications_api_list_canned": 2,
    "notifications_api_list_templates": 2,
    "notifications_api_template_versions": 2,
    "sla_api_list_calendar_versions": 3,
    "sla_api_list_calendars": 4,
    "sla_api_list_policies": 4,
    "sla_api_list_tier_path_versions": 3,
    "sla_api_list_tier_paths": 2,
    "sla_api_policy_versions": 3,
    "sla_api_sla_metrics": 2,
    "surveys_api_satisfaction_metrics": 2,
    "ticket_tasks_api_list_tasks": 2,
    "ticket_tasks_api_ticket_tasks": 4,
    "tickets_api_attachments_list_attachments": 4,
    "tickets_api_fields_list_fields": 2,
    "tickets_api_list_events": 4,
    "tickets_api_list_messages": 6,
    "tickets_api_list_tickets": 4,
    "tickets_api_search_search_tickets": 4,
}


def _list_operations() -> dict[str, str]:
    """operationId -> path of every GET operation whose 200 answer is a list or a page of one."""
    from sportello.api import api

    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]
    found: dict[str, str] = {}
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        answer = get["responses"].get(200) or get["responses"].get("200") or {}
        body = answer.get("content", {}).get("application/json", {}).get("schema", {})
        if body.get("type") == "array" or _holds_a_list(components, body.get("$ref", "")):
            found[get["operationId"].removeprefix("sportello_")] = path
    return found


def _holds_a_list(components: dict[str, Any], ref: str) -> bool:
    if not ref:
        return False
    properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
    return properties.get("items", {}).get("type") == "array"


@pytest.fixture
def demo_admin(db: Any, monkeypatch: pytest.MonkeyPatch) -> Client:
    from sportello.accounts.models import User
    from sportello.accounts.services import token_create
    from sportello.core import clock

    monkeypatch.setattr(clock, "now", lambda: NOW)
    call_command("demo", tickets=12, stdout=StringIO(), stderr=StringIO())
    admin = User.objects.filter(role="admin", is_active=True).order_by("id").first()
    assert admin is not None
    secret = token_create(user=admin, name="pins", now=NOW)[1]
    return Client(headers={"Authorization": f"Bearer {secret}"})


def _arguments() -> dict[str, str]:
    """A value for each path parameter, from the demo desk: its busiest ticket, its first rule,
    policy, blueprint."""
    from django.db.models import Count

    from sportello.automation.models import AssignmentPolicy, Macro, Rule
    from sportello.blueprints.models import Blueprint
    from sportello.sla.models import BusinessCalendar, SlaPolicy, TierPath
    from sportello.tickets.models import Ticket

    ticket = Ticket.objects.annotate(n=Count("messages")).order_by("-n", "id").first()
    article = _kb_article()
    rule = Rule.objects.filter(kind="event").order_by("id").first()
    time_rule = Rule.objects.filter(kind="time").order_by("id").first()
    assert ticket is not None
    assert rule is not None
    assert time_rule is not None
    return {
        "ticket_id": str(ticket.pk),
        "key": rule.key,
        "time_rule": time_rule.key,
        "language": "en",
        "sla_key": SlaPolicy.objects.order_by("id").values_list("key", flat=True)[0],
        "policy_key": AssignmentPolicy.objects.order_by("id").values_list("key", flat=True)[0],
        "blueprint_key": Blueprint.objects.order_by("id").values_list("key", flat=True)[0],
        "macro_key": Macro.objects.order_by("id").values_list("key", flat=True)[0],
        "calendar_key": BusinessCalendar.objects.order_by("id").values_list("key", flat=True)[0],
        "path_key": TierPath.objects.order_by("id").values_list("key", flat=True)[0],
        "article_id": str(article.pk),
    }


def _kb_article() -> Any:
    """The demo's first knowledge-base article with an English translation (one is written when
    the demo has none), saved twice: two versions to list."""
    from sportello.accounts.models import User
    from sportello.kb import services as kb
    from sportello.kb.models import Article, ArticleTranslation

    found = ArticleTranslation.objects.filter(language="en").order_by("article_id").first()
    if found is not None:
        return found.article
    admin = User.objects.filter(role="admin", is_active=True).order_by("id").first()
    assert admin is not None
    category = kb.category_create(slug="pins", title={"en": "Pins"}, actor=admin, now=NOW)
    section = kb.section_create(category=category, slug="pins", title={"en": "Pins"}, actor=admin, now=NOW)
    article: Article = kb.article_create(section=section, source_language="en", actor=admin, now=NOW)
    for body in ("<p>One</p>", "<p>Two</p>"):
        kb.translation_save(article=article, language="en", title="Pins", body_html=body, state="public",
                            actor=admin, now=NOW)  # fmt: skip
    return article


def _statements(client: Client, url: str, query: dict[str, str], limit: int) -> tuple[int, int]:
    params: dict[str, str | int] = {**query, "limit": limit}
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    sql = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    return response.status_code, len(sql)


def test_every_list_operation_has_a_pinned_statement_count_that_does_not_grow(demo_admin: Client) -> None:
    operations = _list_operations()
    arguments = _arguments()
    measured: dict[str, tuple[int, int]] = {}
    for operation, path in sorted(operations.items()):
        if path.endswith("/preview"):  # a time rule's
            path = path.replace("{key}", arguments["time_rule"])
        url = path.format(**{k: v for k, v in arguments.items() if "{" + k + "}" in path})
        query = QUERIES.get(path, {})
        demo_admin.get(url, {**query, "limit": "2"})  # warm-up
        status, small = _statements(demo_admin, url, query, 2)
        assert status == 200, (operation, url, status)
        status, large = _statements(demo_admin, url, query, 50)
        assert status == 200, (operation, url, status)
        measured[operation] = (small, large)
    counts = {op: small for op, (small, large) in measured.items()}
    growing = {op: pair for op, pair in measured.items() if pair[0] != pair[1]}
    pinned = {op: (p if isinstance(p, int) else p[connection.vendor]) for op, p in PINS.items()}
    assert growing == {}, "statements grow with the page size"
    assert sorted(set(operations) - set(PINS)) == [], f"list operations without a pin: {counts}"
    assert sorted(set(PINS) - set(operations)) == [], "pins of operations that no longer exist"
    assert counts == pinned
