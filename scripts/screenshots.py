"""Regenerates the Desk's (and the Console's) key screens into docs/img/ (`make screenshots`).

A throw-away desk in var/screenshots/ (migrated, demo data loaded: about a minute), served by
`sportello serve` on a free loopback port, visited by Debian's Chromium through Playwright as a
demo agent would. Each scene prepares the page as a person would (clicks, typing) and is saved
as docs/img/<scene>.png; a scene whose page is broken fails the command, naming it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "var" / "screenshots"
OUT = ROOT / "docs" / "img"
SPORTELLO = ROOT / ".venv" / "bin" / "sportello"
CHROMIUM = os.environ.get("SPORTELLO_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "screenshots-only-password"
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


def step(message: str) -> None:
    print(f"[screenshots] {message}", flush=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env["SPORTELLO_DATA_DIR"] = str(DATA)
    return env


def prepare() -> tuple[str, str]:
    """A fresh demo desk; returns the e-mail addresses of a demo agent and admin, whose
    passwords are set to PASSWORD."""
    if DATA.exists():
        shutil.rmtree(DATA)
    DATA.mkdir(parents=True)
    env = _env()
    step("migrating a fresh database")
    subprocess.run([str(SPORTELLO), "migrate", "--verbosity", "0"], env=env, check=True)
    step("loading the demo data (about a minute)")
    subprocess.run([str(SPORTELLO), "demo"], env=env, check=True)
    os.environ.update({"SPORTELLO_DATA_DIR": str(DATA), "DJANGO_SETTINGS_MODULE": "sportello.settings"})
    os.environ.pop("DATABASE_URL", None)
    # The ORM is used between browser steps, while Playwright's loop runs in this thread.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    import django

    django.setup()
    from sportello.accounts.models import Role, User

    agent = User.objects.filter(role=Role.AGENT, is_active=True).order_by("pk").first()
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
    if agent is None or admin is None:
        raise SystemExit("the demo data has no agent or admin")
    for user in (agent, admin):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    return agent.email, admin.email


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(SPORTELLO), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180  # a busy machine boots the workers slowly
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start within 180 s")


Scene = Callable[[Any, str], None]


def sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: "/login/" not in u)


def _busiest_ticket(page: Any, base: str) -> None:
    """The ticket with the longest history among the queue's first rows."""
    page.goto(f"{base}/")
    hrefs = {
        h
        for h in page.locator("a[href^='/tickets/']").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        if re.fullmatch(r"/tickets/\d+/", h)
    }
    page.goto(f"{base}{max(hrefs, key=_history_length)}")


def _history_length(href: str) -> int:
    from sportello.tickets.models import TicketEvent

    return TicketEvent.objects.filter(ticket_id=int(href.split("/")[2])).count()


def scene_queue(page: Any, base: str) -> None:
    page.goto(f"{base}/")


def scene_ticket(page: Any, base: str) -> None:
    _busiest_ticket(page, base)


def scene_composer_macro(page: Any, base: str) -> None:
    """A macro picked in the composer, its preview open."""
    _busiest_ticket(page, base)
    composer = page.locator("#reply-form")
    composer.locator("summary", has_text="Macros").click()
    composer.locator(".picker-panel button").first.click()
    page.locator("#macro-dialog").get_by_role("heading").first.wait_for()


def scene_composer_article(page: Any, base: str) -> None:
    """The composer's "Insert article": the knowledge base searched for a word of the ticket."""
    _busiest_ticket(page, base)
    page.locator("#reply-form").get_by_role("button", name="Insert article").click()
    page.locator("#kb-picker-q").fill("refund")
    page.locator("[data-kb-picker-list] li").first.wait_for()


def scene_bulk(page: Any, base: str) -> None:
    """The page's tickets selected, a status change about to be applied."""
    page.goto(f"{base}/")
    page.get_by_label("Select every ticket on this page").check()
    page.get_by_label("Change", exact=True).select_option("status")
    page.get_by_label("New status").select_option("pending")


