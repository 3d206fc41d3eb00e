"""The Console's statuses: admins only; a status created, edited (a save over a change made
meanwhile refused, what was typed kept), reordered within its category with ↑/↓ (the focus
back on the button pressed); the category's rules (one default, a used status keeps its
category, a default or the last active status stays active) shown as form errors; the list at
a fixed statement count; every status links to its history."""

from __future__ import annotations

from typing import Any

import pytest

from console.test_console_query_counts import count
from sportello.core.errors import Conflict
from sportello.tickets.models import Status
from sportello.tickets.statuses import status_create, status_fingerprint, status_move, status_update

pytestmark = pytest.mark.django_db

# session, user, the statuses with whether tickets have them
STATUSES = 3


def keys(category: str) -> list[str]:
    return list(
        Status.objects.filter(category=category).order_by("position", "id").values_list("key", flat=True)
    )


def test_only_admins_reach_the_statuses(desk: Any, browser: Any, client: Any) -> None:
    pending = Status.objects.get(key="pending")
    pages = ["/console/statuses/", "/console/statuses/new/", f"/console/statuses/{pending.pk}/"]
    for page in pages:
        assert "/login/" in client.get(page)["Location"]
        for who in (desk.agent, desk.light):
            assert browser(who).get(page).status_code == 403
        assert browser(desk.admin).get(page).status_code == 200
    moved = browser(desk.agent).post(f"/console/statuses/{pending.pk}/move/", {"direction": "up"})
    assert moved.status_code == 403
    made = browser(desk.agent).post("/console/statuses/new/", {"key": "x", "name": "X", "category": "open"})
    assert made.status_code == 403
    assert not Status.objects.filter(key="x").exists()


