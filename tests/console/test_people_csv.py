"""The Console's CSV files of customers: exports streamed as the list is searched, and the import
from upload through preview to progress and report; admins only, refusals said in words."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.test import Client

from sportello.contacts import transfer
from sportello.contacts.models import Contact, ContactImport, ImportStatus
from sportello.contacts.services import contact_create


def body(r: Any) -> str:
    assert isinstance(r, StreamingHttpResponse)
    return b"".join(r.streaming_content).decode()  # type: ignore[arg-type]


def upload(client: Client, data: bytes, name: str = "people.csv") -> Any:
    return client.post(
        "/console/people/contacts/import/", {"file": SimpleUploadedFile(name, data, "text/csv")}
    )


def test_only_admins_export_or_import(desk: Any, browser: Any, settings: Any) -> None:
    settings.DEBUG = False
    for path in (
        "/console/people/contacts/export.csv",
        "/console/people/organizations/export.csv",
        "/console/people/contacts/import/",
    ):
        assert browser(desk.agent).get(path).status_code == 403
        assert browser(desk.light).get(path).status_code == 403
        assert Client().get(path).status_code == 302
        assert browser(desk.admin).get(path).status_code == 200
    r = upload(browser(desk.agent), b"email\nx@y.test\n")
    assert r.status_code == 403
    assert not ContactImport.objects.exists()


def test_the_export_follows_the_lists_search(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.get("/console/people/contacts/export.csv?q=example")
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert r["Content-Disposition"] == 'attachment; filename="contacts.csv"'
    assert body(r).splitlines() == [
        "\ufeffemail,name,phone,organization,language,time_zone,vip",
        "bob@example.test,Bob Example,,,en,UTC,no",
    ]
    everyone = body(client.get("/console/people/contacts/export.csv")).splitlines()
    assert [line.split(",")[0] for line in everyone[1:]] == ["alice@acme.test", "bob@example.test"]
    orgs = body(client.get("/console/people/organizations/export.csv")).splitlines()
    assert orgs == ["\ufeffname,domains,tier,vip,notes", "Acme,acme.test,gold,yes,"]
    page = client.get("/console/people/contacts/?q=example").content.decode()
    assert "/console/people/contacts/export.csv?q=example" in page


def test_the_export_reads_a_fixed_number_of_statements(
    desk: Any, browser: Any, django_assert_num_queries: Any
) -> None:
    for i in range(30):
        contact_create(email=f"c{i}@acme.test", name=f"C {i}")
    client = browser(desk.admin)
    client.get("/console/people/contacts/")
    r = client.get("/console/people/contacts/export.csv")
    # the session and the user, then the contacts with their organizations in one read
    with django_assert_num_queries(1):
        lines = body(r).splitlines()
    assert len(lines) == 33


def test_an_upload_is_previewed_then_imported_with_its_report(
    desk: Any, browser: Any, frozen_clock: Any
) -> None:
    client = browser(desk.admin)
    data = b"email;name;phone;favourite colour\nnew@example.test;New;+39 1;red\nbad;Bad;;blue\n"
    r = upload(client, data)
    imp = ContactImport.objects.get()
    assert r.status_code == 302
    assert r["Location"] == f"/console/people/contacts/import/{imp.pk}/"
    page = client.get(r["Location"]).content.decode()
    assert "favourite colour: not imported" in page
    assert "Line 3:" in page
    assert "The e-mail address is not valid." in page
    assert "Import 1 row" in page
    assert not Contact.objects.filter(email="new@example.test").exists()
    r = client.post(f"/console/people/contacts/import/{imp.pk}/start/")
    assert r.status_code == 302
    assert ContactImport.objects.get().status == ImportStatus.QUEUED
    waiting = client.get(f"/console/people/contacts/import/{imp.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in waiting
    assert "Waiting for the worker to start the import…" in waiting
    transfer.contact_import_run(import_id=imp.pk, now=lambda: frozen_clock)
    done = client.get(f"/console/people/contacts/import/{imp.pk}/progress/").content.decode()
    assert "hx-trigger" not in done  # the page stops asking
    assert "Done: 2 rows read." in done
    assert f"/console/people/contacts/import/{imp.pk}/skipped.csv" in done
    assert "Line 3: The e-mail address is not valid." in done
    skipped = body(client.get(f"/console/people/contacts/import/{imp.pk}/skipped.csv"))
    assert skipped.splitlines() == ["\ufeffline,reason", "3,email: must be a valid e-mail address"]
    assert Contact.objects.get(email="new@example.test").phone == "+39 1"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"email\n\xff\xfe\n", "This file is not UTF-8 text."),
        (b"colour,size\nred,2\n", "No column for the e-mail address or the phone"),
        (b"", "The submitted file is empty."),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(
    desk: Any, browser: Any, data: bytes, error: str
) -> None:
    r = upload(browser(desk.admin), data)
    assert r.status_code == 422
    assert error in r.content.decode()
    assert not ContactImport.objects.exists()


def test_an_oversized_file_is_refused(desk: Any, browser: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "CONTACTS_IMPORT_MAX_BYTES": 1024}
    r = upload(browser(desk.admin), b"email\n" + b"someone@example.test\n" * 100)
    assert r.status_code == 422
    assert "This file is too large to import at once." in r.content.decode()
    assert not ContactImport.objects.exists()


def test_the_polled_progress_reads_one_row(
    desk: Any, browser: Any, frozen_clock: Any, django_assert_num_queries: Any
) -> None:
    imp = ContactImport.objects.create(
        text="email\na@b.test\n", status=ImportStatus.RUNNING, total=10, done=4, created_at=frozen_clock
    )
    client = browser(desk.admin)
    client.get("/console/people/contacts/")
    # session, user, the import
    with django_assert_num_queries(3):
        r = client.get(f"/console/people/contacts/import/{imp.pk}/progress/")
    html = r.content.decode()
    assert "4 of 10 rows (40%)" in html
    assert 'value="40"' in html


def test_the_reasons_of_skipped_rows_read_in_the_admins_language() -> None:
    from django.utils import translation

    from sportello.console.people.transfer import reason_text

    with translation.override("es"):
        assert reason_text("vip: vip must be yes or no, not 'x'") == "VIP debe ser yes o no, no 'x'."
        assert reason_text("email: must be a valid e-mail address") == (
            "La dirección de correo electrónico no es válida."
        )
    with translation.override("it"):
        assert (
            reason_text("the row is longer than 4000 characters") == "La riga è più lunga di 4000 caratteri."
        )
    assert reason_text("time_zone: unknown time zone 'Mars'") == "time_zone: unknown time zone 'Mars'"
