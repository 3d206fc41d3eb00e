"""`docs/notifications.md` is a fixture: its template saves and renders as shown, its rule sends
what it says, and it documents every key and every name a template may read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.notifications.context import NAMES
from sportello.notifications.defaults import KEYS
from sportello.notifications.rendering import render_notification
from sportello.notifications.services import template_save
from sportello.outbox.models import OutboxMessage
from testing import NOW

DOC = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text(encoding="utf-8")
YAML = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
TEXT = re.findall(r"```text\n(.*?)```", DOC, flags=re.S)


def test_the_page_documents_every_key_and_every_name() -> None:
    for key in KEYS:
        assert f"| `{key}` |" in DOC, key
    for name in NAMES:
        assert f"| `{name}` |" in DOC, name


def test_the_example_template_saves_and_renders_as_shown(desk: Any, open_ticket: Any) -> None:
    from sportello.contacts.services import contact_create

    # given the page's Italian text for shipment_status, saved as an admin would
    example = yaml.safe_load(next(b for b in YAML if "body_text" in b))
    template_save(
        key=example["key"], language=example["language"], subject=example["subject"],
        body_text=example["body_text"], actor=desk.admin, now=NOW,
    )  # fmt: skip
    # when it is rendered for an Italian customer's ticket shipped by BRT, without tracking number
    giulia = contact_create(email="giulia@cliente.test", name="Giulia Bianchi", language="it")
    ticket = open_ticket(giulia, subject="Ordine 5531").ticket
    ticket.custom_fields = {"carrier": "BRT"}
    ticket.save(update_fields=["custom_fields"])
    out = render_notification(key="shipment_status", ticket=ticket, now=NOW)
    # then the text is the page's
    n = ticket.number
    shown = TEXT[0].replace("n. 1 (", f"n. {n} (").replace("/tickets/1/", f"/tickets/{n}/")
    assert (out.language, out.text) == ("it", shown)
    assert out.subject == f"[#{n}] La sua spedizione è partita"
    # and with a tracking number, its line appears
    ticket.custom_fields = {"carrier": "BRT", "tracking_number": "BRT-778"}
    ticket.save(update_fields=["custom_fields"])
    text = render_notification(key="shipment_status", ticket=ticket, now=NOW).text
    assert "affidato a BRT.\nNumero di tracciamento: BRT-778\n\nStato della richiesta: Nuovo." in text


def test_the_example_rule_acknowledges_a_customers_ticket_in_their_language(
    desk: Any, carmen: Any, open_ticket: Any
) -> None:
    document = yaml.safe_load(next(b for b in YAML if "event_rules" in b))
    assert document["schema"] == "sportello/rules/v1"
    rule_save(kind=RuleKind.EVENT, definition=document["event_rules"][0], created_by=desk.admin, now=NOW)
    ticket = open_ticket(carmen, subject="Factura").ticket
    (mail,) = OutboxMessage.objects.filter(ticket=ticket, kind="email")
    assert (mail.payload["to"], mail.payload["subject"]) == (
        ["carmen@cliente.test"],
        f"[#{ticket.number}] Hemos recibido su solicitud: Factura",
    )
