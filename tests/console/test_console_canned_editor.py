"""The Console's canned response editor: admins only; created with title, text, language and
sharing; a bad value refused beside its field with the typed text kept; a preview of the unsaved
text on a ticket (nothing written); a stale save or delete refused (409) with the text kept; a
title taken for the owner and language refused; delete behind a confirmation page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.notifications.canned import canned_create, canned_fingerprint, canned_update
from sportello.notifications.models import CannedResponse


@pytest.fixture
def shared(desk: Any, now: Any) -> Any:
    return canned_create(
        actor=desk.admin,
        title="Order number, please",
        body="Hello {{ requester.name }}, could you send us your order number?",
        department_id=desk.books.pk,
        now=now,
    )


def form(**overrides: str) -> dict[str, str]:
    data = {
        "title": "Thanks",
        "body": "Thank you, {{ requester.name }}.",
        "language": "",
        "shared_with": "",
        "expected": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_agents_get_the_403_page(desk: Any, browser: Any, settings: Any, shared: Any, role: str) -> None:
    settings.DEBUG = False
    client = browser(getattr(desk, role))
    for path in (
        "/console/canned-responses/new/",
        f"/console/canned-responses/{shared.pk}/edit/",
        f"/console/canned-responses/{shared.pk}/delete/",
    ):
        assert client.get(path).status_code == 403
        assert client.post(path, form(expected=canned_fingerprint(shared))).status_code == 403
    assert CannedResponse.objects.get(pk=shared.pk).title == "Order number, please"


def test_the_signed_out_go_to_the_login_page(db: Any) -> None:
    r = Client().get("/console/canned-responses/new/")
    assert r.status_code == 302
    assert r["Location"] == "/login/?next=/console/canned-responses/new/"


def test_the_new_form_has_the_placeholder_picker(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/canned-responses/new/").content.decode()
    assert 'data-placeholder="requester.name"' in html
    assert "console/macros.js" in html
    assert f'<option value="{desk.books.pk}">Department Books</option>' in html
    assert '<option value="it">Italian</option>' in html


def test_an_admin_creates_a_shared_canned_response(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        "/console/canned-responses/new/", form(language="it", shared_with=str(desk.books.pk))
    )
    assert r.status_code == 302
    canned = CannedResponse.objects.get()
    assert r["Location"] == f"/console/canned-responses/{canned.pk}/"
    assert (canned.title, canned.body, canned.language, canned.owner_department_id, canned.owner_user_id) == (
        "Thanks",
        "Thank you, {{ requester.name }}.",
        "it",
        desk.books.pk,
        None,
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "c-title-error"),
        ({"body": ""}, "c-body-error"),
        ({"body": "Hello {{ requester.name "}, "c-body-error"),
        ({"language": "xx"}, "c-language-error"),
        ({"shared_with": "999999"}, "c-shared-error"),
    ],
)
def test_a_bad_value_is_shown_by_its_field_with_the_text_kept(
    desk: Any, browser: Any, overrides: dict[str, str], field: str
) -> None:
    r = browser(desk.admin).post("/console/canned-responses/new/", form(**{"title": "Kept", **overrides}))
    assert r.status_code == 422
    html = r.content.decode()
    assert f'id="{field}"' in html
    if "title" not in overrides:
        assert 'value="Kept"' in html
    assert not CannedResponse.objects.exists()


def test_a_title_taken_for_the_owner_and_language_is_refused(desk: Any, browser: Any, shared: Any) -> None:
    client = browser(desk.admin)
    r = client.post(
        "/console/canned-responses/new/",
        form(title="order number, PLEASE", shared_with=str(desk.books.pk), body="Mine"),
    )
    assert r.status_code == 409
    html = r.content.decode()
    assert 'id="c-title-error"' in html
    assert "Mine" in html
    # another language, or another owner, is another response
    assert (
        client.post(
            "/console/canned-responses/new/", form(title="Order number, please", language="it")
        ).status_code
        == 302
    )
    assert CannedResponse.objects.count() == 2


def test_a_preview_of_the_unsaved_text_writes_nothing(
    desk: Any, browser: Any, shared: Any, open_ticket: Any
) -> None:
    ticket = open_ticket("Parcel")
    client = browser(desk.admin)
    data = {**form(body="Dear {{ requester.name }}, noted."), "do": "preview", "ticket": str(ticket.number)}
    r = client.post(f"/console/canned-responses/{shared.pk}/edit/", data, headers={"HX-Request": "true"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "Dear Alice Acme, noted." in html
    assert "<html" not in html
    r = client.post(f"/console/canned-responses/{shared.pk}/edit/", data)
    assert "Dear Alice Acme, noted." in r.content.decode()
    assert 'id="canned-form"' in r.content.decode()
    assert CannedResponse.objects.get(pk=shared.pk).body.startswith("Hello")
    r = client.post(
        "/console/canned-responses/new/",
        {**form(), "do": "preview", "ticket": "abc"},
        headers={"HX-Request": "true"},
    )
    assert "Type a ticket number, such as 1024." in r.content.decode()


def test_an_edit_saves_and_can_make_it_personal(desk: Any, browser: Any, shared: Any) -> None:
    client = browser(desk.admin)
    html = client.get(f"/console/canned-responses/{shared.pk}/edit/").content.decode()
    assert f'name="expected" value="{canned_fingerprint(shared)}"' in html
    r = client.post(
        f"/console/canned-responses/{shared.pk}/edit/",
        form(title="Order number", body="Your order number?", expected=canned_fingerprint(shared)),
    )
    assert r.status_code == 302
    shared.refresh_from_db()
    assert (shared.title, shared.body, shared.owner_user_id, shared.owner_department_id) == (
        "Order number",
        "Your order number?",
        desk.admin.pk,
        None,
    )


def test_a_stale_save_is_refused_with_the_text_kept(desk: Any, browser: Any, shared: Any, now: Any) -> None:
    loaded = canned_fingerprint(shared)
    canned_update(actor=desk.agent, canned_id=shared.pk, body="Theirs", now=now)
    r = browser(desk.admin).post(
        f"/console/canned-responses/{shared.pk}/edit/",
        form(title="Order number, please", body="Mine", shared_with=str(desk.books.pk), expected=loaded),
    )
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone changed this canned response while you were editing." in html
    assert ">Mine</textarea>" in html
    assert "Theirs" in html
    shared.refresh_from_db()
    assert shared.body == "Theirs"
    assert f'name="expected" value="{canned_fingerprint(shared)}"' in html


def test_delete_asks_first_then_deletes(desk: Any, browser: Any, shared: Any) -> None:
    client = browser(desk.admin)
    html = client.get(f"/console/canned-responses/{shared.pk}/delete/").content.decode()
    assert "Delete canned response “Order number, please”?" in html
    assert CannedResponse.objects.filter(pk=shared.pk).exists()
    r = client.post(
        f"/console/canned-responses/{shared.pk}/delete/", {"expected": canned_fingerprint(shared)}
    )
    assert r.status_code == 302
    assert r["Location"] == "/console/canned-responses/"
    assert not CannedResponse.objects.filter(pk=shared.pk).exists()
    assert client.get(f"/console/canned-responses/{shared.pk}/delete/").status_code == 404


def test_a_stale_delete_is_refused(desk: Any, browser: Any, shared: Any, now: Any) -> None:
    loaded = canned_fingerprint(shared)
    canned_update(actor=desk.agent, canned_id=shared.pk, title="Renamed", now=now)
    r = browser(desk.admin).post(f"/console/canned-responses/{shared.pk}/delete/", {"expected": loaded})
    assert r.status_code == 409
    assert "It was changed since you opened this page" in r.content.decode()
    assert CannedResponse.objects.filter(pk=shared.pk).exists()


def test_the_detail_links_to_edit_and_delete(desk: Any, browser: Any, shared: Any) -> None:
    html = browser(desk.admin).get(f"/console/canned-responses/{shared.pk}/").content.decode()
    assert f'href="/console/canned-responses/{shared.pk}/edit/"' in html
    assert f'href="/console/canned-responses/{shared.pk}/delete/"' in html
