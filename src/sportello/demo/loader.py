"""Load the demo desk through the real services and the change pipeline.

Every ticket is opened with `pipeline.ticket_create` and lives its whole conversation through
`pipeline.ticket_apply`, each step with its own `now` in the past, so the audit trail, the
counters and the first-response and solve times are exactly what a real desk would have.
Everything is drawn from one seeded random generator: the same seed gives the same desk
(relative to the moment it is loaded).
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from sportello.accounts.models import Department, Role, Team, User
from sportello.accounts.services import agent_create, department_create, team_create
from sportello.contacts.models import Contact, Organization
from sportello.contacts.services import contact_create, organization_create
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict
from sportello.outbox.jobs import deliver_outbox
from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.tickets import pipeline
from sportello.tickets.fields_services import (
    FieldOption,
    LayoutRowSpec,
    custom_field_create,
    layout_replace,
)
from sportello.tickets.models import Ticket
from sportello.tickets.pipeline import Mutation, NewMessage
from sportello.tickets.services import actor_for

from . import data
from .automation import demo_automation_create
from .kb import load_knowledge_base
from .service_levels import demo_service_levels_create

DEFAULT_SEED = 2026
HISTORY_DAYS = 60
CLOSE_AFTER = timedelta(days=4)
VIA_BY_CHANNEL = {
    "email": Via.EMAIL,
    "portal": Via.PORTAL,
    "chat": Via.CHAT,
    "phone": Via.PHONE,
    "web": Via.WEB,
}


class DemoExists(Conflict):
    pass


@dataclass
class Desk:
    departments: dict[str, Department] = field(default_factory=dict)
    agents: list[User] = field(default_factory=list)
    assignable: dict[str, list[User]] = field(default_factory=dict)  # department -> agents
    light: dict[str, list[User]] = field(default_factory=dict)  # department -> light agents
    teams: dict[str, list[Team]] = field(default_factory=dict)
    team_members: dict[int, list[User]] = field(default_factory=dict)
    layout: dict[str, set[str]] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    vip_org_ids: set[int] = field(default_factory=set)


@dataclass
class Summary:
    departments: int
    agents: int
    contacts: int
    tickets: int
    steps: int
    statuses: Counter[str]
    automation: dict[str, int] = field(default_factory=dict)  # sample rules, policies, macros
    service_levels: dict[str, int] = field(default_factory=dict)  # calendar, SLA, tiers, blueprint


def demo_exists() -> bool:
    return Department.objects.filter(name__in=[d[0] for d in data.DEPARTMENTS]).exists()


def demo_load(
    *,
    tickets: int,
    now: datetime,
    seed: int = DEFAULT_SEED,
    on_ticket: Callable[[], None] | None = None,
) -> Summary:
    """Build the demo desk and `tickets` conversations ending at `now`. All or nothing."""
    rng = random.Random(seed)
    with transaction.atomic():
        if demo_exists():
            raise DemoExists("the demo data is already loaded")
        desk = _build_desk(rng)
        specs = sorted((_ticket_start(rng, now) for _ in range(tickets)), key=lambda s: s[0])
        steps = 0
        for start, hour_shift in specs:
            steps += _simulate(rng, desk, start + hour_shift, now)
            if on_ticket is not None:
                on_ticket()
        # Their delivery jobs would find nothing to do: drop them rather than have a first start
        # work through thousands of no-op jobs. (The demo loads only into a desk without data,
        # so every queued delivery is the demo's.)
        DBTaskResult.objects.filter(
            task_path=deliver_outbox.module_path, status=TaskResultStatus.READY
        ).delete()
        # The sample automation and service levels act from now on, not on the history just loaded.
        automation = demo_automation_create(now=now)
        service_levels = demo_service_levels_create(now=now)
        _portal_on(now=now)
        statuses = Counter(Ticket.objects.values_list("status__key", flat=True))
    return Summary(
        departments=len(desk.departments),
        agents=len(desk.agents),
        contacts=len(desk.contacts),
        tickets=tickets,
        steps=steps,
        statuses=statuses,
        automation=automation,
        service_levels=service_levels,
    )


def demo_kb_load(*, now: datetime, on_article: Callable[[], None] | None = None) -> int:
    """The demo knowledge base (`demo.kb`), written by the demo's first admin; `on_article` is
    called once per article. Idempotent; returns how many articles it holds."""
    email = next(email for _, email, role, _, _ in data.AGENTS if role == "admin")
    admin = User.objects.get(email=email)
    return len(load_knowledge_base(actor=admin, now=now, progress=on_article))


def _portal_on(*, now: datetime) -> None:
    """The customer portal switched on, named like the demo's shop (notifications link to it)."""
    from sportello.accounts.models import Role, User
    from sportello.portal import services as portal

    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
    if admin is None:
        return
    row = portal.portal_settings_get()
    portal.portal_settings_update(
        actor=admin,
        version=row.version,
        enabled=True,
        name="Sportello Shop",
        colour="#1f5f99",
        default_language="en",
        now=now,
    )