def scene_console_tokens(page: Any, base: str) -> None:
    """The Console's API tokens, every agent's (signed in as the demo admin): a few made for
    scripts and integrations, one of them used, one revoked."""
    from datetime import timedelta

    from sportello.accounts.models import ApiToken, Role, User
    from sportello.accounts.services import token_create, token_revoke_any
    from sportello.core import clock

    now = clock.now()
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).earliest("pk")
    people = list(User.objects.filter(is_active=True).order_by("role", "pk")[:4])
    names = ["Reporting script", "CRM sync", "Phone system", "Old import"]
    for i, (user, name) in enumerate(zip(people, names, strict=False)):
        token, _secret = token_create(user=user, name=name, now=now - timedelta(days=30 - 7 * i))
        if i == 0:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now - timedelta(minutes=5))
        if name == "Old import":
            token_revoke_any(token_id=token.pk, actor=admin, now=now - timedelta(days=1))
    page.goto(f"{base}/console/tokens/?status=all")


def scene_console_rule_dry_run(page: Any, base: str) -> None:
    """The Console's rule editor (signed in as the demo admin): a "phone heats up" rule as YAML
    beside its rendering in words, checked, and its dry run on the last 50 tickets."""
    page.goto(f"{base}/console/rules/new/?kind=event")
    page.get_by_label("The rule as YAML").fill(
        "key: phone-heats-up\n"
        "name: Phone heats up\n"
        "when:\n"
        "  any:\n"
        "    - {field: ticket.subject, op: contains, value: heat}\n"
        "    - {field: ticket.subject, op: contains, value: refund}\n"
        "actions:\n"
        "  - set: {field: ticket.priority, value: high}\n"
        "  - add_tags: [hot]\n"
    )
    page.locator("#rule-form").get_by_role("button", name="Check").click()
    page.locator("#rule-check .rules-rendering").wait_for()
    page.get_by_role("button", name="Test on recent tickets").click()
    page.locator("#dry-run-result .rules-dry-summary").wait_for()


def scene_console_rule_builder(page: Any, base: str) -> None:
    """The Console's rule builder beside the YAML: a condition with a nested "any of" group
    (a VIP requester, or a gold or platinum organization), then an "all of" group added inside
    it, and the actions as typed inputs."""
    page.goto(f"{base}/console/rules/new/?kind=event")
    yaml_text = page.get_by_label("The rule as YAML")
    yaml_text.fill(
        "key: vip-phone-heats-up\n"
        "name: VIP phones that heat up\n"
        "when:\n"
        "  all:\n"
        "    - {field: ticket.subject, op: contains, value: phone heats up}\n"
        "    - any:\n"
        "        - {field: requester.vip, op: is, value: true}\n"
        "        - {field: organization.tier, op: in, value: [gold, platinum]}\n"
        "actions:\n"
        "  - set: {field: ticket.priority, value: urgent}\n"
        "  - add_tags: [vip, hot]\n"
    )
    yaml_text.press("Tab")  # the builder is drawn again from the YAML
    page.locator("#bw-1-join").wait_for()
    _builder_settled(page)
    page.locator("#bw-1-add-group").click()
    page.locator("#bw-1-2-join").wait_for()
    _builder_settled(page)
    page.locator("#bw-1-2-join").select_option("all")
    _builder_settled(page)
    page.locator("#bw-1-2-0-value").fill("overheat")
    page.locator("#bw-1-2-0-value").press("Tab")
    page.locator("#rule-check .rules-rendering").wait_for()
    _builder_settled(page)
    page.locator("#bw-1-2-add-pred").click()
    page.locator("#bw-1-2-1-field").wait_for()
    _builder_settled(page)
    page.locator("#bw-1-2-1-field").select_option("ticket.priority")
    page.locator("#bw-1-2-1-value option[value=high]").wait_for(state="attached")
    _builder_settled(page)
    page.locator("#bw-1-2-1-value").select_option("high")
    page.locator("#rule-check .rules-rendering").wait_for()
    _builder_settled(page)
    page.locator("#rule-builder").scroll_into_view_if_needed()