def test_an_admin_creates_a_status_and_it_goes_last_in_its_category(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post("/console/statuses/new/", {"key": "waiting_parts", "name": "Waiting for parts",
                                              "category": "on_hold"})  # fmt: skip
    assert r.status_code == 302
    made = Status.objects.get(key="waiting_parts")
    assert (made.name, made.category, made.is_default, made.is_active) == (
        "Waiting for parts",
        "on_hold",
        False,
        True,
    )
    assert keys("on_hold") == ["on_hold", "waiting_parts"]
    html = client.get("/console/statuses/").content.decode()
    assert "Waiting for parts" in html
    assert 'href="/console/history/statuses/waiting_parts/"' in html
    # the key is taken: the error by the field, what was typed kept
    again = client.post(
        "/console/statuses/new/", {"key": "waiting_parts", "name": "Other", "category": "open"}
    )
    assert again.status_code == 409
    assert "A status with this key exists already." in again.content.decode()
    assert 'value="Other"' in again.content.decode()
    bad = client.post("/console/statuses/new/", {"key": "Bad Key", "name": "", "category": "open"})
    assert bad.status_code == 422
    assert "This field is required." in bad.content.decode()


def test_making_a_status_the_default_replaces_the_former_one(desk: Any, now: Any, browser: Any) -> None:
    made = status_create(actor=desk.admin, key="triage", name="Triage", category="new", now=now)
    client = browser(desk.admin)
    page = client.get(f"/console/statuses/{made.pk}/")
    fingerprint = page.context["form"].initial["fingerprint"]
    form = {
        "name": "Triage",
        "category": "new",
        "is_default": "on",
        "is_active": "on",
        "fingerprint": fingerprint,
    }
    r = client.post(f"/console/statuses/{made.pk}/", form)
    assert r.status_code == 302
    assert list(Status.objects.filter(category="new", is_default=True).values_list("key", flat=True)) == [
        "triage"
    ]
    # the default cannot be deactivated, nor unset directly
    with pytest.raises(Conflict):
        status_update(actor=desk.admin, status_id=made.pk, is_active=False, now=now)
    with pytest.raises(Conflict):
        status_update(actor=desk.admin, status_id=made.pk, is_default=False, now=now)


def test_a_stale_edit_is_refused_and_what_was_typed_is_kept(desk: Any, now: Any, browser: Any) -> None:
    status = Status.objects.get(key="pending")
    client = browser(desk.admin)
    seen = client.get(f"/console/statuses/{status.pk}/").context["form"].initial["fingerprint"]
    status_update(actor=desk.admin, status_id=status.pk, name="Waiting on customer", now=now)
    r = client.post(f"/console/statuses/{status.pk}/", {"name": "Awaiting reply", "category": "pending",
                                                         "is_default": "on", "is_active": "on",
                                                         "fingerprint": seen})  # fmt: skip
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone changed this status while you were editing it." in html
    assert 'value="Awaiting reply"' in html
    assert "Waiting on customer" in html  # what is saved now
    assert Status.objects.get(pk=status.pk).name == "Waiting on customer"
    # saving again (the form now carries the current fingerprint) goes through
    fresh = r.context["form"].data["fingerprint"]
    assert fresh == status_fingerprint(Status.objects.get(pk=status.pk))
    ok = client.post(f"/console/statuses/{status.pk}/", {"name": "Awaiting reply", "category": "pending",
                                                          "is_default": "on", "is_active": "on",
                                                          "fingerprint": fresh})  # fmt: skip
    assert ok.status_code == 302
    assert Status.objects.get(pk=status.pk).name == "Awaiting reply"


def test_a_used_status_keeps_its_category(desk: Any, now: Any, browser: Any, open_ticket: Any) -> None:
    made = status_create(actor=desk.admin, key="parked", name="Parked", category="on_hold", now=now)
    free = status_update(actor=desk.admin, status_id=made.pk, category="pending", now=now)
    assert free.category == "pending"
    ticket = open_ticket("Broken")
    # the ticket takes the status (how does not matter here: that it has it)
    type(ticket).objects.filter(pk=ticket.pk).update(status=made, status_category="pending")
    r = browser(desk.admin).post(f"/console/statuses/{made.pk}/", {"name": "Parked", "category": "on_hold",
                                                                    "is_active": "on"})  # fmt: skip
    assert r.status_code == 409
    assert (
        "Tickets have this status: its category cannot change. Create a new status instead."
        in r.content.decode()
    )
    assert Status.objects.get(pk=made.pk).category == "pending"


def test_the_last_active_status_of_a_category_stays_active(desk: Any, now: Any) -> None:
    made = status_create(actor=desk.admin, key="parked", name="Parked", category="on_hold", now=now)
    status_update(actor=desk.admin, status_id=made.pk, is_default=True, now=now)
    on_hold = Status.objects.get(key="on_hold")
    status_update(actor=desk.admin, status_id=on_hold.pk, is_active=False, now=now)
    with pytest.raises(Conflict) as refused:
        status_update(actor=desk.admin, status_id=made.pk, is_active=False, now=now)
    assert refused.value.field == "is_active"


def test_statuses_move_within_their_category_by_keyboard_buttons(desk: Any, now: Any, browser: Any) -> None:
    status_create(actor=desk.admin, key="parked", name="Parked", category="on_hold", now=now)
    status_create(actor=desk.admin, key="frozen", name="Frozen", category="on_hold", now=now)
    frozen = Status.objects.get(key="frozen")
    client = browser(desk.admin)
    r = client.post(f"/console/statuses/{frozen.pk}/move/", {"direction": "up"})
    assert r.status_code == 302
    assert r["Location"] == f"/console/statuses/?moved={frozen.pk}&dir=up"
    assert keys("on_hold") == ["on_hold", "frozen", "parked"]
    html = client.get(r["Location"]).content.decode()
    assert 'value="up" autofocus' in html
    status_move(actor=desk.admin, status_id=frozen.pk, direction="up", now=now)
    status_move(actor=desk.admin, status_id=frozen.pk, direction="up", now=now)  # first already: nothing
    assert keys("on_hold") == ["frozen", "on_hold", "parked"]
    # the other categories keep their order
    assert [s.key for s in Status.objects.order_by("position", "id") if s.category != "on_hold"] == [
        "new", "open", "pending", "solved", "closed"
    ]  # fmt: skip
    assert client.post(f"/console/statuses/{frozen.pk}/move/", {"direction": "left"}).status_code == 400
    assert client.post("/console/statuses/999999/move/", {"direction": "up"}).status_code == 404


def test_the_statuses_list_costs_a_fixed_number_of_statements(
    desk: Any, now: Any, browser: Any, open_ticket: Any
) -> None:
    client = browser(desk.admin)
    few = count(lambda: client.get("/console/statuses/"))
    for i in range(6):
        status_create(actor=desk.admin, key=f"s{i}", name=f"S{i}", category="open", now=now)
        open_ticket(f"T{i}")
    many = count(lambda: client.get("/console/statuses/"))
    assert few == many == STATUSES


def test_each_snapshot_kinds_editor_links_to_its_history(desk: Any, now: Any, browser: Any) -> None:
    from sportello.notifications.canned import canned_create

    canned = canned_create(
        actor=desk.admin, title="Thanks", body="Thank you", department_id=desk.books.pk, now=now
    )
    from sportello.tickets.fields_services import custom_field_create

    field = custom_field_create(actor=desk.admin, key="order_no", label="Order", type="text")
    pending = Status.objects.get(key="pending")
    client = browser(desk.admin)
    pages = {
        f"/console/fields/{field.pk}/": "/console/history/fields/order_no/",
        f"/console/departments/{desk.books.pk}/": "/console/history/departments/books/",
        f"/console/departments/{desk.books.pk}/layout/": "/console/history/layouts/books/",
        f"/console/statuses/{pending.pk}/": "/console/history/statuses/pending/",
        f"/console/people/agents/{desk.agent.pk}/": f"/console/history/agents/{desk.agent.email}/",
        f"/console/people/teams/{desk.team.pk}/": f"/console/history/teams/{desk.team.slug}/",
        f"/console/canned-responses/{canned.pk}/": f"/console/history/canned_responses/{canned.pk}/",
    }
    for page, history in pages.items():
        html = client.get(page).content.decode()
        assert f'<a class="history-link" href="{history}">History</a>' in html, page
        assert client.get(history).status_code == 200, history
