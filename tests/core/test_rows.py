"""`core.rows` writes and reads the rows the ORM would, column for column (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sportello.accounts.models import ApiToken, User
from sportello.core import rows
from sportello.tickets.models import EventKind, Message, Ticket, TicketEvent, TicketTag

AT = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)


def _columns(obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_an_inserted_ticket_reads_back_as_the_orm_wrote_one(desk: Any, open_ticket: Any) -> None:
    model = open_ticket("Model")
    model.refresh_from_db()
    copy = Ticket(**{k: v for k, v in _columns(model).items() if k not in ("id", "number")})
    copy.number = model.number + 1000
    copy.custom_fields = {"order": "A1", "nested": {"x": [1, "é"]}}
    copy.due_at = AT
    rows.insert_rows([copy])
    assert copy.pk is not None
    assert copy.pk != model.pk
    assert not copy._state.adding
    again = Ticket.objects.get(pk=copy.pk)
    expected = {**_columns(model), "id": copy.pk, "number": model.number + 1000,
                "custom_fields": {"order": "A1", "nested": {"x": [1, "é"]}}, "due_at": AT}  # fmt: skip
    assert _columns(again) == expected


def test_many_rows_in_one_statement_take_their_ids_in_order(desk: Any, open_ticket: Any) -> None:
    ticket = open_ticket("Tags")
    tags = [TicketTag(ticket=ticket, name=f"t{i}") for i in range(5)]
    rows.insert_rows(tags)
    stored = dict(TicketTag.objects.filter(ticket=ticket, name__startswith="t").values_list("pk", "name"))
    assert {t.pk: t.name for t in tags} == stored
    events = [
        TicketEvent(ticket=ticket, at=AT, kind=EventKind.FIELD, field="x", old_value=None,
                    new_value={"n": i}, actor_kind="agent", actor_id=desk.agent.pk, actor_label="a",
                    via="api", cause="", depth=0)
        for i in range(3)
    ]  # fmt: skip
    rows.insert_rows(events)
    assert [TicketEvent.objects.get(pk=e.pk).new_value for e in events] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert len({e.change_id for e in events}) == 3  # each its own default, as the ORM makes them


def test_an_update_writes_only_the_named_columns(desk: Any, open_ticket: Any) -> None:
    ticket = open_ticket("Before")
    stale = Ticket.objects.get(pk=ticket.pk)
    ticket.subject = "After"
    ticket.custom_fields = {"k": "v"}
    ticket.priority = 3
    rows.update_row(ticket, ["subject", "custom_fields"])
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.subject, stored.custom_fields, stored.priority) == ("After", {"k": "v"}, stale.priority)


def test_a_row_read_by_its_key_is_the_orms(desk: Any, open_ticket: Any) -> None:
    ticket = open_ticket("Read")
    message = Message.objects.filter(ticket=ticket).first()
    assert message is not None
    read = rows.get_by_pk(Message, message.pk)
    assert read is not None
    assert _columns(read) == _columns(Message.objects.get(pk=message.pk))
    assert rows.get_by_pk(Message, 10**12) is None
    user = rows.get_by_pk(User, desk.agent.pk)
    assert user is not None
    assert _columns(user) == _columns(User.objects.get(pk=desk.agent.pk))


def test_a_token_and_its_agent_read_in_one_statement(desk: Any, api: Any) -> None:
    api(desk.agent).get("/tickets")  # makes and uses a token
    token = ApiToken.objects.filter(user=desk.agent).first()
    assert token is not None
    split = rows.column_count(ApiToken)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {rows.select_columns(ApiToken, 't')}, {rows.select_columns(User, 'u')} "
            "FROM accounts_apitoken t JOIN accounts_user u ON u.id = t.user_id WHERE t.id = %s",
            [token.pk],
        )
        found = cursor.fetchone()
    assert _columns(rows.from_row(ApiToken, "t", found[:split])) == _columns(token)
    assert _columns(rows.from_row(User, "u", found[split:])) == _columns(User.objects.get(pk=desk.agent.pk))
