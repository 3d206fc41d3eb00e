"""The Console's notification templates: admins only; every event in en, es and it (customised
or default) at a fixed statement count; the editor saves a new version through the kind's save,
refuses a text the sandbox refuses (with its line, nothing saved), keeps a stale edit's text;
the live preview renders on a sample ticket or a real one, in the chosen language."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.notifications.models import NotificationTemplate, NotificationTemplateVersion
from sportello.notifications.services import template_save
from testing import NOW

# session, user, the admins' templates
TEMPLATES = 3
EDIT = "/console/templates/ticket_received/es/"


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def form(**texts: str) -> dict[str, str]:
    base = {"subject": "Hola {{ requester.name }}", "body_text": "Ticket {{ ticket.number }}"}
    return {**base, "body_html": "", "version": "", **texts}


def test_only_admins_reach_the_templates(desk: Any, browser: Any, client: Any) -> None:
    for url in ("/console/templates/", EDIT):
        assert "/login/" in client.get(url)["Location"]
        for who in (desk.agent, desk.light):
            assert browser(who).get(url).status_code == 403
        assert browser(desk.admin).get(url).status_code == 200
    assert browser(desk.agent).post(EDIT, form()).status_code == 403
    assert browser(desk.agent).post(EDIT + "preview/", form()).status_code == 403
    assert not NotificationTemplate.objects.exists()


def test_the_list_shows_each_event_in_each_language_customised_or_default(desk: Any, browser: Any) -> None:
    template_save(
        key="ticket_received", language="it", subject="Ciao", body_text="Testo", actor=desk.admin, now=NOW
    )
    page = browser(desk.admin).get("/console/templates/").content.decode()
    assert "Ticket received" in page
    assert "Customised · v1" in page
    assert page.count("Default") >= 6
    assert 'href="/console/templates/ticket_received/it/"' in page
    assert 'href="/console/templates/sla_warning/es/"' in page


def test_the_list_costs_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    few = count(lambda: client.get("/console/templates/"))
    for key in ("ticket_received", "agent_reply", "status_changed", "my_own"):
        for lang in ("en", "es", "it"):
            template_save(key=key, language=lang, subject="S", body_text="B", actor=desk.admin, now=NOW)
    many = count(lambda: client.get("/console/templates/"))
    assert few == many == TEMPLATES


def test_saving_makes_a_new_version(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    reply = client.post(EDIT, form())
    assert reply.status_code == 302
    row = NotificationTemplate.objects.get(key="ticket_received", language="es")
    assert (row.subject, row.version) == ("Hola {{ requester.name }}", 1)
    page = client.get(EDIT).content.decode()
    assert "Saved “Ticket received” in Spanish." in page
    assert 'name="version" value="1"' in page
    # saved again from that editor: version 2
    assert client.post(EDIT, form(version="1", body_text="Otro")).status_code == 302
    assert NotificationTemplateVersion.objects.filter(key="ticket_received", language="es").count() == 2


def test_a_text_the_sandbox_refuses_is_refused_with_its_line_and_nothing_saved(
    desk: Any, browser: Any
) -> None:
    reply = browser(desk.admin).post(EDIT, form(body_text="Hello\n{% for x in y %}\nno end"))
    assert reply.status_code == 422
    page = reply.content.decode()
    assert 'id="t-body_text-error"' in page
    assert "(line 3)" in page or "(line 2)" in page
    assert "no end</textarea>" in page  # what was typed is kept
    assert not NotificationTemplate.objects.exists()
    bad_subject = browser(desk.admin).post(EDIT, form(subject="{{ ticket.number }"))
    assert bad_subject.status_code == 422
    assert 'id="t-subject-error"' in bad_subject.content.decode()


def test_a_stale_edit_keeps_the_text_and_says_what_changed(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    assert 'name="version" value=""' in client.get(EDIT).content.decode()
    template_save(
        key="ticket_received",
        language="es",
        subject="Theirs",
        body_text="Their text",
        actor=desk.admin,
        now=NOW,
    )
    reply = client.post(EDIT, form(body_text="Mine, typed meanwhile"))
    assert reply.status_code == 409
    page = reply.content.decode()
    assert "version 1 is now in force" in page
    assert "Mine, typed meanwhile</textarea>" in page
    assert "Their text" in page
    assert NotificationTemplate.objects.get(key="ticket_received", language="es").subject == "Theirs"
    # saving again from that page (it carries version 1 now) replaces theirs
    assert 'name="version" value="1"' in page
    assert client.post(EDIT, form(version="1", body_text="Mine")).status_code == 302


def test_the_preview_renders_on_a_sample_in_the_chosen_language(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    subject = "{{ ticket.priority_name }} #{{ ticket.number }}"
    sent = form(subject=subject, body_text="Hola {{ requester.name }}", preview_language="it")
    reply = client.post(EDIT + "preview/", sent)
    page = reply.content.decode()
    assert reply.status_code == 200
    assert '<dd id="preview-subject">Alta #1042</dd>' in page
    assert "Hola Carla Rossi" in page
    assert not NotificationTemplate.objects.exists()


def test_the_preview_on_a_real_ticket(desk: Any, browser: Any, open_ticket: Any) -> None:
    ticket = open_ticket("Printer on fire")
    sent = form(subject="#{{ ticket.number }} {{ ticket.subject }}", ticket=str(ticket.number))
    page = browser(desk.admin).post(EDIT + "preview/", sent).content.decode()
    assert f"#{ticket.number} {ticket.subject}" in page
    unknown = browser(desk.admin).post(EDIT + "preview/", form(ticket="999999")).content.decode()
    assert "no ticket has this number" in unknown
    junk = browser(desk.admin).post(EDIT + "preview/", form(ticket="abc")).content.decode()
    assert "enter a ticket number" in junk


def test_the_preview_of_a_refused_text_says_why(desk: Any, browser: Any) -> None:
    page = (
        browser(desk.admin).post(EDIT + "preview/", form(body_text="a\n{{ x.__class__ }\n")).content.decode()
    )
    assert 'id="preview-error"' in page
    assert "line 2" in page


def test_an_unknown_template_is_not_found(desk: Any, browser: Any) -> None:
    assert browser(desk.admin).get("/console/templates/nope/es/").status_code == 404
    assert browser(desk.admin).get("/console/templates/ticket_received/fr/").status_code == 404


def test_the_templates_speak_the_viewers_language(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    client.cookies["django_language"] = "it"
    page = client.get("/console/templates/").content.decode()
    assert '<h1 id="templates-title">Modelli di notifica</h1>' in page
    assert "Ticket ricevuto" in page
    assert "Personalizza" in page
    editor = client.get(EDIT).content.decode()
    assert "Segnaposto" in editor
    assert "Anteprima" in editor
