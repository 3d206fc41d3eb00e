"""`/api/v1/notification-templates`: list, read, save, restore, versions and preview, with who
may do what."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.notifications.models import NotificationTemplate
from testing import expect

SPANISH = {"subject": "Recibido: {{ ticket.subject }}", "body_text": "Hola {{ requester.name }}"}


def test_the_list_has_every_shipped_key_in_every_language_then_added_keys(desk: Any, api: Any) -> None:
    admin = api(desk.admin)
    assert admin.put("/notification-templates/ticket_received/it", SPANISH).status_code == 200
    assert admin.put("/notification-templates/order_ready/en", SPANISH).status_code == 200
    r = api(desk.agent).get("/notification-templates")
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 9 * 3 + 1
    assert [(i["key"], i["language"], i["source"]) for i in items[:3]] == [
        ("ticket_received", "en", "default"),
        ("ticket_received", "es", "default"),
        ("ticket_received", "it", "custom"),
    ]
    assert (items[-1]["key"], items[-1]["language"], items[-1]["has_default"]) == ("order_ready", "en", False)
    assert items[0]["audience"] == "customer"
    assert items[0]["subject"] == "[#{{ ticket.number }}] We received your request: {{ ticket.subject }}"


def test_put_then_get_then_delete_restores_the_default(desk: Any, api: Any) -> None:
    admin = api(desk.admin)
    r = admin.put("/notification-templates/ticket_received/es", SPANISH)
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["source"], body["version"], body["written"], body["updated_by_id"]) == (
        "custom", 1, True, desk.admin.pk
    )  # fmt: skip
    assert admin.put("/notification-templates/ticket_received/es", SPANISH).json()["written"] is False
    r = admin.put("/notification-templates/ticket_received/es", {**SPANISH, "subject": "Recibido"})
    assert (r.json()["version"], r.json()["subject"]) == (2, "Recibido")
    got = api(desk.agent).get("/notification-templates/ticket_received/es").json()
    assert (got["source"], got["subject"], got["body_text"]) == (
        "custom",
        "Recibido",
        "Hola {{ requester.name }}",
    )
    versions = admin.get("/notification-templates/ticket_received/es/versions").json()
    assert [(v["version"], v["subject"]) for v in versions] == [(2, "Recibido"), (1, SPANISH["subject"])]
    # DELETE restores the default (and saying it again is no error)
    assert admin.delete("/notification-templates/ticket_received/es").status_code == 204
    assert admin.delete("/notification-templates/ticket_received/es").status_code == 204
    got = admin.get("/notification-templates/ticket_received/es").json()
    assert (got["source"], got["version"]) == ("default", None)
    assert got["subject"].startswith("[#{{ ticket.number }}] Hemos recibido")
    # a key with neither an admin's text nor a default is not found
    assert admin.get("/notification-templates/order_ready/es").status_code == 404
    assert admin.delete("/notification-templates/order_ready/es").status_code == 404
    assert admin.get("/notification-templates/ticket_received/de").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subject": "ok", "body_text": "{% load x %}"}, "body_text"),
        ({"subject": "ok", "body_text": "{% include 'x' %}"}, "body_text"),
        ({"subject": "{{ unclosed", "body_text": "ok"}, "subject"),
        ({"subject": "a\r\nBcc: v@x.test", "body_text": "ok"}, "subject"),
        ({"subject": "ok", "body_text": "ok", "body_html": "{{ x|attr('y') }}"}, "body_html"),
        ({"subject": "ok", "body_text": "x" * 20_001}, "body_text"),
        ({"subject": "ok", "body_text": "ok\x00"}, "body_text"),
        ({"subject": "ok", "body_text": "ok", "extra": 1}, "extra"),
        ({"subject": "ok", "body_text": "ok", "active": "yes"}, "active"),
    ],
)
def test_invalid_templates_are_refused_with_the_field(desk: Any, api: Any, payload: Any, field: str) -> None:
    r = api(desk.admin).put("/notification-templates/ticket_received/en", payload)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == field
    assert not NotificationTemplate.objects.exists()


def test_an_invalid_key_or_language_is_refused(desk: Any, api: Any) -> None:
    admin = api(desk.admin)
    r = admin.put("/notification-templates/Bad Key/en", SPANISH)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "key")
    r = admin.put("/notification-templates/ticket_received/de", SPANISH)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "language")


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_write_templates(as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    assert client.put("/notification-templates/ticket_received/en", SPANISH).status_code == status
    expected_delete = 204 if status == 200 else status
    assert client.delete("/notification-templates/ticket_received/en").status_code == expected_delete
    assert NotificationTemplate.objects.count() == 0


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=200, light=403, outsider=200, anonymous=401, revoked=401)
)
def test_admins_and_agents_read_templates(as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    assert client.get("/notification-templates").status_code == status
    assert client.get("/notification-templates/sla_warning/it").status_code == status
    assert client.get("/notification-templates/sla_warning/it/versions").status_code == status


def test_customers_read_no_template(desk: Any) -> None:
    from sportello.core.errors import PermissionDenied
    from sportello.notifications import selectors

    with pytest.raises(PermissionDenied):
        selectors.template_list(principal=desk.alice)


@pytest.fixture
def ticket(desk: Any, carmen: Any, open_ticket: Any) -> Any:
    return open_ticket(carmen, subject="Paquete perdido").ticket


def test_preview_renders_the_stored_template_in_the_requesters_language(
    desk: Any, api: Any, ticket: Any
) -> None:
    r = api(desk.agent).post("/notification-templates/status_changed/preview", {"ticket_id": ticket.pk})
    assert r.status_code == 200, r.content
    assert r.json() == {
        "key": "status_changed",
        "language": "es",
        "source": "default",
        "subject": f"[#{ticket.number}] Actualización de estado: Nuevo",
        "text": (
            "Hola, Carmen Ruiz:\n\n"
            f"El estado de su solicitud n.º {ticket.number}, «Paquete perdido», ha cambiado a: Nuevo.\n\n"
            f"Puede ver los detalles aquí: http://127.0.0.1:8000/portal/tickets/{ticket.number}/\n\n"
            "Atentamente,\nBooks\n"
        ),
        "html": (
            "<p>Hola, Carmen Ruiz:</p>\n"
            f"<p>El estado de su solicitud n.º {ticket.number}, «Paquete perdido», "
            "ha cambiado a: Nuevo.</p>\n"
            f"<p>Puede ver los detalles aquí: http://127.0.0.1:8000/portal/tickets/{ticket.number}/</p>\n"
            "<p>Atentamente,<br>\nBooks</p>\n"
        ),
    }


def test_preview_of_a_draft_saves_nothing(desk: Any, api: Any, ticket: Any) -> None:
    r = api(desk.admin).post(
        "/notification-templates/ticket_received/preview",
        {
            "ticket_id": ticket.pk,
            "language": "it",
            "body_text": "Ciao {{ requester.name }}, {{ ticket.status_name }}",
        },
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["language"], body["source"], body["text"]) == ("it", "draft", "Ciao Carmen Ruiz, Nuovo")
    assert body["subject"] == f"[#{ticket.number}] Abbiamo ricevuto la sua richiesta: Paquete perdido"
    # a draft of a new key needs its subject and body
    r = api(desk.admin).post(
        "/notification-templates/order_ready/preview",
        {"ticket_id": ticket.pk, "subject": "#{{ ticket.number }}", "body_text": "Listo"},
    )
    assert (r.json()["source"], r.json()["subject"], r.json()["language"]) == (
        "draft", f"#{ticket.number}", "es"
    )  # fmt: skip
    r = api(desk.admin).post("/notification-templates/order_ready/preview", {"ticket_id": ticket.pk})
    assert r.status_code == 404
    assert not NotificationTemplate.objects.exists()


def test_preview_refuses_a_bad_draft_and_a_ticket_the_caller_cannot_read(
    desk: Any, api: Any, ticket: Any
) -> None:
    r = api(desk.agent).post(
        "/notification-templates/ticket_received/preview",
        {"ticket_id": ticket.pk, "body_text": "{% load x %}"},
    )
    assert (r.status_code, r.json()["error"]["field"]) == (422, "body_text")
    # an agent of another department, a missing ticket: the same 404
    r = api(desk.outsider).post("/notification-templates/ticket_received/preview", {"ticket_id": ticket.pk})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = api(desk.agent).post("/notification-templates/ticket_received/preview", {"ticket_id": 999_999})
    assert r.status_code == 404
    # light agents preview nothing
    r = api(desk.light).post("/notification-templates/ticket_received/preview", {"ticket_id": ticket.pk})
    assert r.status_code == 403
    r = api(desk.agent).post(
        "/notification-templates/ticket_received/preview", {"ticket_id": ticket.pk, "language": "de"}
    )
    assert (r.status_code, r.json()["error"]["field"]) == (422, "language")
