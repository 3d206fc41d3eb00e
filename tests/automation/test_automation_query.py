"""The condition compiler: each operator on each type, as a database filter over tickets.

Given four tickets A-D with known values (below), when a condition is compiled with
`ticket_filter` and applied, then exactly the listed tickets are selected. Runs on whichever
database the suite runs on (SQLite by default, PostgreSQL with DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sportello.engine.conditions import All, AnyOf, Not, Op, Predicate
from sportello.engine.schema import RuleSchemaError

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # as in conftest.py

pytestmark = pytest.mark.django_db


@pytest.fixture
def four(world: Any, make_ticket: Any) -> dict[str, Any]:
    from sportello.automation.facts import field_specs

    a = make_ticket(
        subject="Refund for Café order",
        status="open",
        priority=3,
        channel="email",
        requester=world.alice,
        organization=world.acme,
        tags=["vip", "refund"],
        custom={
            "code": "XT372",
            "qty": 5,
            "amount": "12.5",
            "due": "2026-03-01",
            "seen": "2026-03-01T10:00:00Z",
            "ok": True,
            "pick": "a",
            "colors": ["green", "red"],
        },
        created_at=T0,
        message_count=3,
    )
    b = make_ticket(
        subject="ÉCOLE problème: refunded",
        status="new",
        priority=1,
        channel="chat",
        requester=world.bob,
        tags=["refund"],
        custom={
            "code": "xt372-b",
            "qty": 10,
            "amount": "3",
            "due": "2026-01-15",
            "seen": "2026-03-01T10:00:00.500000Z",
            "ok": False,
            "pick": "b",
            "colors": ["blue"],
        },
        created_at=T0 + timedelta(days=1),
        due_at=T0 + timedelta(days=3),
    )
    c = make_ticket(
        subject="niño",
        status="pending",
        priority=4,
        requester=world.carla,
        organization=world.beta,
        created_at=T0 + timedelta(days=2),
    )
    d = make_ticket(
        subject="100% sure_thing",
        status="solved",
        priority=2,
        requester=world.bob,
        custom={"code": "", "qty": 0, "colors": []},
        created_at=T0 + timedelta(days=3),
    )
    return {"tickets": {"A": a, "B": b, "C": c, "D": d}, "specs": field_specs(), "world": world}


def selected(four: dict[str, Any], cond: Any) -> set[str]:
    from sportello.automation.query import ticket_filter
    from sportello.tickets.models import Ticket

    ids = set(Ticket.objects.filter(ticket_filter(cond, specs=four["specs"])).values_list("pk", flat=True))
    return {label for label, t in four["tickets"].items() if t.pk in ids}


P = Predicate
D1 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

CASES: list[tuple[str, Any, set[str]]] = [
    # TEXT: case-insensitive as str.lower(), on accented letters too
    ("text is", P("ticket.subject", Op.IS, "refund for CAFÉ ORDER"), {"A"}),
    ("text is_not", P("ticket.subject", Op.IS_NOT, "refund for CAFÉ ORDER"), {"B", "C", "D"}),
    ("text in", P("ticket.subject", Op.IN, ["NIÑO", "nothing"]), {"C"}),
    ("text not_in", P("ticket.subject", Op.NOT_IN, ["NIÑO", "nothing"]), {"A", "B", "D"}),
    ("text contains", P("ticket.subject", Op.CONTAINS, "REFUND"), {"A", "B"}),
    ("text contains accented", P("ticket.subject", Op.CONTAINS, "é"), {"A", "B"}),
    ("text contains percent", P("ticket.subject", Op.CONTAINS, "100%"), {"D"}),
    ("text contains underscore", P("ticket.subject", Op.CONTAINS, "e_t"), {"D"}),
    ("text not_contains", P("ticket.subject", Op.NOT_CONTAINS, "refund"), {"C", "D"}),
    ("text starts_with", P("ticket.subject", Op.STARTS_WITH, "écol"), {"B"}),
    ("text starts_with no wildcard", P("ticket.subject", Op.STARTS_WITH, "_"), set()),
    ("text contains_word", P("ticket.subject", Op.CONTAINS_WORD, "REFUND"), {"A"}),
    ("text contains_word accented", P("ticket.subject", Op.CONTAINS_WORD, "PROBLÈME"), {"B"}),
    ("text contains_word underscore is a word char", P("ticket.subject", Op.CONTAINS_WORD, "sure"), set()),
    ("text contains_word with underscore", P("ticket.subject", Op.CONTAINS_WORD, "sure_thing"), {"D"}),
    ("text matches is case-sensitive", P("ticket.subject", Op.MATCHES, "^[A-Z]"), {"A"}),
    ("text matches end", P("ticket.subject", Op.MATCHES, "o$"), {"C"}),
    ("text matches word boundary", P("ticket.subject", Op.MATCHES, r"\bfor\b"), {"A"}),
    ("text matches inline flag", P("ticket.subject", Op.MATCHES, "(?i)^écOLE"), {"B"}),
    ("text matches class", P("ticket.subject", Op.MATCHES, "[0-9]+%"), {"D"}),
    ("custom text matches (false on empty)", P("ticket.custom.code", Op.MATCHES, "x*"), {"A", "B"}),
    ("text present", P("ticket.subject", Op.PRESENT), {"A", "B", "C", "D"}),
    ("text absent", P("ticket.subject", Op.ABSENT), set()),
    ("custom text is", P("ticket.custom.code", Op.IS, "xt372"), {"A"}),
    ("custom text is_not", P("ticket.custom.code", Op.IS_NOT, "xt372"), {"B", "C", "D"}),
    ("custom text starts_with", P("ticket.custom.code", Op.STARTS_WITH, "XT372"), {"A", "B"}),
    ("custom text present", P("ticket.custom.code", Op.PRESENT), {"A", "B"}),
    ("custom text absent (missing or empty)", P("ticket.custom.code", Op.ABSENT), {"C", "D"}),
    ("domain is", P("requester.domain", Op.IS, "acme.test"), {"A"}),
    ("domain contains", P("requester.domain", Op.CONTAINS, "EXAMPLE"), {"B", "C", "D"}),
    ("domain matches lower-cased", P("requester.domain", Op.MATCHES, "^example\\.test$"), {"B", "D"}),
    ("email contains", P("requester.email", Op.CONTAINS, "ACME"), {"A"}),
    ("requester name absent", P("requester.name", Op.ABSENT), {"C"}),
    ("requester name contains umlaut", P("requester.name", Op.CONTAINS, "ärg"), {"A"}),
    # BOOLEAN
    ("vip is true", P("requester.vip", Op.IS, True), {"A"}),
    ("vip is false", P("requester.vip", Op.IS, False), {"B", "C", "D"}),
    ("org vip is false", P("organization.vip", Op.IS, False), {"C"}),
    ("org vip is_not true (true on absent)", P("organization.vip", Op.IS_NOT, True), {"B", "C", "D"}),
    ("custom bool is true", P("ticket.custom.ok", Op.IS, True), {"A"}),
    ("custom bool is false", P("ticket.custom.ok", Op.IS, False), {"B"}),
    ("custom bool is_not true", P("ticket.custom.ok", Op.IS_NOT, True), {"B", "C", "D"}),
    ("custom bool absent", P("ticket.custom.ok", Op.ABSENT), {"C", "D"}),
    # CHOICE: exact
    ("org name is (text)", P("organization.name", Op.IS, "acme"), {"A"}),
    ("org name absent", P("organization.name", Op.ABSENT), {"B", "D"}),
    ("org tier is", P("organization.tier", Op.IS, "gold"), {"A"}),
    ("org tier is_not (true on absent)", P("organization.tier", Op.IS_NOT, "gold"), {"B", "C", "D"}),
    ("language in", P("requester.language", Op.IN, ["es", "it"]), {"B", "C", "D"}),
    ("status is", P("ticket.status", Op.IS, "open"), {"A"}),
    ("status category in", P("ticket.status_category", Op.IN, ["new", "pending"]), {"B", "C"}),
    ("channel is", P("ticket.channel", Op.IS, "chat"), {"B"}),
    ("custom picklist is", P("ticket.custom.pick", Op.IS, "a"), {"A"}),
    ("custom picklist in", P("ticket.custom.pick", Op.IN, ["a", "b"]), {"A", "B"}),
    ("custom picklist not_in", P("ticket.custom.pick", Op.NOT_IN, ["a"]), {"B", "C", "D"}),
    # ORDINAL
    ("priority gte", P("ticket.priority", Op.GTE, "high"), {"A", "C"}),
    ("priority gt", P("ticket.priority", Op.GT, "high"), {"C"}),
    ("priority lt", P("ticket.priority", Op.LT, "normal"), {"B"}),
    ("priority lte", P("ticket.priority", Op.LTE, "normal"), {"B", "D"}),
    ("priority is", P("ticket.priority", Op.IS, "normal"), {"D"}),
    ("priority in", P("ticket.priority", Op.IN, ["low", "urgent"]), {"B", "C"}),
    # NUMBER
    ("count gte", P("ticket.message_count", Op.GTE, 1), {"A"}),
    ("number is", P("ticket.number", Op.IS, 2), {"B"}),
    ("custom int gt", P("ticket.custom.qty", Op.GT, 5), {"B"}),
    ("custom int gte", P("ticket.custom.qty", Op.GTE, 5), {"A", "B"}),
    ("custom int lt (absent is not less)", P("ticket.custom.qty", Op.LT, 5), {"D"}),
    ("custom int is zero", P("ticket.custom.qty", Op.IS, 0), {"D"}),
    ("custom int in", P("ticket.custom.qty", Op.IN, [5, 10]), {"A", "B"}),
    ("custom int is_not", P("ticket.custom.qty", Op.IS_NOT, 5), {"B", "C", "D"}),
    ("custom int present (zero is present)", P("ticket.custom.qty", Op.PRESENT), {"A", "B", "D"}),
    ("custom decimal gt", P("ticket.custom.amount", Op.GT, Decimal("3")), {"A"}),
    ("custom decimal is", P("ticket.custom.amount", Op.IS, Decimal("3.00")), {"B"}),
    ("custom decimal lte", P("ticket.custom.amount", Op.LTE, Decimal("12.5")), {"A", "B"}),
    ("custom decimal lt fraction", P("ticket.custom.amount", Op.LT, Decimal("12.49")), {"B"}),
    # DATE / DATETIME
    ("custom date lt", P("ticket.custom.due", Op.LT, date(2026, 2, 1)), {"B"}),
    ("custom date is", P("ticket.custom.due", Op.IS, date(2026, 3, 1)), {"A"}),
    ("custom date gte", P("ticket.custom.due", Op.GTE, date(2026, 1, 15)), {"A", "B"}),
    ("custom datetime is", P("ticket.custom.seen", Op.IS, D1), {"A"}),
    ("custom datetime gt", P("ticket.custom.seen", Op.GT, D1), {"B"}),
    (
        "custom datetime lt sub-second",
        P("ticket.custom.seen", Op.LT, D1 + timedelta(microseconds=500_000)),
        {"A"},
    ),
    ("created_at gt", P("ticket.created_at", Op.GT, T0 + timedelta(days=1)), {"C", "D"}),
    ("created_at lte", P("ticket.created_at", Op.LTE, T0 + timedelta(days=1)), {"A", "B"}),
    ("due_at present", P("ticket.due_at", Op.PRESENT), {"B"}),
    ("due_at lt (absent is not less)", P("ticket.due_at", Op.LT, T0 + timedelta(days=30)), {"B"}),
    # REF
    ("assignee absent", P("ticket.assignee", Op.ABSENT), {"A", "B", "C", "D"}),
    # SET: tags
    ("tags contains", P("ticket.tags", Op.CONTAINS, "refund"), {"A", "B"}),
    ("tags not_contains", P("ticket.tags", Op.NOT_CONTAINS, "refund"), {"C", "D"}),
    ("tags in (any)", P("ticket.tags", Op.IN, ["vip", "other"]), {"A"}),
    ("tags not_in (none)", P("ticket.tags", Op.NOT_IN, ["vip"]), {"B", "C", "D"}),
    ("tags is (exact set)", P("ticket.tags", Op.IS, ["refund"]), {"B"}),
    ("tags is two", P("ticket.tags", Op.IS, ["vip", "refund"]), {"A"}),
    ("tags present", P("ticket.tags", Op.PRESENT), {"A", "B"}),
    ("tags absent", P("ticket.tags", Op.ABSENT), {"C", "D"}),
    # SET: multi-select
    ("multi contains", P("ticket.custom.colors", Op.CONTAINS, "red"), {"A"}),
    ("multi not_contains", P("ticket.custom.colors", Op.NOT_CONTAINS, "red"), {"B", "C", "D"}),
    ("multi in (any)", P("ticket.custom.colors", Op.IN, ["blue", "green"]), {"A", "B"}),
    ("multi not_in (none)", P("ticket.custom.colors", Op.NOT_IN, ["red"]), {"B", "C", "D"}),
    ("multi is (exact set)", P("ticket.custom.colors", Op.IS, ["red", "green"]), {"A"}),
    ("multi is subset only", P("ticket.custom.colors", Op.IS, ["red"]), set()),
    ("multi present", P("ticket.custom.colors", Op.PRESENT), {"A", "B"}),
    ("multi absent (missing or empty)", P("ticket.custom.colors", Op.ABSENT), {"C", "D"}),
    # Trees
    (
        "all",
        All((P("ticket.subject", Op.CONTAINS, "refund"), Not(P("ticket.priority", Op.IS, "low")))),
        {"A"},
    ),
    ("any", AnyOf((P("ticket.channel", Op.IS, "chat"), P("ticket.priority", Op.IS, "urgent"))), {"B", "C"}),
    ("not over absent", Not(P("organization.tier", Op.IS, "gold")), {"B", "C", "D"}),
    ("empty all holds", All(()), {"A", "B", "C", "D"}),
    ("empty any fails", AnyOf(()), set()),
    ("not of empty any holds", Not(AnyOf(())), {"A", "B", "C", "D"}),
]


@pytest.mark.parametrize(("name", "cond", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filter_selects_exactly(four: dict[str, Any], name: str, cond: Any, expected: set[str]) -> None:
    assert selected(four, cond) == expected


def test_overdue_selects_the_tickets_due_at_or_before_the_given_instant(four: dict[str, Any]) -> None:
    from sportello.automation.query import ticket_filter
    from sportello.tickets.models import Ticket

    # Given B due at T0 + 3d and A, C, D with no due date
    due = T0 + timedelta(days=3)

    def at(now: datetime, cond: Any) -> set[str]:
        ids = set(
            Ticket.objects.filter(ticket_filter(cond, specs=four["specs"], now=now)).values_list(
                "pk", flat=True
            )
        )
        return {label for label, t in four["tickets"].items() if t.pk in ids}

    overdue = P("ticket.overdue", Op.IS, True)
    # Then B is overdue from its due instant on, never before; the others never are
    assert at(due - timedelta(microseconds=1), overdue) == set()
    assert at(due, overdue) == {"B"}
    assert at(due + timedelta(days=1), overdue) == {"B"}
    assert at(due, P("ticket.overdue", Op.IS, False)) == {"A", "C", "D"}
    assert at(due, P("ticket.overdue", Op.IS_NOT, True)) == {"A", "C", "D"}
    assert at(due, Not(overdue)) == {"A", "C", "D"}
    assert at(due, P("ticket.overdue", Op.PRESENT)) == {"A", "B", "C", "D"}
    assert at(due, P("ticket.overdue", Op.ABSENT)) == set()
    # and a filter on it needs the instant
    with pytest.raises(ValueError, match="needs the instant"):
        ticket_filter(overdue, specs=four["specs"])


def test_event_only_fact_is_refused_with_its_path(four: dict[str, Any]) -> None:
    from sportello.automation.query import ticket_filter

    cond = All((P("ticket.subject", Op.PRESENT), AnyOf((P("event.type", Op.IS, "ticket.created"),))))
    with pytest.raises(RuleSchemaError) as err:
        ticket_filter(cond, specs=four["specs"])
    assert err.value.path == "when.all[1].any[0].field"


def test_change_operator_is_refused_with_its_path(four: dict[str, Any]) -> None:
    from sportello.automation.query import ticket_filter

    with pytest.raises(RuleSchemaError) as err:
        ticket_filter(
            Not(P("ticket.status", Op.CHANGED_TO, "open")), specs=four["specs"], path="steps[0].when"
        )
    assert err.value.path == "steps[0].when.not.op"


def test_unknown_field_or_inapplicable_operator_selects_nothing_as_in_python(four: dict[str, Any]) -> None:
    # A rule naming a custom field retired since, or an operator the type does not take, is
    # false in `evaluate` (even negated); the filter agrees.
    assert selected(four, P("ticket.custom.retired", Op.IS_NOT, "x")) == set()
    assert selected(four, P("ticket.status", Op.GT, "new")) == set()
    assert selected(four, Not(P("ticket.custom.retired", Op.PRESENT))) == {"A", "B", "C", "D"}


def test_matches_searches_the_first_10000_characters_like_the_engine(make_ticket: Any) -> None:
    from sportello.automation.facts import field_specs
    from sportello.automation.query import ticket_filter
    from sportello.tickets.models import Ticket

    # Given a long text whose only "zz" lies after the first 10,000 characters
    t = make_ticket(custom={"notes": "a" * 10_000 + "zz"})
    specs = field_specs()

    def hits(cond: Any) -> bool:
        return Ticket.objects.filter(ticket_filter(cond, specs=specs), pk=t.pk).exists()

    # Then `matches` does not see it, while `contains` does
    assert hits(P("ticket.custom.notes", Op.MATCHES, "zz")) is False
    assert hits(P("ticket.custom.notes", Op.MATCHES, "a$")) is True
    assert hits(P("ticket.custom.notes", Op.CONTAINS, "zz")) is True


@pytest.mark.parametrize(
    ("python", "postgresql"),
    [
        (r"\bcat\b", r"\ycat\y"),
        (r"\Bat", r"\Yat"),
        (r"[\b]x", r"[\b]x"),
        (r"[]\b]\b", r"[]\b]\y"),
        (r"[^]\b]\b", r"[^]\b]\y"),
        (r"a\\b", r"a\\b"),
        (r"[\[]\b", r"[\[]\y"),
        (r"\d+\.\w", r"\d+\.\w"),
    ],
)
def test_pg_pattern_turns_word_boundaries_into_postgresql_escapes(python: str, postgresql: str) -> None:
    from sportello.automation.query import pg_pattern

    assert pg_pattern(python) == postgresql
