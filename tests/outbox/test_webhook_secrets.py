"""Webhook secrets: created, rotated (both signatures during the grace), deleted only when
unused, stored encrypted, never shown again; and rules, macros, SLA policies, blueprints and
rules documents that name an unknown secret refused when saved, naming it."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from outbox.hook_server import Hook, add_webhook
from sportello.automation.macros import macro_create
from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save, rules_export, rules_import
from sportello.blueprints.services import blueprint_save
from sportello.core.actors import Via
from sportello.core.errors import Conflict, ValidationFailed
from sportello.outbox import secrets
from sportello.outbox.models import OutboxMessage, WebhookSecret
from sportello.outbox.services import outbox_deliver
from sportello.sla.services import policy_save as sla_policy_save
from sportello.tickets import services as ticket_services
from testing import NOW

HOOK_RULE: dict[str, Any] = {
    "kind": "event",
    "key": "crm-sync",
    "name": "Tell the CRM",
    "when": {"field": "ticket.subject", "op": "contains", "value": "crm"},
    "actions": [
        {"add_tags": ["synced"]},
        {
            "webhook": {
                "url": "http://127.0.0.1:9/crm",
                "body": '{"id": {{ ticket.id }}}',
                "secret_ref": "crm",
            }
        },
    ],
}


def signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    message = f"{headers['x-sportello-delivery']}.{headers['x-sportello-timestamp']}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


# -- the scenario -------------------------------------------------------------------------


def test_a_rule_naming_an_unknown_secret_is_refused_then_saved_once_it_exists_and_its_delivery_verifies(
    desk: Any, as_role: Callable[[str], Any], hook: Hook
) -> None:
    admin = as_role("admin")
    webhook = {**HOOK_RULE["actions"][1]["webhook"], "url": hook.url()}
    rule = {**HOOK_RULE, "actions": [HOOK_RULE["actions"][0], {"webhook": webhook}]}
    # when a rule names the secret 'crm' that does not exist
    refused = admin.post("/rules", rule)
    # then it is refused, naming the secret and the path of the action
    assert refused.status_code == 422
    assert error(refused) == {
        "code": "validation_failed",
        "message": "no webhook secret 'crm'",
        "field": "actions[1].webhook.secret_ref",
    }
    # when the secret is created (a generated value, shown once) and the rule saved again
    created = admin.post("/webhook-secrets", {"name": "crm"})
    assert created.status_code == 201
    value = created.json()["value"]
    assert len(value) == 43  # 32 random bytes, URL-safe base64
    assert admin.post("/rules", rule).status_code == 201
    # then a ticket the rule matches queues a webhook whose delivery is signed with the secret
    ticket_services.ticket_open(
        principal=desk.agent, via=Via.API, now=NOW,
        data={"subject": "crm sync please", "description": "x", "department_id": desk.books.pk,
              "requester_id": desk.alice.pk},
    )  # fmt: skip
    [item] = OutboxMessage.objects.filter(kind="webhook")
    outbox_deliver(outbox_id=item.pk, now=NOW)
    [headers] = hook.seen
    assert headers["x-sportello-signature"] == signature(value, headers, hook.bodies[0])
    assert "x-sportello-signature-previous" not in headers
    # and the secret's last use is recorded
    listed = admin.get("/webhook-secrets").json()["items"]
    assert [(s["name"], s["last_used_at"]) for s in listed] == [
        ("crm", NOW.isoformat().replace("+00:00", "Z"))
    ]


# -- rotation ------------------------------------------------------------------------------------


def test_a_rotated_secret_signs_with_both_values_during_the_grace_then_only_the_new_one(
    desk: Any, hook: Hook, settings: Any
) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "WEBHOOK_SECRET_GRACE": 3600}
    secrets.secret_create(actor=desk.admin, name="crm", value="old-value-0123456789", now=NOW)
    row, new = secrets.secret_rotate(actor=desk.admin, name="crm", value="new-value-0123456789", now=NOW)
    assert (row.rotated_at, row.rotated_by, row.previous_until) == (NOW, desk.admin, NOW + timedelta(hours=1))
    # during the grace: both signatures
    during = add_webhook(hook.url(), secret_ref="crm", key="during")
    outbox_deliver(outbox_id=during.pk, now=NOW + timedelta(minutes=59))
    # after it: only the new one
    after = add_webhook(hook.url(), secret_ref="crm", key="after")
    outbox_deliver(outbox_id=after.pk, now=NOW + timedelta(hours=1))
    first, second = hook.seen
    assert first["x-sportello-signature"] == signature("new-value-0123456789", first, hook.bodies[0])
    assert first["x-sportello-signature-previous"] == signature("old-value-0123456789", first, hook.bodies[0])
    assert second["x-sportello-signature"] == signature("new-value-0123456789", second, hook.bodies[1])
    assert "x-sportello-signature-previous" not in second
    assert new == "new-value-0123456789"


def test_rotating_an_unknown_secret_is_404(as_role: Callable[[str], Any]) -> None:
    r = as_role("admin").post("/webhook-secrets/nope/rotate", {})
    assert (r.status_code, error(r)["message"]) == (404, "no webhook secret 'nope'")


# -- deletion ------------------------------------------------------------------------------------


def test_a_secret_in_use_cannot_be_deleted_and_the_answer_names_its_users(
    desk: Any, as_role: Callable[[str], Any]
) -> None:
    admin = as_role("admin")
    assert admin.post("/webhook-secrets", {"name": "crm"}).status_code == 201
    rule_save(kind=RuleKind.EVENT, definition={k: v for k, v in HOOK_RULE.items() if k != "kind"},
              created_by=desk.admin, now=NOW)  # fmt: skip
    macro_create(actor=desk.admin, now=NOW, definition={
        "key": "ping-crm", "name": "Ping CRM", "visibility": {"scope": "everyone", "ids": []},
        "actions": [{"webhook": {"url": "https://crm.example.com/x", "secret_ref": "crm"}}]})  # fmt: skip
    refused = admin.delete("/webhook-secrets/crm")
    assert refused.status_code == 409
    assert error(refused)["message"] == "webhook secret 'crm' is used by macro 'ping-crm', rule 'crm-sync'"
    assert WebhookSecret.objects.filter(name="crm").exists()
    # once no current version names it, it is deleted
    rule_save(kind=RuleKind.EVENT, created_by=desk.admin, now=NOW, definition={
        **{k: v for k, v in HOOK_RULE.items() if k != "kind"},
        "actions": [{"add_tags": ["synced"]}]})  # fmt: skip
    macro_create(actor=desk.admin, now=NOW, definition={
        "key": "ping-crm-2", "name": "Other", "visibility": {"scope": "everyone", "ids": []},
        "actions": [{"add_tags": ["x"]}]})  # fmt: skip
    from sportello.automation.macros import macro_update

    macro_update(actor=desk.admin, key="ping-crm", now=NOW, definition={
        "key": "ping-crm", "name": "Ping CRM", "visibility": {"scope": "everyone", "ids": []},
        "actions": [{"add_tags": ["pinged"]}]})  # fmt: skip
    assert admin.delete("/webhook-secrets/crm").status_code == 204
    assert not WebhookSecret.objects.filter(name="crm").exists()


# -- values are never shown again, stored encrypted ----------------------------------------------


def test_a_value_is_in_the_creating_answer_only_and_stored_encrypted(
    desk: Any, as_role: Callable[[str], Any], caplog: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("sportello.core.clock.now", lambda: NOW)
    admin = as_role("admin")
    value = "s3cret-value-that-must-not-leak"
    with caplog.at_level(logging.DEBUG):
        created = admin.post("/webhook-secrets", {"name": "crm", "value": value})
        rotated = admin.post("/webhook-secrets/crm/rotate", {"value": value + "-2"})
        listed = admin.get("/webhook-secrets")
    assert created.json() == {
        "name": "crm", "version": 1, "value": value,
        "created_at": "2026-11-02T09:30:00Z", "created_by": "admin@desk.test",
        "rotated_at": None, "rotated_by": None, "previous_valid_until": None, "last_used_at": None,
    }  # fmt: skip
    assert (rotated.json()["value"], rotated.json()["version"]) == (value + "-2", 2)
    assert value not in listed.content.decode()
    assert set(listed.json()["items"][0]) == {
        "name",
        "version",
        "created_at",
        "created_by",
        "rotated_at",
        "rotated_by",
        "previous_valid_until",
        "last_used_at",
    }
    assert value not in caplog.text
    assert "webhook secret 'crm' created by admin@desk.test" in caplog.text
    assert "webhook secret 'crm' rotated by admin@desk.test" in caplog.text
    # stored encrypted: the column holds neither value
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous FROM channels_webhooksecret WHERE name = 'crm'")
        stored = cursor.fetchone()
    assert value not in "".join(stored)
    assert [s[:3] for s in stored] == ["v1:", "v1:"]
    assert [secrets.unseal(s) for s in stored] == [value + "-2", value]
    # and in no rules export
    rule_save(kind=RuleKind.EVENT, definition={k: v for k, v in HOOK_RULE.items() if k != "kind"},
              created_by=desk.admin, now=NOW)  # fmt: skip
    assert value not in json.dumps(rules_export())


def test_a_value_sealed_under_another_secret_key_opens_with_it_as_a_fallback(settings: Any) -> None:
    stored = secrets.seal("a-value-0123456789", secret_key="old-key")
    with pytest.raises(secrets.Undecryptable):
        secrets.unseal(stored)
    settings.SECRET_KEY_FALLBACKS = ["old-key"]
    assert secrets.unseal(stored) == "a-value-0123456789"


def test_a_tampered_value_does_not_open() -> None:
    stored = secrets.seal("a-value-0123456789")
    raw = bytearray(stored.encode())
    raw[10] = ord("A") if raw[10] != ord("A") else ord("B")
    with pytest.raises(secrets.Undecryptable):
        secrets.unseal(raw.decode())


BAD_NAME = "must be 1 to 64 characters: a-z, 0-9, _ . - (starting with a letter or digit)"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "Bad Name"}, "name", BAD_NAME),
        ({"name": "x" * 65}, "name", BAD_NAME),
        ({"name": "-crm"}, "name", BAD_NAME),
        ({"name": "crm", "value": "short"}, "value", "must be 16 to 256 printable ASCII characters"),
        ({"name": "crm", "value": "a\nb" * 10}, "value", "must be 16 to 256 printable ASCII characters"),
        ({"name": "crm", "value": " " + "a" * 20}, "value", "must not start or end with a space"),
    ],
)  # fmt: skip
def test_bad_names_and_values_are_refused(
    as_role: Callable[[str], Any], body: dict[str, Any], field: str, message: str
) -> None:
    r = as_role("admin").post("/webhook-secrets", body)
    assert (r.status_code, error(r)["field"], error(r)["message"]) == (422, field, message)
    assert not WebhookSecret.objects.exists()


def test_a_taken_name_is_409(desk: Any) -> None:
    secrets.secret_create(actor=desk.admin, name="crm", now=NOW)
    with pytest.raises(Conflict, match="a webhook secret named 'crm' already exists"):
        secrets.secret_create(actor=desk.admin, name="crm", now=NOW)


# -- save-time validation: siblings ----------------------------------------------------------------


def test_a_time_rule_naming_an_unknown_secret_is_refused(desk: Any) -> None:
    definition = {
        "key": "stale", "name": "Stale", "anchor": "last_update", "when": {"all": []},
        "steps": [
            {"after": "1d", "actions": [{"add_tags": ["stale"]}]},
            {"after": "2d", "actions": [
                {"webhook": {"url": "https://crm.example.com/x", "secret_ref": "crm"}}]},
        ],
    }  # fmt: skip
    with pytest.raises(ValidationFailed) as exc:
        rule_save(kind=RuleKind.TIME, definition=definition, created_by=desk.admin, now=NOW)
    assert (exc.value.field, exc.value.message) == (
        "steps[1].actions[0].webhook.secret_ref", "no webhook secret 'crm'",
    )  # fmt: skip


def test_a_macro_naming_an_unknown_secret_is_refused(desk: Any, as_role: Callable[[str], Any]) -> None:
    r = as_role("admin").post("/macros", {
        "key": "ping", "name": "Ping", "visibility": {"scope": "everyone", "ids": []},
        "actions": [{"webhook": {"url": "https://crm.example.com/x", "secret_ref": "crm"}}]})  # fmt: skip
    assert (r.status_code, error(r)["field"], error(r)["message"]) == (
        422, "actions[0].webhook.secret_ref", "no webhook secret 'crm'",
    )  # fmt: skip


def test_an_sla_escalation_naming_an_unknown_secret_is_refused(desk: Any) -> None:
    definition = {
        "key": "books", "name": "Books",
        "when": {"field": "ticket.department", "op": "is", "value": desk.books.pk},
        "targets": {"first_response": {"normal": {"within": "4h"}}},
        "escalations": [{"after_breach": "0m", "actions": [
            {"webhook": {"url": "https://crm.example.com/x", "secret_ref": "crm"}}]}],
    }  # fmt: skip
    with pytest.raises(ValidationFailed) as exc:
        sla_policy_save(definition=definition, actor=desk.admin, now=NOW)
    assert (exc.value.field, exc.value.message) == (
        "escalations[0].actions[0].webhook.secret_ref", "no webhook secret 'crm'",
    )  # fmt: skip


def test_a_blueprint_transition_naming_an_unknown_secret_is_refused(desk: Any) -> None:
    definition = {
        "key": "intake", "name": "Intake", "department": desk.books.pk,
        "states": [
            {"key": "waiting", "name": "Waiting", "status": "new"},
            {"key": "done", "name": "Done", "status": "solved", "terminal": True},
        ],
        "transitions": [{"key": "finish", "name": "Finish", "from": "waiting", "to": "done",
                         "after": [{"webhook": {"url": "https://crm.example.com/x", "secret_ref": "crm"}}]}],
    }  # fmt: skip
    with pytest.raises(ValidationFailed) as exc:
        blueprint_save(definition=definition, actor=desk.admin, now=NOW)
    assert (exc.value.field, exc.value.message) == (
        "transitions[0].after[0].webhook.secret_ref", "no webhook secret 'crm'",
    )  # fmt: skip


def test_a_rules_document_naming_an_unknown_secret_is_refused_with_its_path(desk: Any) -> None:
    document = {
        "schema": "sportello/rules/v1",
        "event_rules": [{k: v for k, v in HOOK_RULE.items() if k != "kind"}],
    }
    with pytest.raises(ValidationFailed) as exc:
        rules_import(data=document, created_by=desk.admin, now=NOW)
    assert (exc.value.field, exc.value.message) == (
        "event_rules[0].actions[1].webhook.secret_ref", "no webhook secret 'crm'",
    )  # fmt: skip


# -- the command -----------------------------------------------------------------------------------


def run(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("secrets", *args, stdout=out)
    finally:
        sys.stdin = saved
    return out.getvalue()


def test_the_command_creates_lists_rotates_and_deletes(desk: Any) -> None:
    assert run("create", "crm", "--stdin", stdin="from-stdin-0123456789\n") == "from-stdin-0123456789\n"
    generated = run("rotate", "crm").strip()
    assert len(generated) == 43
    stored = WebhookSecret.objects.get(name="crm")
    assert (secrets.unseal(stored.secret), secrets.unseal(stored.previous)) == (
        generated,
        "from-stdin-0123456789",
    )
    listed = run("list")
    assert listed.startswith("crm  created 20")
    assert generated not in listed
    assert "from-stdin" not in listed
    with pytest.raises(CommandError, match="name: a webhook secret named 'crm' already exists"):
        run("create", "crm")
    rule_save(kind=RuleKind.EVENT, definition={k: v for k, v in HOOK_RULE.items() if k != "kind"},
              created_by=desk.admin, now=NOW)  # fmt: skip
    with pytest.raises(CommandError, match="name: webhook secret 'crm' is used by rule 'crm-sync'"):
        run("delete", "crm")
    with pytest.raises(CommandError, match="no webhook secret 'nope'"):
        run("delete", "nope")


# -- the upgrade -----------------------------------------------------------------------------------


def test_the_upgrade_encrypts_values_stored_in_clear(db: Any) -> None:
    # given a secret stored in clear, as before values were encrypted
    import pkgutil
    from importlib import import_module

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    import sportello.channels.migrations as migrations

    [name] = [
        m.name
        for m in pkgutil.iter_modules(migrations.__path__)
        if m.name.endswith("_webhook_secret_rotation_encryption")
    ]
    migration = import_module(f"{migrations.__name__}.{name}")
    # the models as that migration knows them (they have since moved to the app `outbox`)
    apps = MigrationLoader(connection).project_state(("channels", name)).apps
    WebhookSecret.objects.create(name="crm", secret="clear-value-0123456789", created_at=NOW)
    # when the migration's data step runs (twice: it converts only what is in clear)
    migration.encrypt_clear_values(apps, None)
    once = WebhookSecret.objects.get(name="crm").secret
    migration.encrypt_clear_values(apps, None)
    # then the value is stored encrypted and opens to what it was
    stored = WebhookSecret.objects.get(name="crm").secret
    assert stored == once
    assert stored.startswith("v1:")
    assert "clear-value" not in stored
    assert secrets.unseal(stored) == "clear-value-0123456789"