def _builder_settled(page: Any) -> None:
    """Wait until the builder's last answer is swapped in and settled (its inputs live again)."""
    from playwright.sync_api import expect

    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)


def scene_console_history_diff(page: Any, base: str) -> None:
    """The Console's history diff (signed in as the demo admin): a rule changed by an agent
    and then by an admin, the two latest versions compared — the changes by path, then both
    definitions as YAML side by side."""
    from datetime import timedelta

    from sportello.accounts.models import Role, User
    from sportello.automation.services import RuleKind, rule_save
    from sportello.core import clock

    now = clock.now()
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).earliest("pk")
    agent = User.objects.filter(role=Role.AGENT, is_active=True).earliest("pk")

    def rule(name: str, value: str, tags: list[str]) -> dict[str, Any]:
        return {
            "key": "phone-heats-up",
            "name": name,
            "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": value}]},
            "actions": [{"add_tags": tags}],
        }

    steps = [
        (admin, rule("Phone heats up", "heats up", ["hot"]), timedelta(days=3)),
        (agent, rule("Phone heats up", "heats up", ["hot", "replacement"]), timedelta(days=1)),
        (admin, rule("Phone overheats", "overheat", ["replacement"]), timedelta(hours=2)),
    ]
    for who, definition, ago in steps:
        saved, _written = rule_save(kind=RuleKind.EVENT, definition=definition, created_by=who, now=now - ago)
    latest = saved.version
    page.goto(f"{base}/console/history/rules/phone-heats-up/diff/?a={latest - 1}&b={latest}")


def scene_console_calendar(page: Any, base: str) -> None:
    """A business calendar in the Console's editor: the Rome office's weekly grid with a lunch
    break, Christmas Eve afternoon closed, and Italy's public holidays imported."""
    from sportello.accounts.models import Role, User
    from sportello.core import clock
    from sportello.sla.calendars import calendar_import_holidays, calendar_save

    now = clock.now()
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).earliest("pk")
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    definition = {
        "key": "rome-office",
        "name": "Rome office",
        "time_zone": "Europe/Rome",
        "weekly": {d: [["09:00", "13:00"], ["14:00", "18:00"]] for d in weekdays},
        "holidays": [
            {"date": f"{now.year}-12-24", "name": "Vigilia di Natale", "closed": [["13:00", "24:00"]]}
        ],
    }
    calendar_save(definition=definition, actor=admin, now=now)
    calendar_import_holidays(key="rome-office", country="IT", years=[now.year], actor=admin, now=now)
    page.goto(f"{base}/console/calendars/rome-office/")


def scene_console_quarantine(page: Any, base: str) -> None:
    """The Console's quarantine (signed in as the demo admin): mail the intake held back — a
    forward from an agent's address, a message to none of our mailboxes, one with no sender."""
    from email.message import EmailMessage

    from sportello.accounts.models import Role, User
    from sportello.channels.inbound import mail_ingest
    from sportello.channels.models import Mailbox
    from sportello.core import clock

    box = Mailbox.objects.order_by("pk").first()
    to = box.address if box is not None else "support@example.test"
    agent = User.objects.filter(role=Role.AGENT, is_active=True).earliest("pk")
    held = [
        (agent.email, to, "Fwd: my order never arrived", "Forwarding what a customer wrote to me."),
        ("promo@deals.example", "sales@elsewhere.example", "Claim your prize today", "Click here."),
        ("", to, "Invoice attached", "Please see the attached invoice."),
    ]
    for i, (sender, rcpt, subject, body) in enumerate(held):
        m = EmailMessage()
        if sender:
            m["From"] = sender
        m["To"], m["Subject"], m["Message-ID"] = rcpt, subject, f"<held-{i}@screenshots.example>"
        m.set_content(body)
        mail_ingest(raw=m.as_bytes(), via="mta", now=clock.now())
    page.goto(f"{base}/console/quarantine/")


