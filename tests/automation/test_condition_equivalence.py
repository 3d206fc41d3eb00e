"""The law of the condition language: for any tickets and any condition over stored facts, the
tickets where the Python predicate holds (`evaluate(cond, ticket_facts(t))`) are exactly the
tickets the database filter compiled from the same condition selects (`ticket_filter`).

Random tickets (subjects of ASCII and accented letters, digits and LIKE wildcards, priorities,
statuses, tags, one custom field of every type, requesters with VIP flags and mixed-case
e-mails, organizations with tiers, absent values) and random condition trees (all / any / not
over every operator of every stored field, `ticket.overdue` included, at a random instant) are
drawn per example; the tickets live in a savepoint
rolled back after the example. Runs on SQLite and, with DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.engine import conditions as cond_module
from sportello.engine import fields as cf
from sportello.engine.conditions import PRIORITY_ORDER, FieldSpec, FieldType, Op
from sportello.engine.schema import RuleSchemaError

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
# Letters whose case differs (ASCII and accented), digits, a space and the characters LIKE and
# regular expressions treat specially.
ALPHABET = "aAbBeEéÉnNñÑüÜ019 _%.-"
WORD = st.text(ALPHABET.replace(" ", ""), min_size=1, max_size=5)
TEXT = st.text(ALPHABET, max_size=8)
DOMAINS = ("acme.test", "Acme.TEST", "sub.acme.test", "exámple.es", "ñu.org")
TAGS = ("vip", "refund", "x", "é_ü")
COLORS = ("red", "green", "blue")
STATUSES = ("new", "open", "pending", "on_hold", "solved")
CHANNELS = ("email", "web", "portal", "chat", "phone", "api")
TIERS = ("standard", "silver", "gold", "platinum")
LANGUAGES = ("en", "es", "it")
DEFS = {
    key: cf.FieldDef(key, key, type_, options)
    for key, type_, options in (
        ("code", "text", ()),
        ("notes", "long_text", ()),
        ("qty", "number", ()),
        ("amount", "decimal", ()),
        ("due", "date", ()),
        ("seen", "datetime", ()),
        ("ok", "boolean", ()),
        ("pick", "picklist", ("a", "b", "c")),
        ("colors", "multi_select", COLORS),
    )
}

OPS: dict[FieldType, tuple[Op, ...]] = {
    FieldType.TEXT: (
        Op.IS,
        Op.IS_NOT,
        Op.IN,
        Op.NOT_IN,
        Op.CONTAINS,
        Op.NOT_CONTAINS,
        Op.STARTS_WITH,
        Op.CONTAINS_WORD,
        Op.MATCHES,
        Op.PRESENT,
        Op.ABSENT,
    ),
    FieldType.CHOICE: (Op.IS, Op.IS_NOT, Op.IN, Op.NOT_IN, Op.PRESENT, Op.ABSENT),
    FieldType.REF: (Op.IS, Op.IS_NOT, Op.IN, Op.NOT_IN, Op.PRESENT, Op.ABSENT),
    FieldType.BOOLEAN: (Op.IS, Op.IS_NOT, Op.PRESENT, Op.ABSENT),
    FieldType.SET: (Op.CONTAINS, Op.NOT_CONTAINS, Op.IN, Op.NOT_IN, Op.IS, Op.PRESENT, Op.ABSENT),
}
for _t in (FieldType.NUMBER, FieldType.DATE, FieldType.DATETIME, FieldType.ORDINAL):
    OPS[_t] = (Op.IS, Op.IS_NOT, Op.IN, Op.NOT_IN, Op.LT, Op.LTE, Op.GT, Op.GTE, Op.PRESENT, Op.ABSENT)


# --------------------------------------------------------------------------------------------
# Random tickets


# The instant of the change: exactly a due date (drawn below), or between them.
NOW = st.integers(-1, 4).map(lambda h: T0 + timedelta(hours=h, microseconds=h * 7)) | st.integers(
    -3600, 4 * 3600
).map(lambda s: T0 + timedelta(seconds=s))


def _custom(key: str, raw: Any) -> Any:
    return cf.coerce(DEFS[key], raw)


@st.composite
def ticket_specs(draw: st.DrawFn) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    drawn = {
        "code": st.one_of(st.just(""), TEXT),
        "notes": TEXT,
        "qty": st.integers(-3, 3),
        "amount": st.decimals(min_value=-3, max_value=3, places=2).map(str),
        "due": st.dates(date(2026, 1, 1), date(2026, 1, 4)).map(date.isoformat),
        "seen": st.builds(
            lambda s, us: (T0 + timedelta(seconds=s, microseconds=us)).isoformat(),
            st.integers(0, 2),
            st.sampled_from((0, 500_000)),
        ),
        "ok": st.booleans(),
        "pick": st.sampled_from(("a", "b", "c")),
        "colors": st.lists(st.sampled_from(COLORS), unique=True, max_size=3),
    }
    for key, strategy in drawn.items():
        if draw(st.booleans()):
            custom[key] = _custom(key, draw(strategy))
    return {
        "subject": " ".join(draw(st.lists(WORD, min_size=1, max_size=3))),
        "status": draw(st.sampled_from(STATUSES)),
        "priority": draw(st.integers(1, 4)),
        # '' is no channel (absent in Python): a plain `IN` must not match it either.
        "channel": draw(st.sampled_from((*CHANNELS, ""))),
        # Indexes into the world's departments, teams and agents (None: no team, unassigned).
        "department": draw(st.integers(0, 1)),
        "team": draw(st.none() | st.integers(0, 1)),
        "assignee": draw(st.none() | st.integers(0, 1)),
        "first_response_hours": draw(st.none() | st.integers(0, 3)),
        "solved_hours": draw(st.none() | st.integers(0, 3)),
        "tags": draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=3)),
        "custom": custom,
        "created_hours": draw(st.integers(0, 3)),
        "due_at": draw(
            st.none() | st.integers(0, 3).map(lambda h: T0 + timedelta(hours=h, microseconds=h * 7))
        ),
        "message_count": draw(st.integers(0, 3)),
        "email_local": draw(st.text("aAbBzZ", min_size=1, max_size=3)),
        "domain": draw(st.sampled_from(DOMAINS)),
        "name": draw(st.one_of(st.just(""), TEXT)),
        "vip": draw(st.booleans()),
        "language": draw(st.sampled_from(LANGUAGES)),
        "org": draw(st.none() | st.tuples(WORD, st.sampled_from(TIERS), st.booleans())),
    }


def _create(world: Any, spec: dict[str, Any], i: int) -> Any:
    from sportello.contacts.models import Contact, Organization
    from sportello.tickets.models import Ticket, TicketTag

    org = None
    if spec["org"] is not None:
        name, tier, vip = spec["org"]
        org = Organization.objects.create(name=f"{name} {i}", tier=tier, vip=vip)
    contact = Contact.objects.create(
        email=f"{spec['email_local']}{i}@{spec['domain']}",
        name=spec["name"],
        vip=spec["vip"],
        language=spec["language"],
        organization=org,
    )
    world.counter += 1
    status = world.statuses[spec["status"]]
    created = T0 + timedelta(hours=spec["created_hours"])
    departments, teams, agents = world.refs

    def later(hours: int | None) -> datetime | None:
        return None if hours is None else created + timedelta(hours=hours, microseconds=hours * 3)

    ticket = Ticket.objects.create(
        number=world.counter,
        subject=spec["subject"],
        status=status,
        status_category=status.category,
        priority=spec["priority"],
        channel=spec["channel"],
        department=departments[spec["department"]],
        team=None if spec["team"] is None else teams[spec["team"]],
        assignee=None if spec["assignee"] is None else agents[spec["assignee"]],
        first_response_at=later(spec["first_response_hours"]),
        solved_at=later(spec["solved_hours"]),
        requester=contact,
        organization=org,
        custom_fields=spec["custom"],
        created_at=created,
        updated_at=created,
        due_at=spec["due_at"],
        message_count=spec["message_count"],
    )
    TicketTag.objects.bulk_create([TicketTag(ticket=ticket, name=t) for t in spec["tags"]])
    return ticket


# --------------------------------------------------------------------------------------------
# Random conditions (as rule documents, read by the engine's parser)


def _as_input(spec: FieldSpec, value: Any) -> Any:
    """A typed value as it appears in a rule document (JSON/YAML)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def _coin(draw: st.DrawFn) -> bool:
    return draw(st.booleans())


