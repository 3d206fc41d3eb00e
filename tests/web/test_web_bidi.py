"""Bidirectional controls in single-line text: a right-to-left override in a subject, a name or
a tag reorders what follows it ("invoice\u202efdp.exe" reads "invoiceexe.pdf") and, left
unbalanced, the page around it. Labels are stored without them; user text on the page is
isolated with <bdi>."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.core.text import label_text

RLO, LRE, RLI, PDI, RLM = "\u202e", "\u202a", "\u2067", "\u2069", "\u200f"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (f"Refund for invoice{RLO}fdp.exe", "Refund for invoicefdp.exe"),
        (f"{LRE}Ann{PDI} {RLI}Smith", "Ann Smith"),
        ("Line\none\r\n\ttwo\u2028three", "Line one two three"),
        ("bell\x07 and\x85next \x9bcsi", "bell and next csi"),
        (f"שלום{RLM} world", f"שלום{RLM} world"),  # a mark reorders nothing and stays
    ],
)
def test_a_label_keeps_no_control_or_override_characters(raw: str, label: str) -> None:
    assert label_text(raw) == label


def test_subjects_names_and_tags_are_stored_without_overrides(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    # a contact, an organization and an agent named with overrides
    contact = client.post("/contacts", {"email": "eve@example.test", "name": f"Eve{RLO} Evil"}).json()
    assert contact["name"] == "Eve Evil"
    org = client.post("/organizations", {"name": f"{RLI}Globex{PDI}"}).json()
    assert org["name"] == "Globex"
    agent = client.post("/agents", {"email": "new@desk.test", "name": f"New{RLO}Agent"}).json()
    assert agent["name"] == "NewAgent"
    # a ticket whose subject and tags carry them
    r = client.post(
        "/tickets",
        {
            "subject": f"Invoice {RLO}fdp.exe",
            "description": f"The body keeps what was written: {RLO}as is",
            "department_id": desk.books.pk,
            "requester_id": contact["id"],
            "tags": [f"vip{RLO}", f"{LRE}refund"],
        },
    )
    assert r.status_code == 201
    ticket = r.json()
    assert ticket["subject"] == "Invoice fdp.exe"
    assert sorted(ticket["tags"]) == ["refund", "vip"]
    r = client.patch(f"/tickets/{ticket['id']}", {"subject": f"Again {RLI}x", "version": ticket["version"]})
    assert r.json()["subject"] == "Again x"


def test_the_agent_ui_shows_no_override_and_isolates_user_text(
    desk: Any, api: Any, browser: Any, open_ticket: Any
) -> None:
    # given a ticket opened with overrides in its subject and tags
    ticket = open_ticket(f"Refund {RLO}gnp.exe", tags=[f"{RLO}urgent"], description="Please refund.")
    # when an agent opens it, and the queue
    page = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    queue = browser(desk.agent).get("/").content.decode()
    # then no override reaches the page, and the subject, names and tags are isolated
    assert [c for c in page + queue if c in BIDI_CONTROLS] == []
    assert '<span class="num">#' in page
    assert "</span> <bdi>Refund gnp.exe</bdi></h1>" in page
    assert '<bdi class="tag">urgent</bdi>' in page
    assert "<bdi>Alice Acme</bdi>" in page
    assert "<bdi>Refund gnp.exe</bdi>" in queue
    assert "<bdi>Alice Acme</bdi>" in queue
    assert "<bdi>Acme</bdi>" in queue
