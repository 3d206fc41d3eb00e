"""Bulk changes from the queue: each ticket through the pipeline with the version the agent saw;
a summary of what changed and, for each failure, why."""

from __future__ import annotations

from typing import Any

from sportello.tickets.models import Ticket

HX = {"HX-Request": "true"}


def _post(client: Any, data: dict[str, Any]) -> Any:
    return client.post("/queues/bulk/", data, headers=HX)


def test_bulk_status_change_reports_how_many_changed(desk: Any, open_ticket: Any, browser: Any) -> None:
    tickets = [open_ticket(f"T{i}") for i in range(3)]
    r = _post(
        browser(desk.agent),
        {
            "bulk-action": "status",
            "bulk-status": "pending",
            "ticket": [f"{t.pk}:{t.version}" for t in tickets],
        },
    )
    assert r.status_code == 200, r.content.decode()
    assert "3 tickets changed." in r.content.decode()
    assert r["HX-Trigger"] == "queues:changed"
    assert set(Ticket.objects.values_list("status__key", flat=True)) == {"pending"}


def test_select_all_in_the_view_changes_every_ticket_of_the_view_and_filters(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    open_ticket("Gift 1", tags=["gift"])
    open_ticket("Gift 2", tags=["gift"])
    open_ticket("Plain")
    open_ticket("TV", department=desk.electronics, tags=["gift"])
    client = browser(desk.agent)
    view = client.get("/").context["view"]
    r = _post(
        client,
        {"bulk-action": "status", "bulk-status": "pending", "all": "1", "view": view.pk, "tag": "gift"},
    )
    assert r.status_code == 200, r.content.decode()
    assert "2 tickets changed." in r.content.decode()
    pending = Ticket.objects.filter(status__key="pending").values_list("subject", flat=True)
    assert sorted(pending) == ["Gift 1", "Gift 2"]


def test_each_failure_is_reported_with_its_reason_and_nothing_is_overwritten(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    # given a ticket changed since the list was loaded, and one of a department the agent does not work in
    fresh = open_ticket("Fresh")
    stale = open_ticket("Stale")
    seen = stale.version
    other = open_ticket("TV", department=desk.electronics)
    from sportello.core.actors import Via
    from sportello.tickets.services import ticket_update

    ticket_update(
        principal=desk.admin,
        ticket_id=stale.pk,
        via=Via.WEB,
        data={"priority": "low", "version": seen},
        now=stale.created_at,
    )
    # when the agent sets all three to urgent
    r = _post(
        browser(desk.agent),
        {
            "bulk-action": "priority",
            "bulk-priority": "4",
            "ticket": [f"{fresh.pk}:{fresh.version}", f"{stale.pk}:{seen}", f"{other.pk}:{other.version}"],
        },
    )
    # then one changed; the stale one is reported and kept as it was; the other is not found
    html = r.content.decode()
    assert r.status_code == 200
    assert "1 ticket changed." in html
    assert f'data-failed-ticket="{stale.pk}" data-code="stale_version"' in html
    assert "changed by someone else after the list was loaded; not overwritten" in html
    assert f'data-failed-ticket="{other.pk}" data-code="not_found"' in html
    assert f"#{other.number}" not in html  # no number of a ticket the agent may not see
    assert dict(Ticket.objects.values_list("subject", "priority")) == {"Fresh": 4, "Stale": 1, "TV": 2}


def test_light_agents_get_no_bulk_controls_and_are_refused(desk: Any, open_ticket: Any, browser: Any) -> None:
    t = open_ticket("Book")
    client = browser(desk.light)
    page = client.get("/").content.decode()
    assert 'name="ticket"' not in page
    r = _post(client, {"bulk-action": "priority", "bulk-priority": "4", "ticket": [f"{t.pk}:{t.version}"]})
    assert r.status_code == 403
    assert "You may not change tickets in bulk." in r.content.decode()
    t.refresh_from_db()
    assert t.priority == 2


def test_more_than_the_bound_is_refused_with_a_clear_message(
    desk: Any, open_ticket: Any, browser: Any, monkeypatch: Any
) -> None:
    from sportello.queues import services

    monkeypatch.setattr(services, "BULK_MAX", 2)
    tickets = [open_ticket(f"T{i}") for i in range(3)]
    client = browser(desk.agent)
    view = client.get("/").context["view"]
    r = _post(client, {"bulk-action": "priority", "bulk-priority": "4", "all": "1", "view": view.pk})
    assert r.status_code == 422
    assert "At most 2 tickets can be changed at once; narrow the view first." in r.content.decode()
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("priority", flat=True)) == {
        2
    }


def test_a_macro_applies_to_each_selected_ticket(
    desk: Any, open_ticket: Any, browser: Any, frozen_clock: Any
) -> None:
    from sportello.automation.macros import macro_create

    macro_create(
        definition={
            "key": "escalate",
            "name": "Escalate",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}}],
        },
        actor=desk.admin,
        now=frozen_clock,
    )
    tickets = [open_ticket(f"T{i}") for i in range(2)]
    r = _post(
        browser(desk.agent),
        {
            "bulk-action": "macro",
            "bulk-macro": "escalate",
            "ticket": [f"{t.pk}:{t.version}" for t in tickets],
        },
    )
    assert r.status_code == 200, r.content.decode()
    assert "2 tickets changed." in r.content.decode()
    assert set(Ticket.objects.values_list("priority", flat=True)) == {4}
