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
