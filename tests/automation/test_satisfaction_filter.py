"""The satisfaction facts in database filters: for any tickets with any survey (none, waiting to
be sent, offered, answered on either scale, odd stored combinations included) and any condition
over `ticket.satisfaction` and `ticket.satisfaction_score` (mixed with stored ticket facts), the
tickets where the Python predicate holds (`evaluate(cond, ticket_facts(t))`) are exactly those
the compiled filter selects (`ticket_filter`). Runs on SQLite and, with DATABASE_URL, on
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.automation.facts import field_specs, ticket_facts
from sportello.automation.query import ticket_filter
from sportello.engine.conditions import evaluate, parse_condition
from sportello.surveys.models import Satisfaction, Survey, SurveyState
from sportello.tickets.models import Ticket

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LABELS = [s.value for s in Satisfaction]
STATES = [s.value for s in SurveyState]

# A ticket's survey: None (no survey) or (state, scale, satisfaction, rating). Answered surveys
# mostly as the services store them; any stored combination sometimes (a rating-less answer, a
# label outside the scale's), which both sides must read alike.
CONSISTENT = st.one_of(
    st.tuples(st.just("pending"), st.sampled_from(["good_bad", "five"]), st.just("offered"), st.none()),
    st.tuples(st.just("offered"), st.sampled_from(["good_bad", "five"]), st.just("offered"), st.none()),
    st.tuples(
        st.just("answered"), st.just("good_bad"), st.sampled_from(["bad", "good"]), st.integers(1, 2)
    ).map(lambda t: (t[0], t[1], "bad" if t[3] == 1 else "good", t[3])),
    st.tuples(st.just("answered"), st.just("five"), st.just(""), st.integers(1, 5)).map(
        lambda t: (t[0], t[1], "bad" if t[3] <= 2 else "neutral" if t[3] == 3 else "good", t[3])
    ),
)
ODD = st.tuples(
    st.sampled_from(STATES),
    st.sampled_from(["good_bad", "five"]),
    st.sampled_from([*LABELS, ""]),
    st.none() | st.integers(1, 5),
)
SURVEYS = st.none() | CONSISTENT | ODD

LEAF_FIELDS = {
    "ticket.satisfaction": ("is", "is_not", "in", "not_in", "present", "absent"),
    "ticket.satisfaction_score": (
        "is", "is_not", "in", "not_in", "lt", "lte", "gt", "gte", "present", "absent",
    ),
    "ticket.status_category": ("is", "in"),
    "ticket.solved_at": ("lt", "present", "absent"),
}  # fmt: skip


@st.composite
def predicates(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(LEAF_FIELDS)))
    op = draw(st.sampled_from(LEAF_FIELDS[field]))
    out: dict[str, Any] = {"field": field, "op": op}
    if op in ("present", "absent"):
        return out
    if field == "ticket.satisfaction":
        one: st.SearchStrategy[Any] = st.sampled_from(LABELS)
    elif field == "ticket.satisfaction_score":
        # Integers in and around the scales, and decimals (2.0 equals 2; 2.5 equals none).
        one = st.integers(0, 6) | st.sampled_from(["2.0", "2.5", "4.00", "-1"])
    elif field == "ticket.status_category":
        one = st.sampled_from(["open", "solved", "closed"])
    else:
        one = st.integers(0, 48).map(lambda h: (T0 + timedelta(hours=h)).isoformat().replace("+00:00", "Z"))
    if op in ("in", "not_in"):
        out["value"] = draw(st.lists(one, min_size=1, max_size=3))
    else:
        out["value"] = draw(one)
    return out


CONDITIONS = st.recursive(
    predicates(),
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(children, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        children.map(lambda x: {"not": x}),
    ),
    max_leaves=4,
)


def _make(world: Any, survey: tuple[str, str, str, int | None] | None, solved_hours: int | None) -> Ticket:
    world.counter += 1
    status = world.statuses["solved" if solved_hours is not None else "open"]
    ticket = Ticket.objects.create(
        number=world.counter,
        subject="Rated",
        status=status,
        status_category=status.category,
        department=world.dept,
        requester=world.alice,
        created_at=T0,
        updated_at=T0,
        solved_at=None if solved_hours is None else T0 + timedelta(hours=solved_hours),
    )
    if survey is not None:
        state, scale, label, rating = survey
        Survey.objects.create(
            ticket=ticket,
            state=state,
            scale=scale,
            solved_at=T0,
            department=world.dept,
            satisfaction=label,
            rating=rating,
            answered_at=T0 + timedelta(hours=30) if state == "answered" else None,
        )
    return ticket


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_python_and_sql_select_the_same_tickets_on_satisfaction(world: Any, data: st.DataObject) -> None:
    specs = field_specs()
    with transaction.atomic():
        # Given a few tickets, each with a random survey (or none)
        tickets = st.lists(st.tuples(SURVEYS, st.none() | st.integers(0, 48)), min_size=1, max_size=6)
        drawn = data.draw(tickets, label="tickets")
        ids = [_make(world, survey, solved).pk for survey, solved in drawn]
        stored = Ticket.objects.filter(pk__in=ids).select_related("status", "requester", "organization")
        facts = {t.pk: ticket_facts(t, specs=specs, now=T0) for t in stored}
        for _ in range(6):
            # When a random condition is evaluated in Python and compiled to a filter
            cond = parse_condition(data.draw(CONDITIONS, label="condition"), specs=specs)
            in_python = {pk for pk, f in facts.items() if evaluate(cond, f, specs=specs)}
            in_database = set(
                Ticket.objects.filter(pk__in=ids)
                .filter(ticket_filter(cond, specs=specs, now=T0))
                .values_list("pk", flat=True)
            )
            # Then both select the same tickets
            assert in_database == in_python, (cond, {pk: facts[pk] for pk in in_database ^ in_python})
        transaction.set_rollback(True)


@pytest.mark.parametrize(
    ("survey", "label", "score"),
    [
        (None, "unoffered", None),
        (("pending", "five", "offered", None), "unoffered", None),
        (("offered", "five", "offered", None), "offered", None),
        (("answered", "five", "neutral", 3), "neutral", 3),
        (("answered", "good_bad", "bad", 1), "bad", 1),
    ],
)
def test_each_survey_state_reads_the_same_in_both(
    world: Any, survey: tuple[str, str, str, int | None] | None, label: str, score: int | None
) -> None:
    # Given a ticket in each survey state
    ticket = _make(world, survey, 1)
    specs = field_specs()
    # Then the Python facts are the documented ones
    facts = ticket_facts(Ticket.objects.get(pk=ticket.pk), specs=specs, now=T0)
    assert (facts["ticket.satisfaction"], facts["ticket.satisfaction_score"]) == (label, score)
    # and the filter on exactly those values selects it
    cond = parse_condition(
        {"all": [
            {"field": "ticket.satisfaction", "op": "is", "value": label},
            {"field": "ticket.satisfaction_score", "op": "is", "value": score}
            if score is not None else {"field": "ticket.satisfaction_score", "op": "absent"},
        ]},
        specs=specs,
    )  # fmt: skip
    selected = Ticket.objects.filter(ticket_filter(cond, specs=specs, now=T0))
    assert list(selected.values_list("pk", flat=True)) == [ticket.pk]


def test_a_decimal_score_compares_as_a_number(world: Any) -> None:
    # Given a ticket rated 2 on the five-point scale
    ticket = _make(world, ("answered", "five", "bad", 2), 1)
    specs = field_specs()

    def selects(op: str, value: Any) -> bool:
        cond = parse_condition({"field": "ticket.satisfaction_score", "op": op, "value": value}, specs=specs)
        return Ticket.objects.filter(ticket_filter(cond, specs=specs, now=T0), pk=ticket.pk).exists()

    # Then 2.0 is 2, 2.5 is not, and 2 < 2.5
    assert selects("is", "2.0")
    assert not selects("is", "2.5")
    assert selects("lt", "2.5")
    assert Decimal("2.0") == 2  # the Python side's reading
