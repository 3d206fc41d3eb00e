"""Every API operation against every role, in one table.

Roles: the admin; a Books agent; a Books light agent; an agent of Electronics only ("outsider");
no token; a revoked token. The world: a Books ticket with a message and a staged attachment.
A ticket the caller may not see answers 404 exactly like a missing one. The last test fails
when an operation is added to the API without a row here.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from openapi_contract import response_errors
from sportello.api import api as ninja_api
from sportello.automation.assignment import policy_save
from sportello.automation.macros import macro_create
from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.blueprints.services import blueprint_save
from sportello.channels.inbound import mail_ingest
from sportello.channels.models import Mailbox
from sportello.core.actors import Via
from sportello.kb import services as kb_services
from sportello.notifications.canned import canned_create
from sportello.notifications.services import template_save
from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.outbox.secrets import secret_create
from sportello.outbox.services import outbox_add
from sportello.sla.calendars import calendar_save
from sportello.sla.models import SlaTimer
from sportello.sla.services import policy_save as sla_policy_save
from sportello.sla.tiers import tier_path_save
from sportello.ticket_tasks.services import task_create
from sportello.tickets import attachments, services
from sportello.tickets.fields_services import custom_field_create
from testing import NOW, ROLES, Desk, build_desk, built_once


def expect(admin: int, agent: int, light: int, outsider: int) -> dict[str, int]:
    return {
        "admin": admin,
        "agent": agent,
        "light": light,
        "outsider": outsider,
        "anonymous": 401,
        "revoked": 401,
    }


ALL_READ = expect(200, 200, 200, 200)
ADMIN_ONLY_CREATE = expect(201, 403, 403, 403)
ADMIN_ONLY = expect(200, 403, 403, 403)
TICKET_READ = expect(200, 200, 200, 404)
KB_EDIT = expect(200, 200, 403, 200)
KB_CREATE = expect(201, 201, 403, 201)
KB_TRANSLATION = {"title": "New", "state": "public", "body_html": "<p>x</p>"}

RULE = {
    "kind": "event",
    "key": "pages",
    "name": "Missing pages",
    "when": {"field": "ticket.subject", "op": "contains", "value": "pages"},
    "actions": [{"add_tags": ["pages"]}],
}
POLICY = {"key": "books-rr", "name": "Books round robin", "pool": {"agents": [1]}, "max_open_per_agent": 5}

MACRO: dict[str, Any] = {
    "key": "seen",
    "name": "Seen",
    "visibility": {"scope": "everyone", "ids": []},
    "actions": [{"note": {"body": "Seen by {{ agent.name }}"}}],
}

SLA: dict[str, Any] = {
    "key": "books",
    "name": "Books",
    "when": {"field": "ticket.department", "op": "is", "value": 1},
    "targets": {"first_response": {"normal": {"within": "4h"}}},
}

BLUEPRINT: dict[str, Any] = {
    "key": "intake",
    "name": "Intake",
    "department": "{department}",
    "allow_automation_bypass": True,
    "states": [
        {"key": "waiting", "name": "Waiting", "status": "new"},
        {"key": "done", "name": "Done", "status": "solved", "terminal": True},
    ],
    "transitions": [{"key": "finish", "name": "Finish", "from": "waiting", "to": "done"}],
}
CALENDAR: dict[str, Any] = {
    "key": "office",
    "name": "Office",
    "time_zone": "Europe/Rome",
    "weekly": {"mon": [["09:00", "18:00"]]},
}

# (method, path, body, expected status by role). Path placeholders are filled from the world.
MATRIX: list[tuple[str, str, Any, dict[str, int]]] = [
    ("GET", "/departments", None, ALL_READ),
    ("POST", "/departments", {"name": "Logistics"}, ADMIN_ONLY_CREATE),
    ("GET", "/departments/{department}", None, ALL_READ),
    ("PATCH", "/departments/{department}", {"description": "Paper books"}, ADMIN_ONLY),
    ("GET", "/agents", None, ALL_READ),
    ("POST", "/agents", {"email": "new@desk.test", "name": "New"}, ADMIN_ONLY_CREATE),
    ("GET", "/agents/me", None, ALL_READ),
    ("PUT", "/agents/me/status", {"status": "online"}, ALL_READ),
    ("GET", "/agents/{agent}", None, ALL_READ),
    ("PATCH", "/agents/{agent}", {"name": "Bruno B."}, ADMIN_ONLY),
    ("PUT", "/agents/{agent}/status", {"status": "online"}, expect(200, 200, 403, 403)),
    ("GET", "/teams", None, ALL_READ),
    ("POST", "/teams", {"name": "Comics", "department_id": "{department}"}, ADMIN_ONLY_CREATE),
    ("GET", "/teams/{team}", None, ALL_READ),
    ("PATCH", "/teams/{team}", {"email": "novels@desk.test"}, ADMIN_ONLY),
    ("GET", "/tokens", None, ALL_READ),
    ("POST", "/tokens", {"name": "laptop"}, expect(201, 201, 201, 201)),
    ("DELETE", "/tokens/{own_token}", None, expect(204, 204, 204, 204)),
    ("GET", "/contacts", None, ALL_READ),
    ("POST", "/contacts", {"email": "carla@example.test"}, expect(201, 201, 403, 201)),
    ("GET", "/contacts/{contact}", None, ALL_READ),
    ("PATCH", "/contacts/{contact}", {"phone": "+39 02 1234"}, expect(200, 200, 403, 200)),
    ("GET", "/organizations", None, ALL_READ),
    ("POST", "/organizations", {"name": "Globex"}, expect(201, 201, 403, 201)),
    ("GET", "/organizations/{organization}", None, ALL_READ),
    ("PATCH", "/organizations/{organization}", {"tier": "silver"}, expect(200, 200, 403, 200)),
    ("GET", "/tickets", None, ALL_READ),
    (
        "POST",
        "/tickets",
        {
            "subject": "Torn cover",
            "description": "Torn.",
            "department_id": "{department}",
            "requester_id": "{contact}",
        },
        expect(201, 201, 403, 403),
    ),
    ("GET", "/tickets/{ticket}", None, TICKET_READ),
    ("PATCH", "/tickets/{ticket}", {"version": 1, "priority": "high"}, expect(200, 200, 403, 404)),
    ("GET", "/tickets/{ticket}/messages", None, TICKET_READ),
    ("POST", "/tickets/{ticket}/messages", {"body": "On its way."}, expect(201, 201, 403, 404)),
    ("GET", "/tickets/{ticket}/events", None, TICKET_READ),
    ("GET", "/tickets/{ticket}/deliveries", None, TICKET_READ),
    ("POST", "/tickets/{ticket}/attachments", "upload", expect(201, 201, 201, 404)),
    ("GET", "/tickets/{ticket}/attachments", None, TICKET_READ),
    ("GET", "/attachments/{attachment}/download", None, TICKET_READ),
    ("GET", "/fields", None, ALL_READ),
    ("POST", "/fields", {"key": "order_number", "label": "Order", "type": "text"}, ADMIN_ONLY_CREATE),
    ("GET", "/fields/{field}", None, ALL_READ),
    ("PATCH", "/fields/{field}", {"label": "Sub-category"}, ADMIN_ONLY),
    ("GET", "/departments/{department}/layout", None, expect(200, 200, 200, 403)),
    ("PUT", "/departments/{department}/layout", {"fields": [{"field": "subcategory"}]}, ADMIN_ONLY),
    ("GET", "/search?q=pages", None, ALL_READ),
    # Rules: admins write; admins and agents read, export and simulate; light agents nothing.
    ("GET", "/rules", None, expect(200, 200, 403, 200)),
    ("POST", "/rules", {**RULE, "key": "another"}, ADMIN_ONLY_CREATE),
    ("GET", "/rules/export", None, expect(200, 200, 403, 200)),
    ("POST", "/rules/import", {"schema": "sportello/rules/v1"}, ADMIN_ONLY),
    (
        "POST",
        "/rules/simulate",
        {"ticket_id": "{ticket}", "change": {"priority": "urgent"}},
        expect(200, 200, 403, 404),
    ),
    ("POST", "/rules/replay", {"rule": {**RULE, "kind": "event"}, "days": 7}, ADMIN_ONLY),
    ("GET", "/rules/{rule}", None, expect(200, 200, 403, 200)),
    ("PUT", "/rules/{rule}", {**RULE, "name": "Renamed"}, ADMIN_ONLY),
    ("DELETE", "/rules/{rule}", None, ADMIN_ONLY),
    ("GET", "/rules/{rule}/versions", None, expect(200, 200, 403, 200)),
    ("GET", "/rules/{rule}/versions/{version}", None, expect(200, 200, 403, 200)),
    ("GET", "/rules/{rule}/versions/{a}/diff/{b}", None, expect(200, 200, 403, 200)),
    ("POST", "/rules/{rule}/revert", {"version": 1}, ADMIN_ONLY),
    # {rule} is an event rule: no time rule to preview (time rules: tests/automation/test_timers.py)
    ("GET", "/rules/{rule}/preview", None, expect(404, 404, 403, 404)),
    ("GET", "/tickets/{ticket}/traces", None, TICKET_READ),
    # Assignment policies: admins write, every agent reads (the backlog scoped to readable tickets).
    ("GET", "/assignment-policies", None, ALL_READ),
    ("POST", "/assignment-policies", {**POLICY, "key": "another-rr"}, ADMIN_ONLY_CREATE),
    ("GET", "/assignment-policies/{policy}", None, ALL_READ),
    ("PUT", "/assignment-policies/{policy}", {**POLICY, "max_open_per_agent": 9}, ADMIN_ONLY),
    ("GET", "/assignment-policies/{policy}/versions", None, ALL_READ),
    ("GET", "/assignment-policies/{policy}/versions/{version}", None, ALL_READ),
    ("GET", "/assignment-policies/{policy}/versions/{a}/diff/{b}", None, ALL_READ),
    ("POST", "/assignment-policies/{policy}/revert", {"version": 1}, ADMIN_ONLY),
    ("GET", "/assignment-policies/{policy}/backlog", None, ALL_READ),
    # Macros: the world's macro is for everyone and adds a note (light agents may apply it).
    # Agents save personal macros for themselves only; admins any. Bulk answers 200 with a
    # result per ticket (an unreadable ticket is a 404 inside).
    ("GET", "/macros", None, ALL_READ),
    (
        "POST",
        "/macros",
        {**MACRO, "key": "bruno-own", "visibility": {"scope": "personal", "ids": ["{agent}"]}},
        expect(201, 201, 403, 403),
    ),
    ("GET", "/macros/{macro}", None, ALL_READ),
    ("PUT", "/macros/{macro}", {**MACRO, "name": "Renamed"}, ADMIN_ONLY),
    ("GET", "/macros/{macro}/versions", None, ALL_READ),
    ("GET", "/macros/{macro}/versions/{version}", None, ALL_READ),
    ("GET", "/macros/{macro}/versions/{a}/diff/{b}", None, ALL_READ),
    ("POST", "/macros/{macro}/revert", {"version": 1}, ADMIN_ONLY),
    ("POST", "/macros/{macro}/preview", {"ticket_id": "{ticket}"}, expect(200, 200, 200, 404)),
    ("POST", "/macros/{macro}/apply", {"ticket_id": "{ticket}"}, expect(200, 200, 200, 404)),
    ("POST", "/macros/{macro}/apply-bulk", {"ticket_ids": ["{ticket}"]}, ALL_READ),
    # Tasks: those who may add internal notes to the ticket add and edit its tasks; the list of
    # tasks across tickets is scoped by content (checked below).
    ("GET", "/tickets/{ticket}/tasks", None, TICKET_READ),
    (
        "POST",
        "/tickets/{ticket}/tasks",
        {"title": "Reprint", "assignee_id": "{agent}"},
        expect(201, 201, 201, 404),
    ),
    ("GET", "/tasks", None, ALL_READ),
    ("GET", "/tasks/{task}", None, TICKET_READ),
    ("PATCH", "/tasks/{task}", {"title": "Reprint pages 30-40", "version": 1}, TICKET_READ),
    ("POST", "/tasks/{task}/complete", {}, TICKET_READ),
    ("POST", "/tasks/{task}/reopen", {}, TICKET_READ),
    # SLA policies: admins write, agents read, light agents see none; a ticket's clocks to whoever
    # reads the ticket.
    ("GET", "/sla-policies", None, expect(200, 200, 403, 200)),
    ("POST", "/sla-policies", {**SLA, "key": "another"}, ADMIN_ONLY_CREATE),
    ("GET", "/sla-policies/{sla}", None, expect(200, 200, 403, 200)),
    ("PUT", "/sla-policies/{sla}", {**SLA, "name": "Books (renamed)"}, ADMIN_ONLY),
    ("DELETE", "/sla-policies/{sla}", None, ADMIN_ONLY),
    ("GET", "/sla-policies/{sla}/versions", None, expect(200, 200, 403, 200)),
    ("GET", "/sla-policies/{sla}/versions/{version}", None, expect(200, 200, 403, 200)),
    ("GET", "/sla-policies/{sla}/versions/{a}/diff/{b}", None, expect(200, 200, 403, 200)),
    ("POST", "/sla-policies/{sla}/revert", {"version": 1}, ADMIN_ONLY),
    ("GET", "/tickets/{ticket}/sla", None, TICKET_READ),
    ("GET", "/calendars", None, expect(200, 200, 403, 200)),
    ("POST", "/calendars", {**CALENDAR, "key": "night"}, ADMIN_ONLY_CREATE),
    ("GET", "/calendars/{calendar}", None, expect(200, 200, 403, 200)),
    ("PUT", "/calendars/{calendar}", {**CALENDAR, "name": "Office (renamed)"}, ADMIN_ONLY),
    ("DELETE", "/calendars/{calendar}", None, ADMIN_ONLY),
    ("GET", "/calendars/{calendar}/versions", None, expect(200, 200, 403, 200)),
    ("GET", "/calendars/{calendar}/versions/{version}", None, expect(200, 200, 403, 200)),
    ("GET", "/calendars/{calendar}/versions/{a}/diff/{b}", None, expect(200, 200, 403, 200)),
    ("POST", "/calendars/{calendar}/revert", {"version": 1}, ADMIN_ONLY),
    ("POST", "/calendars/{calendar}/holidays", {"country": "IT", "years": [2027]}, ADMIN_ONLY),
    (
        "GET",
        "/metrics/sla?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z",
        None,
        expect(200, 200, 403, 200),
    ),
    # Satisfaction surveys: admins set a department's survey, agents read it; metrics as SLA's
    ("GET", "/departments/{department}/survey-policy", None, ALL_READ),
    (
        "PUT",
        "/departments/{department}/survey-policy",
        {"enabled": True, "scale": "five", "ask_nps": True},
        ADMIN_ONLY,
    ),
    ("GET", "/metrics/satisfaction?group_by=agent", None, expect(200, 200, 403, 200)),
    # Blueprints: admins write, agents read; transitions by their owners (any Books agent here)
    ("GET", "/blueprints", None, expect(200, 200, 403, 200)),
    ("POST", "/blueprints", {**BLUEPRINT, "key": "another"}, ADMIN_ONLY_CREATE),
    ("GET", "/blueprints/export", None, expect(200, 200, 403, 200)),
    ("POST", "/blueprints/import", {"schema": "sportello/blueprints/v1"}, ADMIN_ONLY),
    ("GET", "/blueprints/{blueprint}", None, expect(200, 200, 403, 200)),
    ("PUT", "/blueprints/{blueprint}", {**BLUEPRINT, "name": "Renamed"}, ADMIN_ONLY),
    ("DELETE", "/blueprints/{blueprint}", None, ADMIN_ONLY),
    ("GET", "/blueprints/{blueprint}/versions", None, expect(200, 200, 403, 200)),
    ("GET", "/blueprints/{blueprint}/versions/{version}", None, expect(200, 200, 403, 200)),
    ("GET", "/blueprints/{blueprint}/versions/{a}/diff/{b}", None, expect(200, 200, 403, 200)),
    ("POST", "/blueprints/{blueprint}/revert", {"version": 1}, ADMIN_ONLY),
    ("GET", "/blueprints/{blueprint}/flowchart", None, expect(200, 200, 403, 200)),
    ("GET", "/blueprints/{blueprint}/metrics", None, expect(200, 200, 403, 403)),
    ("GET", "/metrics/blueprints?from=2026-01-01T00:00:00Z", None, expect(200, 200, 403, 200)),
    # Reports: admins and supervisors (the matrix's Books agent is not a supervisor).
    ("GET", "/reports/process?source=department:{department}", None, ADMIN_ONLY),
    ("GET", "/reports/process/export.csv?source=department:{department}", None, ADMIN_ONLY),
    ("GET", "/reports/process/export.xes?source=department:{department}", None, ADMIN_ONLY),
    ("GET", "/reports/tickets.csv", None, ADMIN_ONLY),
    ("GET", "/tickets/{ticket}/blueprint", None, expect(200, 200, 403, 404)),
    ("POST", "/tickets/{ticket}/blueprint/transitions/{transition}", {}, expect(200, 200, 403, 404)),
    ("GET", "/tier-paths", None, expect(200, 200, 403, 200)),
    ("GET", "/tier-paths/{tier_path}", None, expect(200, 200, 403, 200)),
    ("GET", "/tier-paths/{tier_path}/versions", None, expect(200, 200, 403, 200)),
    ("GET", "/tier-paths/{tier_path}/versions/{version}", None, expect(200, 200, 403, 200)),
    ("GET", "/tier-paths/{tier_path}/versions/{a}/diff/{b}", None, expect(200, 200, 403, 200)),
    ("POST", "/tier-paths/{tier_path}/revert", {"version": 1}, ADMIN_ONLY),
    (
        "PUT",
        "/tier-paths/{tier_path}",
        {
            "name": "Books tiers",
            "department": "{department}",
            "tiers": [
                {"key": "t1", "name": "T1", "team": "{team}"},
                {"key": "t2", "name": "T2", "team": "{team}"},
            ],
        },
        ADMIN_ONLY,
    ),
    ("GET", "/tickets/{ticket}/tier", None, TICKET_READ),
    # the Books path has a second tier: agents and admins escalate once (200); light agents may not
    # Merge and split: agents who may change both tickets; light agents never.
    ("GET", "/tickets/{ticket}/merge-preview?target_id={other}", None, expect(200, 200, 403, 404)),
    ("POST", "/tickets/{ticket}/merge", {"target_id": "{other}"}, expect(200, 200, 403, 404)),
    ("POST", "/tickets/{ticket}/messages/{message}/split", {"subject": "Apart"}, expect(201, 201, 403, 404)),
    ("POST", "/tickets/{ticket}/escalate", {"reason": "Needs the second line"}, expect(200, 200, 403, 404)),
    # Mail: mailboxes and the MTA endpoint are admins'; notification templates are read by agents
    # and written by admins; canned responses are agents' (shared ones within their departments).
    ("GET", "/mailboxes", None, ADMIN_ONLY),
    ("POST", "/mailboxes", {"address": "new@shop.test", "department_id": "{department}"}, ADMIN_ONLY_CREATE),
    ("GET", "/mailboxes/{mailbox}", None, ADMIN_ONLY),
    ("PATCH", "/mailboxes/{mailbox}", {"imap_folder": "Support"}, ADMIN_ONLY),
    ("DELETE", "/mailboxes/{mailbox}", None, ADMIN_ONLY),
    ("POST", "/mailboxes/{mailbox}/poll", {}, ADMIN_ONLY),
    ("POST", "/mail/inbound", "rfc822", ADMIN_ONLY_CREATE),
    ("GET", "/mail/inbound", None, ADMIN_ONLY),
    ("GET", "/mail/inbound/{inbound}/raw", None, ADMIN_ONLY),
    ("GET", "/notification-templates", None, expect(200, 200, 403, 200)),
    ("GET", "/notification-templates/ticket_received/en", None, expect(200, 200, 403, 200)),
    (
        "PUT",
        "/notification-templates/ticket_received/en",
        {"subject": "Got it", "body_text": "Thanks"},
        ADMIN_ONLY,
    ),
    ("DELETE", "/notification-templates/ticket_received/en", None, expect(204, 403, 403, 403)),
    ("GET", "/notification-templates/ticket_received/en/versions", None, expect(200, 200, 403, 200)),
    (
        "GET",
        "/notification-templates/ticket_received/en/versions/{version}",
        None,
        expect(200, 200, 403, 200),
    ),
    (
        "GET",
        "/notification-templates/ticket_received/en/versions/{a}/diff/{b}",
        None,
        expect(200, 200, 403, 200),
    ),
    ("POST", "/notification-templates/ticket_received/en/revert", {"version": 1}, ADMIN_ONLY),
    (
        "POST",
        "/notification-templates/ticket_received/preview",
        {"ticket_id": "{ticket}"},
        expect(200, 200, 403, 404),
    ),
    ("GET", "/canned-responses", None, expect(200, 200, 403, 200)),
    ("POST", "/canned-responses", {"title": "Hi", "body": "Hello"}, expect(201, 201, 403, 201)),
    ("GET", "/canned-responses/{canned}", None, expect(200, 200, 403, 404)),
    ("PATCH", "/canned-responses/{canned}", {"title": "Hello again"}, expect(200, 200, 403, 404)),
    ("DELETE", "/canned-responses/{canned}", None, expect(204, 204, 403, 404)),
    ("POST", "/canned-responses/{canned}/render", {"ticket_id": "{ticket}"}, expect(200, 200, 403, 404)),
    # Health: anyone (a load balancer) gets the overall status, admins the details (checked in
    # tests/core/test_health.py); failing timers are admins' alone.
    ("GET", "/health", None, {**ALL_READ, "anonymous": 200, "revoked": 200}),
    ("GET", "/timers/failing", None, ADMIN_ONLY),
    ("POST", "/timers/failing/{timer_kind}/{timer}/retry", {}, ADMIN_ONLY),
    ("DELETE", "/timers/failing/{timer_kind}/{timer}", None, expect(204, 403, 403, 403)),
    # Parked deliveries (retried for a day without success) are admins' to see and retry.
    ("GET", "/deliveries/parked", None, ADMIN_ONLY),
    ("POST", "/deliveries/{delivery}/retry", {}, ADMIN_ONLY),
    # Webhook secrets are admins': a value is shown only to the admin who creates or rotates it.
    ("GET", "/webhook-secrets", None, ADMIN_ONLY),
    ("POST", "/webhook-secrets", {"name": "erp"}, ADMIN_ONLY_CREATE),
    ("POST", "/webhook-secrets/{webhook_secret}/rotate", {}, ADMIN_ONLY),
    ("DELETE", "/webhook-secrets/{webhook_secret}", None, expect(204, 403, 403, 403)),
    # The knowledge base: every agent reads (light agents internal and public translations),
    # admins and agents write; "Save as article" needs a ticket the caller may read.
    ("GET", "/kb/categories", None, ALL_READ),
    ("POST", "/kb/categories", {"slug": "billing", "title": {"en": "Billing"}}, KB_CREATE),
    ("PATCH", "/kb/categories/{kb_category}", {"position": 2}, KB_EDIT),
    ("POST", "/kb/categories/{kb_category}/sections", {"slug": "more", "title": {"en": "More"}}, KB_CREATE),
    ("GET", "/kb/articles", None, ALL_READ),
    ("POST", "/kb/articles", {"section_id": "{kb_section}", "source_language": "en"}, KB_CREATE),
    ("POST", "/kb/articles/from-ticket", {"ticket_id": "{kb_ticket}"}, expect(201, 201, 403, 404)),
    ("GET", "/kb/articles/{kb_article}", None, ALL_READ),
    ("PATCH", "/kb/articles/{kb_article}", {"position": 3}, KB_EDIT),
    ("PUT", "/kb/articles/{kb_article}/related", {"article_ids": []}, KB_EDIT),
    ("GET", "/kb/articles/{kb_article}/translations/en", None, ALL_READ),
    ("PUT", "/kb/articles/{kb_article}/translations/en", KB_TRANSLATION, KB_EDIT),
    ("GET", "/kb/articles/{kb_article}/translations/en/versions", None, KB_EDIT),
    ("GET", "/kb/articles/{kb_article}/translations/en/diff?a=1&b=1", None, KB_EDIT),
    ("POST", "/kb/articles/{kb_article}/translations/en/restore", {"number": 1}, KB_EDIT),
    ("POST", "/kb/articles/{kb_article}/attachments", "upload", KB_CREATE),
    ("GET", "/kb/attachments/{kb_attachment}/download", None, ALL_READ),
    # Deflection by answer suggestions: admins' figures.
    ("GET", "/kb/deflection", None, ADMIN_ONLY),
]

# Operations that leak nothing by status alone, but whose *content* is scoped: checked below.
SCOPED_LISTS = {"/tickets", "/search?q=pages", "/tasks"}


@pytest.fixture(scope="module")
def _matrix(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Desk, dict[str, Any]]]:
    """The desk and its world, built once for the module inside a transaction that is rolled
    back at its end; each test runs in a savepoint of it (the `db` fixture) rolled back after
    the test, so every one of the matrix's thousand requests meets the same world without
    rebuilding it."""
    files = tmp_path_factory.mktemp("matrix") / "attachments"
    with built_once(django_db_blocker, files=files, build=lambda: _built(build_desk())) as built:
        yield built


def _built(desk: Desk) -> tuple[Desk, dict[str, Any]]:
    return desk, _world(desk)


@pytest.fixture
def desk(_matrix: tuple[Desk, dict[str, Any]], db: Any) -> Desk:
    return _matrix[0]


@pytest.fixture
def world(_matrix: tuple[Desk, dict[str, Any]], db: Any) -> dict[str, Any]:
    return _matrix[1]


def _world(desk: Desk) -> dict[str, Any]:
    blueprint_save(definition={**BLUEPRINT, "department": desk.books.pk}, actor=desk.admin, now=NOW)
    outcome = services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Missing pages",
            "description": "Pages 30 to 40 are blank.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=NOW,
    )
    other = services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={"subject": "Blank pages again", "description": "Same book.", "department_id": desk.books.pk,
              "requester_id": desk.alice.pk},
        now=NOW,
    ).ticket  # fmt: skip
    staged = attachments.attachment_upload(
        principal=desk.agent,
        ticket_id=outcome.ticket.pk,
        stream=io.BytesIO(b"%PDF-1.4 invoice"),
        filename="invoice.pdf",
        declared_content_type="application/pdf",
        via=Via.API,
        now=NOW,
    )
    custom_field_create(actor=None, key="subcategory", label="Subcategory", type="text")
    definition = {k: v for k, v in RULE.items() if k != "kind"}
    rule_save(kind=RuleKind.EVENT, definition=definition, created_by=desk.admin, now=NOW)
    policy_save(definition=POLICY, created_by=desk.admin, now=NOW)
    macro_create(definition=MACRO, actor=desk.admin, now=NOW)
    sla_policy_save(definition=SLA, actor=desk.admin, now=NOW)
    calendar_save(definition=CALENDAR, actor=desk.admin, now=NOW)
    tier_path_save(definition={"key": "books", "name": "Books tiers", "department": desk.books.pk, "tiers": [
        {"key": "t1", "name": "T1", "team": desk.team.pk},
        {"key": "t2", "name": "T2", "team": desk.team.pk}]}, actor=desk.admin, now=NOW)  # fmt: skip
    task = task_create(actor=desk.agent, ticket_id=outcome.ticket.pk, title="Check the print run",
                       assignee_id=desk.agent.pk, now=NOW)  # fmt: skip
    mailbox = Mailbox.objects.create(address="books@shop.test", department=desk.books, created_at=NOW)
    canned = canned_create(actor=desk.admin, title="Thanks", body="Thank you, {{ requester.name }}.",
                           department_id=desk.books.pk, now=NOW)  # fmt: skip
    received = mail_ingest(
        raw=b"From: dora@customer.test\r\nTo: books@shop.test\r\nSubject: Earlier\r\n\r\nAn earlier one\r\n",
        via="mta",
        now=NOW,
    )
    parked_timer = SlaTimer.objects.create(
        ticket=outcome.ticket, key="first_response:0:breach:0", due_at=NOW,
        attempts=5, failing_since=NOW, parked_at=NOW, last_error="boom",
    )  # fmt: skip
    parked = outbox_add(kind="webhook", ticket=outcome.ticket, change_id=None, dedupe_key="matrix:parked",
                        payload={"url": "https://hooks.shop.test/in", "body": "{}"}, now=NOW)  # fmt: skip
    OutboxMessage.objects.filter(pk=parked.pk).update(status=OutboxStatus.PARKED, attempts=30, parked_at=NOW)
    secret_create(actor=desk.admin, name="crm", now=NOW)
    template_save(key="ticket_received", language="en", subject="Got it", body_text="Thanks",
                  actor=desk.admin, now=NOW)  # fmt: skip
    kb = _knowledge_base(desk)
    return {
        **kb,
        "webhook_secret": "crm",
        "version": 1,
        "a": 1,
        "b": 1,
        "timer_kind": "sla",
        "timer": parked_timer.pk,
        "delivery": parked.pk,
        "inbound": received.inbound_id,
        "mailbox": mailbox.pk,
        "canned": canned.pk,
        "ticket": outcome.ticket.pk,
        "other": other.pk,
        "message": outcome.message.pk if outcome.message is not None else 0,
        "attachment": staged.pk,
        "department": desk.books.pk,
        "agent": desk.agent.pk,
        "team": desk.team.pk,
        "contact": desk.alice.pk,
        "organization": desk.acme.pk,
        "field": "subcategory",
        "rule": RULE["key"],
        "policy": POLICY["key"],
        "macro": MACRO["key"],
        "task": task.pk,
        "sla": SLA["key"],
        "calendar": CALENDAR["key"],
        "tier_path": "books",
        "blueprint": "intake",
        "transition": "finish",
    }


def _knowledge_base(desk: Any) -> dict[str, int]:
    """A category, a section, an article with a public English translation and a file, and a
    solved Books ticket to save as an article."""
    category = kb_services.category_create(slug="orders", title={"en": "Orders"}, actor=desk.admin, now=NOW)
    section = kb_services.section_create(
        category=category, slug="returns", title={"en": "Returns"}, actor=desk.admin, now=NOW
    )
    article = kb_services.article_create(section=section, source_language="en", actor=desk.admin, now=NOW)
    kb_services.translation_save(
        article=article, language="en", title="Returns", body_html="<p>Send it back.</p>", state="public",
        actor=desk.admin, now=NOW,
    )  # fmt: skip
    file = kb_services.attachment_add(
        article=article, filename="label.pdf", content_type="application/pdf", data=b"%PDF-1.4 label",
        actor=desk.admin, now=NOW,
    )  # fmt: skip
    solved = services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={"subject": "Refund", "description": "Where is my refund?", "department_id": desk.books.pk,
              "requester_id": desk.alice.pk, "status": "solved"},
        now=NOW,
    ).ticket  # fmt: skip
    return {
        "kb_category": category.pk,
        "kb_section": section.pk,
        "kb_article": article.pk,
        "kb_attachment": file.pk,
        "kb_ticket": solved.pk,
    }


def fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, str):
        for name, v in world.items():
            if value == "{" + name + "}":
                return v
            value = value.replace("{" + name + "}", str(v))
        return value
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    return value


def call(client: Any, method: str, path: str, body: Any) -> Any:
    if body == "rfc822":
        raw = b"From: carla@customer.test\r\nTo: books@shop.test\r\nSubject: Hi\r\n\r\nHello\r\n"
        return client.client.post(
            f"/api/v1{path}", data=raw, content_type="message/rfc822", headers=client.headers
        )
    if body == "upload":
        upload = io.BytesIO(b"hello")
        upload.name = "note.txt"
        return client.client.post(f"/api/v1{path}", data={"file": upload}, headers=client.headers)
    if method == "GET":
        return client.client.get(f"/api/v1{path}", headers=client.headers)
    if method == "DELETE":
        return client.delete(path)
    return client._call(method.lower(), path, body)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_operation_answers_each_role_as_the_matrix_says(
    world: dict[str, Any],
    as_role: Callable[[str], Any],
    role: str,
    method: str,
    path: str,
    body: Any,
    expected: dict[str, int],
) -> None:
    client = as_role(role)
    if "{own_token}" in path and role not in ("anonymous", "revoked"):
        world = {**world, "own_token": client.post("/tokens", {"name": "to revoke"}).json()["id"]}
    elif "{own_token}" in path:
        world = {**world, "own_token": 1}
    r = call(client, method, fill(path, world), fill(body, world))
    assert r.status_code == expected[role], r.content[:300]
    if r.status_code >= 400:
        assert set(r.json()["error"]) >= {"code", "message", "field"}
    # Every answer is the one the OpenAPI document declares, status and shape.
    full_path = f"/api/v1{fill(path, world)}"
    content = b"".join(r.streaming_content) if r.streaming else r.content
    assert response_errors(method, full_path, r.status_code, r.get("Content-Type", ""), content) == []


@pytest.mark.parametrize("role", ["admin", "agent", "light", "outsider"])
def test_ticket_lists_and_search_show_a_ticket_exactly_to_those_who_may_read_it(
    world: dict[str, Any], as_role: Callable[[str], Any], role: str
) -> None:
    client = as_role(role)
    visible = role != "outsider"
    listed = [t["id"] for t in client.get("/tickets").json()["items"]]
    found = [t["id"] for t in client.get("/search", {"q": "pages"}).json()["items"]]
    tasks = [t["id"] for t in client.get("/tasks").json()["items"]]
    assert (world["ticket"] in listed) is visible
    assert (world["ticket"] in found) is visible
    assert (world["task"] in tasks) is visible


def test_every_api_operation_has_a_row_in_the_matrix() -> None:
    schema = ninja_api.get_openapi_schema()
    operations = {(m.upper(), p.removeprefix("/api/v1")) for p, ops in schema["paths"].items() for m in ops}
    placeholders = {
        "{department_id}": "{department}",
        "{agent_id}": "{agent}",
        "{team_id}": "{team}",
        "{token_id}": "{own_token}",
        "{contact_id}": "{contact}",
        "{organization_id}": "{organization}",
        "{ticket_id}": "{ticket}",
        "{message_id}": "{message}",
        "{attachment_id}": "{attachment}",
        "{ref}": "{field}",
        "{key}": "{rule}",
        "{policy_key}": "{policy}",
        "{macro_key}": "{macro}",
        "{task_id}": "{task}",
        "{sla_key}": "{sla}",
        "{calendar_key}": "{calendar}",
        "{path_key}": "{tier_path}",
        "{blueprint_key}": "{blueprint}",
        "{transition_key}": "{transition}",
        "{mailbox_id}": "{mailbox}",
        "{canned_id}": "{canned}",
        "{inbound_id}": "{inbound}",
        "{kind}": "{timer_kind}",
        "{timer_id}": "{timer}",
        "{delivery_id}": "{delivery}",
        "{secret_name}": "{webhook_secret}",
        # `{key}` is `{rule}` by now
        "/notification-templates/{rule}/{language}": "/notification-templates/ticket_received/en",
        "/notification-templates/{rule}/preview": "/notification-templates/ticket_received/preview",
        "{category_id}": "{kb_category}",
        "{article_id}": "{kb_article}",
        "{kb_attachment_id}": "{kb_attachment}",
        "/translations/{language}": "/translations/en",
    }
    covered = set()
    for method, path, _, _ in MATRIX:
        covered.add((method, path.split("?")[0]))
    normalised = set()
    for method, path in operations:
        for name, ours in placeholders.items():
            path = path.replace(name, ours)
        normalised.add((method, path))
    assert normalised - covered == set()
    assert {p for _, p, _, _ in MATRIX} >= SCOPED_LISTS