def _text_values(draw: st.DrawFn, observed: list[str], op: Op) -> str:
    """A needle likely to hit: an observed value (or a slice of it) in random case, or random."""
    if observed and _coin(draw):
        text = draw(st.sampled_from(observed))
        if op in (Op.CONTAINS, Op.NOT_CONTAINS, Op.STARTS_WITH, Op.CONTAINS_WORD):
            words = text.split()
            if op == Op.CONTAINS_WORD and words:
                text = draw(st.sampled_from(words))
            else:
                start = 0 if op == Op.STARTS_WITH else draw(st.integers(0, max(0, len(text) - 1)))
                text = text[start : start + draw(st.integers(1, 4))]
        if text and draw(st.booleans()):
            text = text.swapcase()
        if text:
            return text
    return draw(st.text(ALPHABET, min_size=1, max_size=3))


# Regular expressions both Python's re and PostgreSQL's AREs read alike (one-line text).
ATOMS = st.one_of(
    st.sampled_from([re.escape(c) for c in ALPHABET]),
    st.sampled_from([".", "[aé]", "[^ ]", "[0-9]", "\\d", "(a|É)"]),
)
PATTERNS = st.builds(
    lambda anchor, atoms, end: anchor + "".join(atoms) + end,
    st.sampled_from(["", "^"]),
    st.lists(
        st.tuples(ATOMS, st.sampled_from(["", "", "*", "+", "?"])).map(lambda t: t[0] + t[1]),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from(["", "$"]),
)


def _scalar_value(draw: st.DrawFn, spec: FieldSpec, observed: list[Any], op: Op) -> Any:
    t = spec.type
    if observed and _coin(draw):
        return draw(st.sampled_from(observed))
    if t == FieldType.TEXT:
        return _text_values(draw, [], op)
    if t == FieldType.ORDINAL:
        return draw(st.sampled_from(PRIORITY_ORDER))
    if t == FieldType.CHOICE:
        pool = spec.choices or (*STATUSES, *TIERS, *LANGUAGES)
        return draw(st.sampled_from(tuple(pool)))
    if t == FieldType.NUMBER:
        if spec.path == "ticket.custom.amount":
            return draw(st.decimals(min_value=-3, max_value=3, places=2))
        return draw(st.integers(-3, 4))
    if t == FieldType.DATE:
        return draw(st.dates(date(2025, 12, 31), date(2026, 1, 5)))
    if t == FieldType.DATETIME:
        return T0 + timedelta(
            seconds=draw(st.integers(-1, 3 * 3600 + 1)), microseconds=draw(st.sampled_from((0, 500_000)))
        )
    if t == FieldType.BOOLEAN:
        return draw(st.booleans())
    if t == FieldType.REF:
        return draw(st.integers(1, 5))
    raise AssertionError(t)


@st.composite
def predicates(draw: st.DrawFn, specs: dict[str, FieldSpec], facts: list[dict[str, Any]]) -> dict[str, Any]:
    spec = draw(st.sampled_from([s for s in specs.values() if not s.event_only]))
    op = draw(st.sampled_from(OPS[spec.type]))
    out: dict[str, Any] = {"field": spec.path, "op": str(op)}
    if op in (Op.PRESENT, Op.ABSENT):
        return out
    observed = [f[spec.path] for f in facts if f[spec.path] not in (None, "", frozenset())]
    if spec.type == FieldType.SET:
        pool = COLORS if spec.path == "ticket.custom.colors" else TAGS
        if op in (Op.CONTAINS, Op.NOT_CONTAINS):
            out["value"] = draw(st.sampled_from(pool))
        elif op == Op.IS and observed and _coin(draw):
            out["value"] = sorted(draw(st.sampled_from(observed)))
        else:
            out["value"] = draw(st.lists(st.sampled_from(pool), unique=True, min_size=1, max_size=3))
        return out
    if op == Op.MATCHES:
        out["value"] = draw(PATTERNS)
        return out
    if spec.type == FieldType.TEXT:
        one = lambda: _text_values(draw, observed, op)  # noqa: E731
    else:
        one = lambda: _scalar_value(draw, spec, observed, op)  # noqa: E731
    if op in (Op.IN, Op.NOT_IN):
        out["value"] = [_as_input(spec, one()) for _ in range(draw(st.integers(1, 3)))]
    else:
        out["value"] = _as_input(spec, one())
    return out


def conditions(specs: dict[str, FieldSpec], facts: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        predicates(specs, facts),
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda xs: {"all": xs}),
            st.lists(children, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
            children.map(lambda x: {"not": x}),
        ),
        max_leaves=4,
    )


