"""`render_notification`: the template in force, in the recipient's language, over the
allow-listed context; hostile names and templates stay harmless (hostile inputs 54-56)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.contacts.models import Contact
from sportello.core.errors import NotFound, ValidationFailed
from sportello.notifications import rendering
from sportello.notifications.context import NAMES, duration, notification_context
from sportello.notifications.defaults import DEFAULTS, KEYS
from sportello.notifications.models import NotificationTemplate, NotificationTemplateVersion
from sportello.notifications.rendering import render_notification
from sportello.notifications.services import template_reset, template_save
from testing import NOW


def test_every_shipped_key_has_a_valid_default_in_every_language() -> None:
    from sportello.engine.placeholders import check_template, placeholders_of

    assert set(KEYS) == {
        "ticket_received", "agent_reply", "status_changed", "solution_under_test", "shipment_status",
        "sla_warning", "satisfaction_survey", "survey_request", "survey_reminder",
    }  # fmt: skip
    assert set(DEFAULTS) == {(k, lang) for k in KEYS for lang in ("en", "es", "it")}
    documented = {n.removesuffix(".<key>") for n in NAMES}
    for (key, language), text in DEFAULTS.items():
        for field in ("subject", "body_text"):
            check_template(getattr(text, field), path=f"{key}.{language}.{field}")
        # every placeholder a default uses is a documented name
        used = placeholders_of(text.subject) | placeholders_of(text.body_text)
        assert all(n in documented or n.rsplit(".", 1)[0] in documented for n in used), (key, used)
        assert "\n" not in text.subject


def test_a_spanish_customer_gets_the_spanish_default(desk: Any, carmen: Any, open_ticket: Any) -> None:
    ticket = open_ticket(carmen, subject="Paquete perdido").ticket
    out = render_notification(key="ticket_received", ticket=ticket, now=NOW)
    assert out.language == "es"
    assert out.subject == f"[#{ticket.number}] Hemos recibido su solicitud: Paquete perdido"
    assert out.text.startswith("Hola, Carmen Ruiz:\n\nGracias por contactar con nosotros.")
    assert f"http://127.0.0.1:8000/portal/tickets/{ticket.number}/" in out.text
    assert out.text.endswith("Atentamente,\nBooks\n")


def test_an_unknown_language_falls_back_to_english(desk: Any, open_ticket: Any) -> None:
    Contact.objects.filter(pk=desk.bob.pk).update(language="de")
    desk.bob.refresh_from_db()
    ticket = open_ticket(desk.bob).ticket
    out = render_notification(key="status_changed", ticket=ticket, now=NOW)
    assert out.language == "en"
    assert out.subject == f"[#{ticket.number}] Status update: New"
    # an explicit language wins over the contact's; an unknown one is English too
    assert render_notification(key="status_changed", ticket=ticket, language="it", now=NOW).subject == (
        f"[#{ticket.number}] Aggiornamento di stato: Nuovo"
    )
    assert render_notification(key="status_changed", ticket=ticket, language="xx", now=NOW).language == "en"
    # a regional tag reads its language
    assert (
        render_notification(key="status_changed", ticket=ticket, language="es-MX", now=NOW).language == "es"
    )


def test_a_key_only_written_in_spanish_is_used_for_everyone(desk: Any, open_ticket: Any) -> None:
    template_save(key="promo", language="es", subject="Oferta", body_text="Hola", actor=desk.admin, now=NOW)
    ticket = open_ticket(desk.alice).ticket
    assert render_notification(key="promo", ticket=ticket, now=NOW).language == "es"
    with pytest.raises(NotFound):
        render_notification(key="no_such_key", ticket=ticket, now=NOW)


def test_an_override_is_used_then_deleting_it_restores_the_default(
    desk: Any, carmen: Any, open_ticket: Any
) -> None:
    ticket = open_ticket(carmen, subject="Factura").ticket
    # when an admin writes the Spanish text
    row, written = template_save(
        key="ticket_received", language="es", subject="Recibido: {{ ticket.subject }}",
        body_text="Gracias, {{ requester.name }}.", actor=desk.admin, now=NOW,
    )  # fmt: skip
    assert (written, row.version) == (True, 1)
    out = render_notification(key="ticket_received", ticket=ticket, now=NOW)
    assert (out.subject, out.text) == ("Recibido: Factura", "Gracias, Carmen Ruiz.")
    # saving the same texts writes nothing; a change is version 2, the first kept
    assert template_save(
        key="ticket_received", language="es", subject="Recibido: {{ ticket.subject }}",
        body_text="Gracias, {{ requester.name }}.", actor=desk.admin, now=NOW,
    )[1] is False  # fmt: skip
    template_save(
        key="ticket_received", language="es", subject="Recibido", body_text="Gracias.",
        actor=desk.admin, now=NOW + timedelta(minutes=1),
    )  # fmt: skip
    versions = NotificationTemplateVersion.objects.filter(key="ticket_received", language="es")
    assert [(v.version, v.subject) for v in versions] == [
        (1, "Recibido: {{ ticket.subject }}"),
        (2, "Recibido"),
    ]
    # an inactive override is not used
    template_save(
        key="ticket_received", language="es", subject="Recibido", body_text="Gracias.", active=False,
        actor=desk.admin, now=NOW,
    )  # fmt: skip
    assert render_notification(key="ticket_received", ticket=ticket, now=NOW).subject.startswith(
        f"[#{ticket.number}] Hemos recibido"
    )
    # when the override is deleted, the default is back and the versions stay
    template_reset(key="ticket_received", language="es", actor=desk.admin)
    assert not NotificationTemplate.objects.exists()
    out = render_notification(key="ticket_received", ticket=ticket, now=NOW)
    assert out.subject == f"[#{ticket.number}] Hemos recibido su solicitud: Factura"
    assert versions.all().count() == 3


def test_agents_cannot_change_templates(desk: Any) -> None:
    from sportello.core.errors import PermissionDenied

    for who in (desk.agent, desk.light, desk.alice):
        with pytest.raises(PermissionDenied):
            template_save(
                key="ticket_received", language="en", subject="x", body_text="y", actor=who, now=NOW
            )
    assert not NotificationTemplate.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "{{ settings.SECRET_KEY }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ ticket.requester.password }}",
        "{{ request }}",
        "{{ ticket.__class__ }}{{ requester._state }}{{ cycler.__init__.__globals__ }}",
    ],
)
def test_hostile_placeholders_render_empty(desk: Any, open_ticket: Any, body: str) -> None:
    # hostile input 56: only the allow-listed plain names exist; nothing reaches an object
    ticket = open_ticket(desk.alice).ticket
    template_save(key="evil", language="en", subject="s", body_text=f"[{body}]", actor=desk.admin, now=NOW)
    assert render_notification(key="evil", ticket=ticket, now=NOW).text == "[]"


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("body_text", "{% load x %}", "is not a valid template (line 1)"),
        ("body_text", "{% include 'base.html' %}", "must not use 'include'"),
        ("body_text", "{{ ticket.subject|safe }}", "uses the unknown filter 'safe'"),
        ("subject", "Hello\nBcc: x@y.z", "must be one line"),
        ("body_text", "x" * 20_001, "must be at most 20000 characters"),
        ("body_text", "", "is required"),
    ],
)
def test_bad_templates_are_refused_at_save_with_the_field(
    desk: Any, field: str, text: str, message: str
) -> None:
    texts = {"subject": "s", "body_text": "b", field: text}
    with pytest.raises(ValidationFailed) as err:
        template_save(
            key="evil",
            language="en",
            subject=texts["subject"],
            body_text=texts["body_text"],
            actor=desk.admin,
            now=NOW,
        )
    assert err.value.field == field
    assert err.value.message.startswith(message)
    assert not NotificationTemplate.objects.exists()


def test_a_name_with_line_breaks_gives_a_one_line_subject(desk: Any, open_ticket: Any) -> None:
    # hostile input 54: a name stored with CR/LF (say, imported) never makes a second header line
    Contact.objects.filter(pk=desk.alice.pk).update(name="Alice\r\nBcc: victim@x.test\rX:\ny")
    desk.alice.refresh_from_db()
    ticket = open_ticket(desk.alice).ticket
    template_save(
        key="hello",
        language="en",
        subject="Hi {{ requester.name }}",
        body_text="x",
        actor=desk.admin,
        now=NOW,
    )
    out = render_notification(key="hello", ticket=ticket, now=NOW)
    assert out.subject == "Hi Alice Bcc: victim@x.test X: y"


def test_a_hostile_name_is_escaped_in_html(desk: Any, open_ticket: Any) -> None:
    # hostile input 55: markup or a link in a name is text in the HTML part, never a link
    Contact.objects.filter(pk=desk.alice.pk).update(name="<a href=https://evil.example>x</a>")
    desk.alice.refresh_from_db()
    ticket = open_ticket(desk.alice).ticket
    out = render_notification(key="ticket_received", ticket=ticket, now=NOW)
    assert out.text.startswith("Hello <a href=https://evil.example>x</a>,\n\n")
    assert out.html.startswith("<p>Hello &lt;a href=https://evil.example&gt;x&lt;/a&gt;,</p>\n<p>Thank you")
    assert "<a " not in out.html
    # an admin's HTML body keeps its own markup, escapes the value, loses what is unsafe
    template_save(
        key="hello", language="en", subject="s", body_text="t",
        body_html='<p onclick="x()">Hi <b>{{ requester.name }}</b></p><script>alert(1)</script>',
        actor=desk.admin, now=NOW,
    )  # fmt: skip
    assert render_notification(key="hello", ticket=ticket, now=NOW).html == (
        "<p>Hi <b>&lt;a href=https://evil.example&gt;x&lt;/a&gt;</b></p>"
    )


def test_the_context_holds_plain_allow_listed_names_only(desk: Any, carmen: Any, open_ticket: Any) -> None:
    ticket = open_ticket(carmen, subject="Pedido", custom_fields={}).ticket
    context = notification_context(
        ticket=ticket, language="es", now=NOW, agent=desk.agent, message_body="Hola"
    )
    assert set(context) == {"ticket", "requester", "agent", "department", "sla", "links", "message"}
    assert context["ticket"] == {
        "number": ticket.number,
        "subject": "Pedido",
        "status": "new",
        "status_name": "Nuevo",
        "priority": "normal",
        "priority_name": "Normal",
        "department": "Books",
        "created_at": "2026-11-02 10:30 CET",  # NOW in Madrid
        "url": f"http://127.0.0.1:8000/portal/tickets/{ticket.number}/",
        "custom": {},
    }
    assert context["requester"] == {"name": "Carmen Ruiz", "email": "carmen@cliente.test", "language": "es"}
    assert context["agent"] == {"name": "Bruno Books", "signature": ""}
    assert context["department"] == {"name": "Books", "email": ""}
    assert context["sla"] == {}
    assert context["links"] == {
        "ticket": f"http://127.0.0.1:8000/portal/tickets/{ticket.number}/",
        "survey": f"http://127.0.0.1:8000/portal/survey/ticket/{ticket.number}/",
        "agent_ticket": f"http://127.0.0.1:8000/tickets/{ticket.pk}/",
    }
    assert context["message"] == {"body": "Hola"}


def test_extra_context_is_limited_to_the_known_names_and_plain_values(desk: Any, open_ticket: Any) -> None:
    ticket = open_ticket(desk.alice).ticket
    context = notification_context(
        ticket=ticket, language="en", now=NOW,
        extra={"settings": {"SECRET_KEY": "s"}, "agent": {"name": "Zoe", "user": desk.admin}, "message": "x"},
    )  # fmt: skip
    assert "settings" not in context
    assert context["agent"] == {"name": "Zoe", "user": None}
    assert context["message"] == "x"


def test_without_a_portal_no_template_sends_a_link_to_it(desk: Any, open_ticket: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "PORTAL_URL": ""}
    ticket = open_ticket(desk.alice).ticket
    for key in ("ticket_received", "agent_reply", "status_changed", "shipment_status", "satisfaction_survey"):
        for language in ("en", "es", "it"):
            out = render_notification(key=key, ticket=ticket, language=language, now=NOW)
            assert "/portal/" not in out.text, (key, language)
            assert "http" not in out.text, (key, language)
    received = render_notification(key="ticket_received", ticket=ticket, language="en", now=NOW).text
    assert "To add information, simply reply to this e-mail." in received
    assert "You can follow your request here" not in received


def test_the_portal_url_setting_builds_the_links(desk: Any, open_ticket: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "PORTAL_URL": "https://help.example.test/portal/"}
    ticket = open_ticket(desk.alice).ticket
    out = render_notification(key="satisfaction_survey", ticket=ticket, now=NOW)
    assert f"Rate our support: https://help.example.test/portal/survey/ticket/{ticket.number}/\n" in out.text


def test_shipment_status_shows_the_custom_fields_present_and_nothing_else(
    desk: Any, carmen: Any, open_ticket: Any
) -> None:
    ticket = open_ticket(carmen, subject="Envío").ticket
    without = render_notification(key="shipment_status", ticket=ticket, now=NOW)
    assert without.text == (
        "Hola, Carmen Ruiz:\n\n"
        f"Le informamos sobre el envío de su solicitud n.º {ticket.number}, «Envío».\n\n"
        f"Puede seguir su solicitud aquí: http://127.0.0.1:8000/portal/tickets/{ticket.number}/\n\n"
        "Atentamente,\nBooks\n"
    )
    ticket.custom_fields = {"tracking_number": "1Z999AA10123456784", "carrier": "UPS"}
    ticket.save(update_fields=["custom_fields"])
    out = render_notification(key="shipment_status", ticket=ticket, language="en", now=NOW)
    assert out.text == (
        "Hello Carmen Ruiz,\n\n"
        f'Here is an update on the shipment for your request #{ticket.number}, "Envío".\n'
        "Carrier: UPS\n"
        "Tracking number: 1Z999AA10123456784\n\n"
        f"You can follow your request here: http://127.0.0.1:8000/portal/tickets/{ticket.number}/\n\n"
        "Kind regards,\nBooks\n"
    )


def test_sla_warning_reads_the_tickets_clocks(desk: Any, open_ticket: Any) -> None:
    from sportello.sla.models import SlaPolicy, TicketSla

    ticket = open_ticket(desk.alice, subject="Down").ticket
    policy = SlaPolicy.objects.create(key="gold", name="Gold", created_at=NOW, updated_at=NOW)
    TicketSla.objects.update_or_create(
        ticket=ticket,
        defaults={"policy": policy, "state": {}, "next_breach_at": NOW + timedelta(hours=2, minutes=30),
                  "updated_at": NOW},
    )  # fmt: skip
    out = render_notification(key="sla_warning", ticket=ticket, language="en", time_zone="UTC", now=NOW)
    assert out.subject == f"[#{ticket.number}] SLA warning: 2h 30m left"
    assert "Policy: Gold\nDue: 2026-11-02 12:00 UTC\nTime left: 2h 30m\nPriority: Normal\n" in out.text
    assert out.text.endswith(f"Open the ticket: http://127.0.0.1:8000/tickets/{ticket.pk}/\n")


def test_agent_reply_wraps_the_message_and_signs_with_the_agent(
    desk: Any, carmen: Any, open_ticket: Any
) -> None:
    ticket = open_ticket(carmen).ticket
    out = render_notification(
        key="agent_reply", ticket=ticket, agent=desk.agent, message_body="Ya está enviado.", now=NOW
    )
    assert out.text == (
        "Ya está enviado.\n\n--\nBruno Books\nBooks\n\n"
        f"Ticket n.º {ticket.number}: http://127.0.0.1:8000/portal/tickets/{ticket.number}/\n"
        "Para responder, basta con contestar a este correo.\n"
    )


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "0m"), (45, "45m"), (150, "2h 30m"), (60 * 24 + 61, "1d 1h"), (-15, "-15m"), (-90, "-1h 30m")],
)
def test_time_left_is_written_in_two_units_at_most(minutes: int, text: str) -> None:
    assert duration(timedelta(minutes=minutes)) == text


def test_text_becomes_escaped_html_paragraphs() -> None:
    assert rendering.text_to_html("a < b\nc\n\n\nd & e") == "<p>a &lt; b<br>\nc</p>\n<p>d &amp; e</p>\n"