def scene_console_template_preview(page: Any, base: str) -> None:
    """The notification template editor: the Spanish "ticket received" being customised, a
    placeholder inserted at the cursor, the live preview on the sample ticket in Spanish."""
    page.goto(f"{base}/console/templates/ticket_received/es/")
    page.locator("#preview-subject").wait_for()
    subject = page.get_by_label("Subject", exact=True)
    subject.fill("Hemos recibido su consulta, ")
    subject.press("End")
    page.get_by_role("button", name="requester.name").click()
    page.locator("#preview-subject", has_text="Carla Rossi").wait_for()


def scene_console_agents(page: Any, base: str) -> None:
    """The Console's agents (signed in as the demo admin): every agent with role, departments,
    teams, presence and last sign-in, one of them invited and waiting to choose a password."""
    from sportello.accounts.models import Department, Role, User
    from sportello.core import clock
    from sportello.notifications.invites import agent_invite

    admin = User.objects.filter(role=Role.ADMIN, is_active=True).earliest("pk")
    if not User.objects.filter(email="nadia.new@example.com").exists():
        agent_invite(
            email="nadia.new@example.com",
            name="Nadia New",
            role=Role.AGENT,
            departments=list(Department.objects.order_by("pk")[:1]),
            actor=admin,
            now=clock.now(),
        )
    page.goto(f"{base}/console/people/agents/")


def scene_console_round_robin(page: Any, base: str) -> None:
    """The demo's Returns round robin in the Console: its form, and each member's load, status
    and who gets the next ticket (one member online, one away)."""
    from sportello.accounts.models import User
    from sportello.automation.assignment import policy_get, policy_members

    members = policy_members(policy=policy_get(key="returns-round-robin"))
    for member, status in zip(members, ["online", "away"], strict=False):
        User.objects.filter(pk=member.user.pk).update(status=status)
    page.goto(f"{base}/console/round-robin/returns-round-robin/")


def scene_console_layout_preview(page: Any, base: str) -> None:
    """The Console's layout editor for Electronics (signed in as the demo admin): the subcategory
    moved to the top by its button, with the preview of the ticket form as an agent and as a
    customer see it, redrawn as the layout changes (nothing saved)."""
    from sportello.accounts.models import Department

    electronics = Department.objects.get(name="Electronics")
    page.goto(f"{base}/console/departments/{electronics.pk}/layout/")
    page.locator("#row-subcategory").get_by_role("button", name="Move Subcategory up").click()
    page.locator(".layout-row:first-child#row-subcategory").wait_for()
    row = page.locator("#row-subcategory")
    row.get_by_label("Required of customers on their form").check()
    page.locator("#layout-preview .preview-required").wait_for()


def scene_console_blueprint_editor(page: Any, base: str) -> None:
    """The Console's blueprint editor on the demo's warranty replacement process, its flowchart
    beside the form, redrawn after a state's time limit is changed."""
    page.goto(f"{base}/console/blueprints/warranty-replacement/edit/")
    page.locator("#bp-preview svg").wait_for()
    page.get_by_label("Time limit of state 2").fill("3d")
    page.wait_for_function(
        "() => (document.querySelector('#bp-preview svg')?.textContent || '').includes('3d')"
    )


def scene_reports_dashboard(page: Any, base: str) -> None:
    page.goto(f"{base}/reports/?period=30d")
    page.wait_for_selector(".tiles")


def scene_reports_drill(page: Any, base: str) -> None:
    page.goto(f"{base}/reports/?period=30d")
    page.click(".tile:nth-child(2) a.tile-value")
    page.wait_for_selector(".report-table")


def scene_reports_process(page: Any, base: str) -> None:
    from sportello.accounts.models import Department

    busiest = Department.objects.order_by("pk").values_list("pk", flat=True).first()
    page.goto(f"{base}/reports/process/?source=department:{busiest}")
    page.wait_for_selector("svg")


def scene_reports_blueprint(page: Any, base: str) -> None:
    from sportello.blueprints.models import Blueprint

    key = Blueprint.objects.order_by("pk").values_list("key", flat=True).first()
    page.goto(f"{base}/reports/blueprints/{key}/?period=90d")
    page.wait_for_selector("svg")