@pytest.fixture
def refs(world: Any) -> Any:
    """Two departments, a team in each and two agents: the reference columns tickets point at
    (or leave empty: team and assignee are nullable)."""
    from sportello.accounts.models import Department, Role, Team, User

    departments = [world.dept, Department.objects.create(name="Sales", slug="sales")]
    teams = [Team.objects.create(name=f"T{i}", slug=f"t{i}", department=d) for i, d in enumerate(departments)]
    agents = [
        User.objects.create(email=f"agent{i}@desk.test", name=f"Agent {i}", role=Role.AGENT) for i in range(2)
    ]
    world.refs = (departments, teams, agents)
    return world


# --------------------------------------------------------------------------------------------
# The law


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_python_predicate_and_database_filter_select_the_same_tickets(refs: Any, data: st.DataObject) -> None:
    world = refs
    from sportello.automation.facts import field_specs, ticket_facts
    from sportello.automation.query import ticket_filter
    from sportello.tickets.models import Ticket

    specs = field_specs()
    with transaction.atomic():
        # Given a few random tickets
        drawn = data.draw(st.lists(ticket_specs(), min_size=1, max_size=5), label="tickets")
        created = [_create(world, spec, i) for i, spec in enumerate(drawn)]
        ids = [t.pk for t in created]
        # at an instant before, at or after the due dates (`ticket.overdue` is about it)
        now = data.draw(NOW, label="now")
        stored = Ticket.objects.filter(pk__in=ids).select_related("status", "requester", "organization")
        facts = {t.pk: ticket_facts(t, specs=specs, now=now) for t in stored}
        for _ in range(6):
            # When a random condition is evaluated in Python and compiled to a filter
            document = data.draw(conditions(specs, list(facts.values())), label="condition")
            try:
                cond = cond_module.parse_condition(document, specs=specs)
            except RuleSchemaError:
                continue  # e.g. a pattern the parser refuses as prone to backtracking
            in_python = {pk for pk, f in facts.items() if cond_module.evaluate(cond, f, specs=specs)}
            in_database = set(
                Ticket.objects.filter(pk__in=ids)
                .filter(ticket_filter(cond, specs=specs, now=now))
                .values_list("pk", flat=True)
            )
            # Then both select the same tickets
            assert in_database == in_python, (document, {pk: facts[pk] for pk in in_database ^ in_python})
        transaction.set_rollback(True)