# --------------------------------------------------------------------------------------------
# The people and the set-up


def _build_desk(rng: random.Random) -> Desk:
    desk = Desk()
    for name, email, description in data.DEPARTMENTS:
        desk.departments[name] = department_create(name=name, email=email, description=description)
    for name, email, role, language, dept_names in data.AGENTS:
        user = agent_create(
            email=email,
            name=name,
            role=Role(role),
            language=language,
            departments=[desk.departments[d] for d in dept_names],
        )
        desk.agents.append(user)
        for d in dept_names:
            target = desk.light if role == Role.LIGHT_AGENT else desk.assignable
            target.setdefault(d, []).append(user)
    for dept_name, team_names in data.TEAMS.items():
        members = desk.assignable.get(dept_name, [])
        for i, team_name in enumerate(team_names):
            # Every agent of the department joins one team; the first also joins the second.
            chosen = [u for j, u in enumerate(members) if j % len(team_names) == i or j == 0]
            team = team_create(name=team_name, department=desk.departments[dept_name], members=chosen)
            desk.teams.setdefault(dept_name, []).append(team)
            desk.team_members[team.pk] = chosen
    _custom_fields_create(desk)

    orgs_by_language: dict[str, list[Organization]] = {}
    for name, domains, tier, vip, language in data.ORGANIZATIONS:
        org = organization_create(name=name, domains=domains, tier=tier, vip=vip)
        orgs_by_language.setdefault(language, []).append(org)
        if vip:
            desk.vip_org_ids.add(org.pk)
    seen: set[str] = set()
    while len(desk.contacts) < 150:
        language = rng.choices(data.LANGUAGES, weights=data.LANGUAGE_WEIGHTS)[0]
        first = rng.choice(data.FIRST_NAMES[language])
        last = rng.choice(data.LAST_NAMES[language])
        organization = rng.choice(orgs_by_language[language]) if rng.random() < 0.55 else None
        domain = organization.domains[0] if organization is not None else data.FREE_MAIL[language]
        local = _ascii(f"{first}.{last}")
        email = f"{local}@{domain}"
        if email in seen:
            continue
        seen.add(email)
        contact = contact_create(
            email=email,
            name=f"{first} {last}",
            phone=data.PHONE_PREFIX[language] + f"{rng.randint(0, 9999):04d}",
            language=language,
            time_zone=data.TIME_ZONES[language],
            vip=rng.random() < 0.06,
            organization=organization,
        )
        desk.contacts.append(contact)
    return desk


def _custom_fields_create(desk: Desk) -> None:
    """Custom fields and the departments' layouts."""
    for position, (key, label, type_, options) in enumerate(data.CUSTOM_FIELDS):
        custom_field_create(
            actor=None,
            key=key,
            label=label,
            type=type_,
            options=[FieldOption(value=o, label=o.replace("_", " ").capitalize()) for o in options],
            position=position,
        )
    for dept_name, rows in data.LAYOUTS.items():
        layout_replace(
            actor=None,
            department=desk.departments[dept_name],
            rows=[
                LayoutRowSpec(field=key, required=req, allowed_values=allowed) for key, req, allowed in rows
            ],
        )
        desk.layout[dept_name] = {key for key, _, _ in rows}


def _ascii(text: str) -> str:
    table = str.maketrans("áéíóúÁÉÍÓÚñÑàèìòù ", "aeiouAEIOUnNaeiou-")
    return text.translate(table).lower()


# --------------------------------------------------------------------------------------------
# The conversations