def scene_search(page: Any, base: str) -> None:
    page.goto(f"{base}/search/?q=refund")
    page.locator("mark").first.wait_for()


def scene_portal_home(page: Any, base: str) -> None:
    page.goto(f"{base}/portal/")


def scene_portal_request_form(page: Any, base: str) -> None:
    """The request form while the customer types: the suggested articles below it."""
    from sportello.accounts.models import Department

    books = Department.objects.filter(is_active=True).order_by("pk").first()
    page.goto(f"{base}/portal/requests/new/?department={books.pk if books else ''}")
    page.get_by_label("Subject").fill("My parcel has not arrived and the tracking does not move")
    page.locator("#suggestions .kb-suggest-link").first.wait_for()


def scene_portal_article(page: Any, base: str) -> None:
    """The most read public article in English, as a customer sees it."""
    from sportello.kb.models import ArticleTranslation
    from sportello.kb.selectors import public_url

    t = ArticleTranslation.objects.filter(language="en", state="public").order_by("-view_count", "pk").first()
    if t is None:
        raise RuntimeError("the demo knowledge base has no public English article")
    page.goto(f"{base}{public_url(t)}")


def scene_portal_kb_home(page: Any, base: str) -> None:
    page.goto(f"{base}/portal/kb/en/")


def scene_portal_survey(page: Any, base: str) -> None:
    """The survey a customer gets once their ticket is solved: the demo admin turns surveys on
    for the ticket's department (at once, with the effort question), the ticket is solved, the
    survey's timer fires; the page of its e-mailed link."""
    from datetime import timedelta

    from django.utils import timezone

    from sportello.accounts.models import Role, User
    from sportello.core.actors import Via
    from sportello.core.errors import DomainError
    from sportello.surveys.links import survey_token
    from sportello.surveys.models import Survey
    from sportello.surveys.policies import PolicyIn, survey_policy_save
    from sportello.surveys.services import survey_fire_due
    from sportello.tickets.models import Ticket
    from sportello.tickets.services import ticket_update

    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
    if admin is None:
        raise RuntimeError("the demo data has no admin")
    now = timezone.now()
    candidates = (
        Ticket.objects.filter(status_category="open", assignee__isnull=False)
        .exclude(requester__email="")
        .order_by("pk")[:30]
    )
    for ticket in candidates:  # the first one whose layout lets it be solved as it is
        survey_policy_save(
            actor=admin, department_id=ticket.department_id, now=now,
            data=PolicyIn(enabled=True, delay_minutes=0, ask_ces=True),
        )  # fmt: skip
        try:
            ticket_update(
                principal=ticket.assignee, ticket_id=ticket.pk, via=Via.WEB, now=now,  # type: ignore[arg-type]
                data={"status": "solved", "version": ticket.version},
            )  # fmt: skip
        except DomainError:
            continue
        break
    else:
        raise RuntimeError("no demo ticket could be solved as it is")
    survey_fire_due(now=now + timedelta(seconds=1))
    survey = Survey.objects.get(ticket=ticket)
    page.goto(f"{base}/portal/survey/{survey_token(survey)}/")


def scene_portal_ticket(page: Any, base: str) -> None:
    """A customer signed in by a sign-in link, on their ticket with the most public messages."""
    from django.db.models import Count, Q
    from django.utils import timezone

    from sportello.portal import services
    from sportello.tickets.models import Ticket

    ticket = (
        Ticket.objects.exclude(requester__email="")
        .annotate(public=Count("messages", filter=Q(messages__public=True)))
        .order_by("-public", "pk")
        .first()
    )
    if ticket is None:
        return
    link = services.signin_link_request(email=ticket.requester.email, address="", now=timezone.now())
    if link is None:
        return
    page.goto(f"{base}/portal/sign-in/{link.token}/")  # type: ignore[attr-defined]
    page.get_by_role("button").last.click()
    page.goto(f"{base}/portal/tickets/{ticket.number}/")


