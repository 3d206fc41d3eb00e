"""Saved views: the shipped ones, personal and shared views, their conditions compiled to the same
tickets as the condition evaluated in Python, their counts, and who may change them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.queues import selectors, services
from sportello.queues.models import SavedView
from sportello.tickets.models import Ticket

HX = {"HX-Request": "true"}


def _subjects(response: Any) -> list[str]:
    return [t.subject for t in response.context["tickets"]]


def _view(client: Any, key: str) -> SavedView:
    client.get("/")  # the shipped views exist from the first visit
    return SavedView.objects.get(key=key)


def _update(desk: Any, ticket: Any, **data: Any) -> Any:
    from sportello.core.actors import Via
    from sportello.tickets.services import ticket_update

    ticket.refresh_from_db()
    return ticket_update(
        principal=desk.admin,
        ticket_id=ticket.pk,
        via=Via.WEB,
        data={**data, "version": ticket.version},
        now=ticket.updated_at + timedelta(minutes=1),
    ).ticket


def test_the_shipped_views_are_created_once_in_their_order(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).get("/")
    browser(desk.admin).get("/")
    names = [v.name for v in r.context["views"]]
    assert names == [
        "My open tickets",
        "Unassigned in my departments",
        "All unresolved",
        "At risk and breached",
        "VIP",
        "Pending",
        "Recently solved",
        "Updated by the customer",
    ]
    assert SavedView.objects.count() == 8
    assert r.context["view"].key == "all-unresolved"


def test_shipped_views_select_what_their_names_say(desk: Any, open_ticket: Any, browser: Any) -> None:
    mine = open_ticket("Mine", assignee_id=desk.agent.pk)
    open_ticket("Nobody's")
    vip = open_ticket("Bob's", requester=desk.bob)
    pending = open_ticket("Waiting")
    _update(desk, pending, status="pending")
    solved = open_ticket("Done")
    _update(desk, solved, status="solved")
    open_ticket("TV", department=desk.electronics)
    client = browser(desk.agent)

    def shown(key: str) -> list[str]:
        return sorted(_subjects(client.get("/", {"view": _view(client, key).pk})))

    assert shown("my-open") == ["Mine"]
    assert shown("unassigned") == ["Bob's", "Nobody's", "Waiting"]
    assert shown("all-unresolved") == ["Bob's", "Mine", "Nobody's", "Waiting"]
    assert shown("vip") == ["Mine", "Nobody's", "Waiting"]  # Alice's organization is VIP
    assert shown("pending") == ["Waiting"]
    assert shown("recently-solved") == ["Done"]
    assert shown("sla-at-risk") == []
    assert vip.requester_id == desk.bob.pk
    assert mine.assignee_id == desk.agent.pk


def test_updated_by_the_customer_lists_tickets_the_customer_wrote_to_again(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    """The customer came back: wrote after our last reply, or wrote again before any reply. A
    new ticket nobody answered yet is not "updated" (it is in Unassigned and My open tickets)."""
    from sportello.core.actors import Via
    from sportello.tickets.services import message_add

    def write(ticket: Any, by: Any, minutes: int, *, public: bool = True) -> None:
        ticket.refresh_from_db()
        message_add(
            principal=by,
            ticket_id=ticket.pk,
            via=Via.WEB if by == desk.agent else Via.EMAIL,
            body=f"Message at {minutes}",
            body_html="",
            public=public,
            attachment_ids=[],
            version=ticket.version,
            now=ticket.created_at + timedelta(minutes=minutes),
        )

    answered = open_ticket("Answered")
    write(answered, desk.agent, 5)
    came_back = open_ticket("Came back")
    write(came_back, desk.agent, 5)
    write(came_back, desk.alice, 9)
    noted = open_ticket("Only a note since")
    write(noted, desk.alice, 3)
    write(noted, desk.agent, 5, public=False)
    open_ticket("Nobody answered yet")
    client = browser(desk.agent)
    r = client.get("/", {"view": _view(client, "customer-updated").pk})
    assert sorted(_subjects(r)) == ["Came back", "Only a note since"]


def test_recently_solved_lists_the_tickets_solved_in_the_last_week(
    desk: Any, open_ticket: Any, browser: Any, monkeypatch: Any
) -> None:
    from sportello.core import clock

    last_week = open_ticket("Solved 6 days ago", minutes_ago=7 * 24 * 60)
    _update(desk, last_week, status="solved")
    long_ago = open_ticket("Solved 8 days ago", minutes_ago=9 * 24 * 60)
    _update(desk, long_ago, status="closed")
    open_ticket("Open")
    solved_at = Ticket.objects.get(pk=last_week.pk).solved_at
    assert solved_at is not None
    client = browser(desk.agent)
    view = _view(client, "recently-solved")
    # a week after the first was solved, less a minute: still in the view
    monkeypatch.setattr(clock, "now", lambda: solved_at + timedelta(days=7, minutes=-1))
    r = client.get("/", {"view": view.pk})
    assert _subjects(r) == ["Solved 6 days ago"]
    assert r.context["counts"][view.pk] == 1
    # a minute after the week: out of it
    monkeypatch.setattr(clock, "now", lambda: solved_at + timedelta(days=7, minutes=1))
    r = client.get("/", {"view": view.pk})
    assert _subjects(r) == []
    assert r.context["counts"][view.pk] == 0


def test_a_stored_days_ago_placeholder_counts_back_from_the_page_and_bad_ones_are_refused(
    desk: Any, frozen_clock: Any
) -> None:
    from sportello.queues import conditions

    ctx = selectors.view_context(user=desk.admin, now=frozen_clock)
    cond = conditions.view_condition(
        {"field": "ticket.updated_at", "op": "gte", "value": "$days_ago:2"},
        specs=ctx.specs,
        me=desk.admin.pk,
        departments=[],
        now=frozen_clock,
    )
    assert cond.value == frozen_clock - timedelta(days=2)  # type: ignore[union-attr]
    for bad in ("$days_ago:0", "$days_ago:x", "$days_ago:99999", "$days_ago:-1"):
        with pytest.raises(ValidationFailed) as caught:
            conditions.validate({"field": "ticket.updated_at", "op": "gte", "value": bad}, specs=ctx.specs)
        assert caught.value.field == "condition.value"


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "ticket.priority", "op": "gte", "value": "high"},
        {
            "any": [
                {"field": "ticket.tags", "op": "contains", "value": "gift"},
                {"field": "requester.vip", "op": "is", "value": True},
            ]
        },
        {"not": {"field": "ticket.subject", "op": "contains", "value": "tv"}},
        {
            "all": [
                {"field": "organization.vip", "op": "is", "value": True},
                {"field": "ticket.assignee", "op": "absent"},
            ]
        },
    ],
)
def test_a_view_selects_the_tickets_its_condition_holds_for_in_python(
    desk: Any, open_ticket: Any, browser: Any, condition: Any, frozen_clock: Any
) -> None:
    from sportello.automation.facts import ticket_facts
    from sportello.engine.conditions import evaluate

    open_ticket("Urgent TV", priority="urgent", requester=desk.bob)
    open_ticket("Gift", tags=["gift"], requester=desk.bob)
    open_ticket("High book", priority="high", assignee_id=desk.agent.pk)
    open_ticket("Low", priority="low")
    view = services.saved_view_create(
        actor=desk.admin,
        data=services.ViewInput(name="Probe", condition=condition, shared=True),
        specs=selectors.view_context(user=desk.admin, now=frozen_clock).specs,
        now=frozen_clock,
    )
    ctx = selectors.view_context(user=desk.admin, now=frozen_clock)
    cond = __import__("sportello.queues.conditions", fromlist=["x"]).view_condition(
        view.condition, specs=ctx.specs, me=desk.admin.pk, departments=ctx.departments
    )
    expected = sorted(
        t.subject
        for t in Ticket.objects.all()
        if evaluate(cond, ticket_facts(t, specs=ctx.specs, now=frozen_clock), specs=ctx.specs)
    )
    r = browser(desk.admin).get("/", {"view": view.pk})
    assert sorted(_subjects(r)) == expected
    assert r.context["counts"][view.pk] == len(expected)


def test_counts_are_one_statement_and_match_the_lists(
    desk: Any, open_ticket: Any, browser: Any, django_assert_num_queries: Any, frozen_clock: Any
) -> None:
    open_ticket("Mine", assignee_id=desk.agent.pk)
    open_ticket("Nobody's")
    open_ticket("TV", department=desk.electronics)
    client = browser(desk.agent)
    client.get("/")
    views = selectors.view_list_for(user=desk.agent)
    ctx = selectors.view_context(user=desk.agent, now=frozen_clock)
    with django_assert_num_queries(1):
        counts = selectors.view_counts(views=views, ctx=ctx)
    for v in views:
        assert counts[v.pk] == len(_subjects(client.get("/", {"view": v.pk}))), v.name


def test_the_counts_endpoint_answers_304_when_nothing_changed(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    open_ticket("One")
    client = browser(desk.agent)
    first = client.get("/queues/counts/", headers=HX)
    assert first.status_code == 200
    assert first.content.decode().lstrip().startswith('<nav id="qv-side"')
    etag = first["ETag"]
    assert "no-cache" in first["Cache-Control"]
    assert "private" in first["Cache-Control"]
    same = client.get("/queues/counts/", headers={**HX, "If-None-Match": etag})
    assert same.status_code == 304
    open_ticket("Two")
    changed = client.get("/queues/counts/", headers={**HX, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_counts_and_the_page_are_for_signed_in_agents_only(client: Any, desk: Any) -> None:
    assert client.get("/queues/counts/")["Location"].startswith("/login/")
    assert client.post("/queues/bulk/")["Location"].startswith("/login/")
    assert client.post("/queues/views/", {"name": "x"})["Location"].startswith("/login/")


def test_an_agent_saves_the_current_filters_as_a_personal_view(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    open_ticket("Gift", tags=["gift"], priority="high")
    open_ticket("Plain")
    client = browser(desk.agent)
    base = _view(client, "all-unresolved")
    r = client.post(
        "/queues/views/", {"name": " Gifts  ", "view": base.pk, "tag": "gift", "sort": "-updated"}
    )
    view = SavedView.objects.get(name="Gifts")
    assert r.status_code == 302
    assert r["Location"] == f"/?view={view.pk}"
    assert view.owner_id == desk.agent.pk
    assert view.sort == "-updated"
    assert _subjects(client.get("/", {"view": view.pk})) == ["Gift"]
    # it is the agent's own: colleagues do not see it
    assert view.pk not in [v.pk for v in browser(desk.outsider).get("/").context["views"]]
    assert browser(desk.outsider).get("/", {"view": view.pk}).context["view"].key == "all-unresolved"
    # renamed, columns chosen, deleted
    client.post(f"/queues/views/{view.pk}/rename/", {"name": "Presents"})
    client.post(f"/queues/views/{view.pk}/columns/", {"columns": ["subject", "priority", "tags"]})
    view.refresh_from_db()
    assert view.name == "Presents"
    assert view.columns == ["number", "subject", "priority", "tags"]
    page = client.get("/", {"view": view.pk})
    assert [c["key"] for c in page.context["columns"]] == ["number", "subject", "priority", "tags"]
    client.post(f"/queues/views/{view.pk}/delete/")
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_only_admins_share_views_and_change_shared_ones(desk: Any, browser: Any, frozen_clock: Any) -> None:
    specs = selectors.view_context(user=desk.agent, now=frozen_clock).specs
    with pytest.raises(PermissionDenied):
        services.saved_view_create(
            actor=desk.agent, data=services.ViewInput(name="Team", shared=True), specs=specs, now=frozen_clock
        )
    shared = services.saved_view_create(
        actor=desk.admin,
        data=services.ViewInput(name="Electronics only", shared=True, department_id=desk.electronics.pk),
        specs=specs,
        now=frozen_clock,
    )
    with pytest.raises(PermissionDenied):
        services.saved_view_update(
            actor=desk.agent,
            view_id=shared.pk,
            data=services.ViewInput(name="Mine now"),
            specs=specs,
            now=frozen_clock,
        )
    mine = services.saved_view_create(
        actor=desk.agent, data=services.ViewInput(name="Mine"), specs=specs, now=frozen_clock
    )
    with pytest.raises(NotFound):
        services.saved_view_delete(actor=desk.outsider, view_id=mine.pk)
    # a department's shared view shows to that department's agents only
    assert shared.pk in [v.pk for v in browser(desk.outsider).get("/").context["views"]]
    assert shared.pk not in [v.pk for v in browser(desk.agent).get("/").context["views"]]
    # the shipped views stay
    with pytest.raises(PermissionDenied):
        services.saved_view_delete(actor=desk.admin, view_id=SavedView.objects.get(key="vip").pk)


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"field": "ticket.nope", "op": "is", "value": 1}, "condition.field"),
        ({"all": [{"field": "ticket.priority", "op": "is", "value": "extreme"}]}, "condition.all[0].value"),
        ({"field": "message.body", "op": "contains", "value": "x"}, "condition.field"),
        ({"field": "ticket.status", "op": "changed"}, "condition.op"),
    ],
)
def test_invalid_conditions_are_refused_naming_the_part(
    desk: Any, condition: Any, field: str, frozen_clock: Any
) -> None:
    specs = selectors.view_context(user=desk.admin, now=frozen_clock).specs
    with pytest.raises(ValidationFailed) as exc:
        services.saved_view_create(
            actor=desk.admin,
            data=services.ViewInput(name="Bad", condition=condition),
            specs=specs,
            now=frozen_clock,
        )
    assert exc.value.field == field


def test_names_columns_and_sorts_are_validated(desk: Any, frozen_clock: Any) -> None:
    specs = selectors.view_context(user=desk.admin, now=frozen_clock).specs

    def refused(**data: Any) -> str | None:
        with pytest.raises(ValidationFailed) as exc:
            services.saved_view_create(
                actor=desk.admin, data=services.ViewInput(**data), specs=specs, now=frozen_clock
            )
        return exc.value.field

    assert refused(name="   ") == "name"
    assert refused(name="x" * 121) == "name"
    assert refused(name="Cols", columns=["subject", "custom.nope"]) == "columns"
    assert refused(name="Sort", sort="-requester") == "sort"


def test_the_sidebar_lists_shared_views_then_the_agents_own_with_counts(
    desk: Any, open_ticket: Any, browser: Any, frozen_clock: Any
) -> None:
    import re

    client = browser(desk.agent)
    client.get("/")
    open_ticket("One", priority="urgent")
    mine = services.saved_view_create(
        actor=desk.agent,
        data=services.ViewInput(
            name='Urgent & "mine" <b>', condition={"field": "ticket.priority", "op": "is", "value": "urgent"}
        ),
        specs=selectors.view_context(user=desk.agent, now=frozen_clock).specs,
        now=frozen_clock,
    )
    html = client.get("/queues/counts/", {"view": mine.pk}).content.decode()
    nav = re.sub(r">\s+<", "><", re.search(r"<ul.*</ul>", html, flags=re.S).group(0))  # type: ignore[union-attr]
    ids = {v.key: v.pk for v in SavedView.objects.exclude(key=None) if v.key is not None}
    assert nav == SIDEBAR.format(mine=mine.pk, **{k.replace("-", "_"): pk for k, pk in ids.items()})


SIDEBAR = (
    '<ul class="qv-list"><li><a href="/?view={my_open}" title="My open tickets" >'
    '<bdi class="qv-name">My open tickets</bdi>'
    '<span class="qv-count">0<span class="visually-hidden"> tickets</span></span></a></li><li>'
    '<a href="/?view={unassigned}" title="Unassigned in my departments" >'
    '<bdi class="qv-name">Unassigned in my departments</bdi>'
    '<span class="qv-count">1<span class="visually-hidden"> tickets</span></span></a></li><li>'
    '<a href="/?view={all_unresolved}" title="All unresolved" >'
    '<bdi class="qv-name">All unresolved</bdi>'
    '<span class="qv-count">1<span class="visually-hidden"> tickets</span></span></a></li><li>'
    '<a href="/?view={sla_at_risk}" title="At risk and breached" >'
    '<bdi class="qv-name">At risk and breached</bdi>'
    '<span class="qv-count">0<span class="visually-hidden"> tickets</span></span></a></li><li>'
    '<a href="/?view={vip}" title="VIP" ><bdi class="qv-name">VIP</bdi>'
    '<span class="qv-count">1<span class="visually-hidden"> tickets</span></span></a></li><li>'
    '<a href="/?view={pending}" title="Pending" ><bdi class="qv-name">Pending</bdi>'
    '<span class="qv-count">0<span class="visually-hidden"> tickets</span></span></a></li><li>'
    '<a href="/?view={recently_solved}" title="Recently solved" >'
    '<bdi class="qv-name">Recently solved</bdi>'
    '<span class="qv-count">0<span class="visually-hidden"> tickets</span></span></a></li><li>'
    '<a href="/?view={customer_updated}" title="Updated by the customer" >'
    '<bdi class="qv-name">Updated by the customer</bdi>'
    '<span class="qv-count">0<span class="visually-hidden"> tickets</span></span></a></li></ul>'
    '<h2 class="qv-side-title">My views</h2><ul class="qv-list"><li>'
    '<a href="/?view={mine}" title="Urgent &amp; &quot;mine&quot; &lt;b&gt;" aria-current="page">'
    '<bdi class="qv-name">Urgent &amp; &quot;mine&quot; &lt;b&gt;</bdi>'
    '<span class="qv-count">1<span class="visually-hidden"> tickets</span></span></a></li></ul>'
)
