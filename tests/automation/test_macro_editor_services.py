"""The services behind the macro and canned response editors: a macro's draft checked and
previewed without a write, a stale macro update refused, deactivation and activation by admins
only; a canned response's fingerprint refusing stale updates and deletes, one title per owner
and language, sharing changed by an update."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.automation import macros
from sportello.automation.models import Macro
from sportello.core.errors import Conflict, PermissionDenied, ValidationFailed
from sportello.notifications import canned
from sportello.notifications.models import CannedResponse
from sportello.tickets.models import Message, Ticket

DEFINITION = {
    "key": "ask-order",
    "name": "Ask for the order number",
    "visibility": {"scope": "everyone", "ids": []},
    "actions": [
        {"set": {"field": "ticket.priority", "value": "high"}},
        {"note": {"body": "Asked {{ requester.name }}."}},
    ],
}


def test_a_draft_is_checked_with_the_path_of_a_bad_value(desk: Any) -> None:
    assert macros.macro_check(definition=DEFINITION)["key"] == "ask-order"
    bad = {**DEFINITION, "actions": [{"set": {"field": "ticket.priority", "value": "huge"}}]}
    with pytest.raises(ValidationFailed) as caught:
        macros.macro_check(definition=bad)
    assert caught.value.field == "actions[0].set.value"
    with pytest.raises(ValidationFailed) as caught:
        macros.macro_check(definition={**DEFINITION, "visibility": {"scope": "team", "ids": [999999]}})
    assert caught.value.field == "visibility.ids"


def test_a_draft_preview_writes_nothing(desk: Any, open_ticket: Any, now: Any) -> None:
    ticket = open_ticket("Parcel")
    before = Message.objects.filter(ticket=ticket).count()
    preview = macros.macro_preview_draft(
        definition=DEFINITION, ticket_id=ticket.pk, agent=desk.admin, now=now
    )
    assert preview.version == 1
    assert [(c.field, c.new) for c in preview.changes if c.field == "priority"] == [("priority", "high")]
    assert preview.message == {"public": False, "body": "Asked Alice Acme."}
    assert not Macro.objects.exists()
    assert Message.objects.filter(ticket=ticket).count() == before
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_a_stale_update_is_refused(desk: Any, now: Any) -> None:
    macros.macro_create(definition=DEFINITION, actor=desk.admin, now=now)
    macros.macro_update(key="ask-order", definition={**DEFINITION, "name": "A"}, actor=desk.admin, now=now)
    with pytest.raises(Conflict) as caught:
        macros.macro_update(
            key="ask-order",
            definition={**DEFINITION, "name": "B"},
            actor=desk.admin,
            now=now,
            expected_version=1,
        )
    assert caught.value.code == "stale_version"
    assert Macro.objects.get(key="ask-order").name == "A"


def test_only_admins_deactivate_and_activate(desk: Any, now: Any) -> None:
    macros.macro_create(definition=DEFINITION, actor=desk.admin, now=now)
    with pytest.raises(PermissionDenied):
        macros.macro_deactivate(key="ask-order", actor=desk.agent, now=now)
    assert macros.macro_deactivate(key="ask-order", actor=desk.admin, now=now)[1]
    assert not macros.macro_deactivate(key="ask-order", actor=desk.admin, now=now)[1]
    with pytest.raises(PermissionDenied):
        macros.macro_activate(key="ask-order", actor=desk.agent, now=now)
    macro, written = macros.macro_activate(key="ask-order", actor=desk.admin, now=now)
    assert (written, macro.active, macro.version) == (True, True, 2)
    assert not macros.macro_activate(key="ask-order", actor=desk.admin, now=now)[1]


def test_a_canned_fingerprint_refuses_stale_writes(desk: Any, now: Any) -> None:
    row = canned.canned_create(actor=desk.admin, title="Thanks", body="Thank you", now=now)
    loaded = canned.canned_fingerprint(row)
    canned.canned_update(actor=desk.admin, canned_id=row.pk, body="Thanks a lot", expected=loaded, now=now)
    with pytest.raises(Conflict) as caught:
        canned.canned_update(actor=desk.admin, canned_id=row.pk, body="Mine", expected=loaded, now=now)
    assert caught.value.code == "stale_canned"
    with pytest.raises(Conflict):
        canned.canned_delete(actor=desk.admin, canned_id=row.pk, expected=loaded)
    assert CannedResponse.objects.get(pk=row.pk).body == "Thanks a lot"
    row.refresh_from_db()
    canned.canned_delete(actor=desk.admin, canned_id=row.pk, expected=canned.canned_fingerprint(row))
    assert not CannedResponse.objects.exists()


def test_one_title_per_owner_and_language(desk: Any, now: Any) -> None:
    canned.canned_create(actor=desk.agent, title="Thanks", body="a", department_id=desk.books.pk, now=now)
    with pytest.raises(Conflict) as caught:
        canned.canned_create(actor=desk.admin, title="THANKS", body="b", department_id=desk.books.pk, now=now)
    assert (caught.value.code, caught.value.field) == ("canned_exists", "title")
    canned.canned_create(
        actor=desk.admin, title="Thanks", body="b", language="es", department_id=desk.books.pk, now=now
    )
    mine = canned.canned_create(actor=desk.admin, title="Thanks", body="c", now=now)
    with pytest.raises(Conflict):
        canned.canned_update(actor=desk.admin, canned_id=mine.pk, department_id=desk.books.pk, now=now)
    moved = canned.canned_update(
        actor=desk.admin, canned_id=mine.pk, department_id=desk.electronics.pk, now=now
    )
    assert (moved.owner_user_id, moved.owner_department_id) == (None, desk.electronics.pk)