SCENES: list[tuple[str, ViewportSize, Scene, bool]] = [
    # name, viewport, scene, full page
    ("queue", DESKTOP, scene_queue, False),
    ("ticket", DESKTOP, scene_ticket, True),
    ("composer-macro", DESKTOP, scene_composer_macro, False),
    ("composer-article", DESKTOP, scene_composer_article, False),
    ("bulk", DESKTOP, scene_bulk, False),
    ("search", DESKTOP, scene_search, False),
    ("console-tokens", DESKTOP, scene_console_tokens, False),
    ("console-rule-dry-run", DESKTOP, scene_console_rule_dry_run, True),
    ("console-rule-builder", DESKTOP, scene_console_rule_builder, True),
    ("console-history-diff", DESKTOP, scene_console_history_diff, True),
    ("console-calendar", DESKTOP, scene_console_calendar, True),
    ("console-quarantine", DESKTOP, scene_console_quarantine, False),
    ("console-template-preview", DESKTOP, scene_console_template_preview, False),
    ("console-agents", DESKTOP, scene_console_agents, False),
    ("console-round-robin", DESKTOP, scene_console_round_robin, True),
    ("console-layout-preview", DESKTOP, scene_console_layout_preview, True),
    ("console-blueprint-editor", DESKTOP, scene_console_blueprint_editor, False),
    ("phone-queue", PHONE, scene_queue, False),
    ("phone-ticket", PHONE, scene_ticket, False),
    ("reports-dashboard", DESKTOP, scene_reports_dashboard, True),
    ("reports-drill-down", DESKTOP, scene_reports_drill, False),
    ("phone-reports-dashboard", PHONE, scene_reports_dashboard, False),
    ("reports-process-map", DESKTOP, scene_reports_process, True),
    ("reports-blueprint-dashboard", DESKTOP, scene_reports_blueprint, True),
    ("portal-home", DESKTOP, scene_portal_home, False),
    ("portal-request-form", DESKTOP, scene_portal_request_form, True),
    ("portal-ticket", DESKTOP, scene_portal_ticket, True),
    ("portal-kb-home", DESKTOP, scene_portal_kb_home, True),
    ("portal-article", DESKTOP, scene_portal_article, True),
    ("portal-survey", DESKTOP, scene_portal_survey, True),
    ("phone-portal-home", PHONE, scene_portal_home, False),
    ("phone-portal-article", PHONE, scene_portal_article, True),
    ("phone-portal-request-form", PHONE, scene_portal_request_form, True),
    ("phone-portal-ticket", PHONE, scene_portal_ticket, True),
]
# Scenes of the Console (`console-…`) and reports are seen by the demo admin; the Desk's by a
# demo agent.
AS_ADMIN = {name for name, *_ in SCENES if name.startswith("console-") or "reports-" in name}
# Scenes of the portal (`portal-…`, `phone-portal-…`) are seen as a customer sees them: no agent
# signed in (an agent would also see the knowledge base's internal articles).
AS_CUSTOMER = {name for name, *_ in SCENES if "portal-" in name}


def main() -> None:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium is not installed at {CHROMIUM}: run `make browser`")
    agent, admin = prepare()
    proc, base = serve()
    OUT.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            for i, (name, viewport, scene, full) in enumerate(SCENES, 1):
                context = browser.new_context(viewport=viewport, locale="en-GB")
                # The screens in English, whatever the demo agent's own language.
                context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
                page = context.new_page()
                page.set_default_timeout(15_000)
                try:
                    if name not in AS_CUSTOMER:
                        sign_in(page, base, admin if name in AS_ADMIN else agent)
                    scene(page, base)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
                    step(f"{i}/{len(SCENES)} {name}.png")
                except Exception as exc:  # every scene is tried; all failures are listed
                    failed.append(f"{name}: {exc}")
                    step(f"{i}/{len(SCENES)} {name}: FAILED ({exc})")
                finally:
                    context.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if failed:
        raise SystemExit("some screens could not be taken:\n" + "\n".join(failed))
    step(f"done: {len(SCENES)} screens in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