def _ticket_start(rng: random.Random, now: datetime) -> tuple[datetime, timedelta]:
    """When a ticket comes in: any of the last 60 days, mostly in office hours."""
    day = (now - timedelta(days=rng.uniform(0, HISTORY_DAYS))).replace(hour=0, minute=0, second=0)
    hour = rng.choices(
        range(24), weights=[1, 1, 1, 1, 1, 2, 3, 6, 9, 10, 10, 9, 8, 9, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    )[0]
    shift = timedelta(hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
    if day + shift >= now:
        shift = timedelta(0)
        day = now - timedelta(minutes=rng.randint(5, 600))
    return day, shift


def _hours(rng: random.Random, median: float, cap: float) -> timedelta:
    """A log-normal delay: mostly around `median` hours, sometimes much longer, never over `cap`."""
    return timedelta(hours=min(cap, rng.lognormvariate(0, 0.8) * median))


class _Stop(Exception):
    """The conversation has reached the present."""


@dataclass
class _Conversation:
    rng: random.Random
    desk: Desk
    now: datetime
    at: datetime
    ticket_id: int = 0
    steps: int = 0

    def step(self, delay: timedelta, mutation: Mutation) -> None:
        when = self.at + max(delay, timedelta(seconds=30))
        if when >= self.now:
            raise _Stop
        self.at = when
        pipeline.ticket_apply(ticket_id=self.ticket_id, mutation=mutation, now=when)
        self.steps += 1


def _simulate(rng: random.Random, desk: Desk, start: datetime, now: datetime) -> int:
    dept_name = rng.choices([d[0] for d in data.DEPARTMENTS], weights=data.DEPARTMENT_WEIGHTS)[0]
    department = desk.departments[dept_name]
    scenario = rng.choice(data.SCENARIOS[dept_name])
    contact = rng.choice(desk.contacts)
    lang = contact.language
    first = contact.name.split()[0]
    vip = contact.vip or contact.organization_id in desk.vip_org_ids
    order = f"{rng.choice('ABCD')}{rng.randint(1_000_000, 9_999_999)}"
    product = f"{rng.choice(data.PRODUCT_PREFIXES)}-{rng.randint(1000, 9999)}"
    fill = {"first": first, "order": order, "product": product}
    subject, body = scenario[lang]
    channel = rng.choices(list(data.CHANNEL_WEIGHTS), weights=list(data.CHANNEL_WEIGHTS.values()))[0]
    via = VIA_BY_CHANNEL[channel]
    customer = actor_for(contact)
    layout = desk.layout[dept_name]

    # Who works it: a team of the department (most of the time) and one of its members.
    team = rng.choice(desk.teams[dept_name]) if rng.random() < 0.7 else None
    pool = desk.team_members[team.pk] if team is not None else desk.assignable[dept_name]
    agent = rng.choice(pool or desk.assignable[dept_name])
    agent_actor = actor_for(agent)
    fill["agent"] = agent.name.split()[0]

    custom: dict[str, Any] = {}
    if "order_number" in layout:
        custom["order_number"] = order
    if "product_code" in layout and "{product}" in body:
        custom["product_code"] = product
    if dept_name in data.SUBCATEGORIES:
        custom["subcategory"] = rng.choice(data.SUBCATEGORIES[dept_name])
    if "refund_method" in layout and "refund" in scenario["tags"]:
        custom["refund_method"] = rng.choice(["original_payment", "original_payment", "store_credit"])
    priority = scenario["priority"]
    if vip and priority in ("low", "normal"):
        priority = "high"
    tags = [*scenario["tags"], *(["vip"] if vip else []), f"lang_{lang}"]

    # 1. The customer writes in (by phone or at the desk, an agent opens it on their behalf).
    on_behalf = channel in ("phone", "web")
    opened = pipeline.ticket_create(
        actor=agent_actor if on_behalf else customer,
        via=via,
        subject=subject.format(**fill),
        requester_id=contact.pk,
        department_id=department.pk,
        description=NewMessage(body=body.format(**fill), author=customer),
        fields={"channel": channel}
        | ({"priority": priority, "assignee": agent.pk} if on_behalf else {})
        | ({"team": team.pk} if on_behalf and team is not None else {}),
        custom_fields=custom if on_behalf or channel == "portal" else {},
        tags=tuple(tags) if on_behalf else (),
        now=start,
    )
    conv = _Conversation(rng=rng, desk=desk, now=now, at=start, ticket_id=opened.ticket.pk, steps=1)
    with contextlib.suppress(_Stop):
        _converse(
            conv, dept_name, agent, agent_actor, team, customer, lang, fill, priority, tags, custom, vip
        )
    # Replies in the demo's past were never delivered: their outbox rows are history, not work.
    OutboxMessage.objects.filter(ticket_id=conv.ticket_id, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.SENT, sent_at=F("created_at")
    )
    return conv.steps


def _converse(
    conv: _Conversation,
    dept_name: str,
    agent: User,
    agent_actor: Actor,
    team: Team | None,
    customer: Actor,
    lang: str,
    fill: dict[str, str],
    priority: str,
    tags: list[str],
    custom: dict[str, Any],
    vip: bool,
) -> None:
    rng, desk = conv.rng, conv.desk
    agent_via = Via.WEB

    def agent_says(texts: list[str], delay: timedelta, status: str, **fields: Any) -> None:
        conv.step(
            delay,
            Mutation(
                actor=agent_actor,
                via=agent_via,
                fields={"status": status, **fields},
                message=NewMessage(body=rng.choice(texts).format(**fill)),
            ),
        )

    def customer_says(texts: list[str], delay: timedelta) -> None:
        # A customer's reply to a waiting ticket reopens it (a built-in move of the pipeline).
        conv.step(delay, Mutation(actor=customer, via=Via.EMAIL, message=NewMessage(body=rng.choice(texts))))

    def note(delay: timedelta, text: str, **fields: Any) -> None:
        lights = desk.light.get(dept_name, [])
        writer = (
            actor_for(rng.choice(lights)) if lights and not fields and rng.random() < 0.5 else agent_actor
        )
        conv.step(
            delay,
            Mutation(
                actor=writer,
                via=agent_via,
                fields=fields,
                message=NewMessage(body=text, public=False),
            ),
        )

    # 2. Triage and the first answer, within hours (faster for VIPs and urgent tickets).
    median = 0.6 if vip or priority == "urgent" else 2.0
    if rng.random() < 0.15:
        note(_hours(rng, median, 12), rng.choice(data.INTERNAL_NOTES))
    triage: dict[str, Any] = {"priority": priority, "assignee": agent.pk}
    if team is not None:
        triage["team"] = team.pk
    asks = rng.random() < 0.6
    conv.step(
        _hours(rng, median, 20),
        Mutation(
            actor=agent_actor,
            via=agent_via,
            fields={**triage, "status": "pending" if asks else "open"},
            custom_fields=custom,
            tags_add=tuple(tags),
            message=NewMessage(
                body=rng.choice(data.ASK[lang] if asks else data.WORKING[lang]).format(**fill)
            ),
        ),
    )

    # 3. Back and forth; sometimes an internal note, a hand-over, an escalation or a hold.
    rounds = rng.choice([0, 0, 1, 1, 1, 2, 3])
    for _ in range(rounds):
        if asks and rng.random() < 0.12:
            # The customer never answers: solved after a week of waiting.
            conv.step(
                timedelta(days=rng.uniform(6, 8)),
                Mutation(
                    actor=agent_actor, via=agent_via, fields={"status": "solved"}, tags_add=("no_reply",)
                ),
            )
            break
        customer_says(data.CUSTOMER_FOLLOW_UP[lang], _hours(rng, 8, 60))
        roll = rng.random()
        if roll < 0.1:
            note(_hours(rng, 1, 8), rng.choice(data.INTERNAL_NOTES))
        elif roll < 0.16 and len(desk.assignable[dept_name]) > 1:
            other = rng.choice([u for u in desk.assignable[dept_name] if u.pk != agent.pk])
            note(_hours(rng, 1, 8), f"Handing over to {other.name}.", assignee=other.pk)
            agent, agent_actor = other, actor_for(other)
            fill["agent"] = other.name.split()[0]
        elif roll < 0.22 and priority != "urgent":
            priority = "urgent" if priority == "high" else "high"
            note(_hours(rng, 0.5, 4), "Raising the priority: the customer is waiting.", priority=priority)
        elif roll < 0.3:
            note(_hours(rng, 1, 6), data.ON_HOLD_NOTE, status="on_hold")
            agent_says(data.WORKING[lang], timedelta(days=rng.uniform(1, 5)), "open")
        asks = rng.random() < 0.5
        agent_says(
            data.ASK[lang] if asks else data.WORKING[lang], _hours(rng, 2, 24), "pending" if asks else "open"
        )
    else:
        # 4. Solved, sometimes thanked (which reopens it, so the agent solves it again).
        agent_says(data.RESOLVE[lang], _hours(rng, 6, 72), "solved")
        if rng.random() < 0.2:
            customer_says(data.CUSTOMER_THANKS[lang], _hours(rng, 3, 24))
            conv.step(
                _hours(rng, 1, 12),
                Mutation(actor=agent_actor, via=agent_via, fields={"status": "solved"}),
            )
    if rng.random() < 0.04:
        return  # left solved: closing is a housekeeping step that did not run for this one
    # 5. Closed a few days after it was solved, by the system.
    conv.step(
        CLOSE_AFTER,
        Mutation(
            actor=Actor(kind=ActorKind.SYSTEM, label="auto-close"),
            via=Via.SYSTEM,
            cause="closed 4 days after it was solved",
            fields={"status": "closed"},
        ),
    )
