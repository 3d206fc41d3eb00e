"""Contacts in the Console, in a real browser: an admin merges a duplicate into a contact from its
page (picked among the likely duplicates, confirmed after reading what moves), and imports a CSV
file: the preview, then the import's progress polled to its report. Every page has no
accessibility violations and fits a 390 px wide phone."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_an_admin_merges_a_duplicate_contact(
    desk: Any, page: Any, sign_in: Any, url: Any, open_ticket: Any
) -> None:
    from sportello.contacts.models import Contact
    from sportello.contacts.services import contact_create
    from sportello.tickets.models import Ticket

    twin = contact_create(email="alice.acme@home.test", name="Alice Acme", phone="+39 02 555")
    ticket = open_ticket("Parcel never came", requester=twin)
    sign_in(page, desk.admin)
    page.goto(url(f"/console/people/contacts/{desk.alice.pk}/"))
    # the contact's page suggests the twin
    duplicates = page.get_by_role("region", name="Likely duplicates")
    assert "alice.acme@home.test" in duplicates.inner_text()
    assert_accessible(page, context="a contact with a likely duplicate")
    page.get_by_role("link", name="Merge a duplicate…").click()
    page.get_by_role("heading", name="Merge a duplicate into Alice Acme").wait_for()
    page.get_by_label("Search by name, e-mail or phone").fill("home.test")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("heading", name="Matching contacts").wait_for()
    assert_accessible(page, context="the duplicate picker")
    shot(page, "console-contact-merge-pick")
    page.get_by_role("link", name="Merge Alice Acme into this contact").first.click()
    page.get_by_role("heading", name="Merge Alice Acme into Alice Acme?").wait_for()
    body = page.locator("main").inner_text()
    assert "1 ticket" in body
    assert "+39 02 555" in body  # the phone Alice takes
    assert_accessible(page, context="the merge confirmation")
    shot(page, "console-contact-merge-confirm")
    page.get_by_role("button", name="Merge", exact=True).click()
    page.get_by_text("Merged into “Alice Acme”: the duplicate is gone.").wait_for()
    assert not Contact.objects.filter(pk=twin.pk).exists()
    assert Ticket.objects.get(pk=ticket.pk).requester_id == desk.alice.pk
    assert Contact.objects.get(pk=desk.alice.pk).phone == "+39 02 555"


def test_an_admin_imports_a_csv_and_watches_it_to_the_end(
    desk: Any, page: Any, sign_in: Any, url: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    from sportello.contacts import transfer
    from sportello.contacts.models import Contact, ContactImport
    from sportello.core.worker import Runner

    rows = [f"person{i}@import.test,Person {i},+39 06 {1000 + i}" for i in range(40)]
    path = tmp_path / "people.csv"
    path.write_text("email,name,phone\n" + "\n".join([*rows, "not-an-address,Broken,"]) + "\n")
    # each row takes a moment, so the page shows the import half done on its way
    real = transfer.contact_import_row
    monkeypatch.setattr(transfer, "PROGRESS_EVERY", 5)

    def slow(**kw: Any) -> str:
        time.sleep(0.05)
        return real(**kw)

    monkeypatch.setattr(transfer, "contact_import_row", slow)
    sign_in(page, desk.admin)
    page.goto(url("/console/people/contacts/"))
    page.get_by_role("link", name="Import (CSV)").click()
    page.get_by_role("heading", name="Import contacts").wait_for()
    assert_accessible(page, context="the import form")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("heading", name="Preview of people.csv").wait_for()
    assert "Line 42:" in page.locator("main").inner_text()
    assert_accessible(page, context="the import preview")
    shot(page, "console-contact-import-preview")
    page.get_by_role("button", name="Import 40 rows").click()
    page.get_by_text("Waiting for the worker to start the import…").wait_for()
    # the worker picks the job up
    worker = threading.Thread(target=lambda: Runner(batch=True, heartbeat_thread=False).run_once())
    worker.start()
    try:
        page.get_by_text("of 41 rows").wait_for(timeout=15_000)
        assert_accessible(page, context="the import under way")
        shot(page, "console-contact-import-progress")
        page.get_by_text("Done: 41 rows read.").wait_for(timeout=30_000)
    finally:
        worker.join(timeout=60)
    report = page.locator(".people-report").inner_text()
    assert "Created\n40" in report
    assert "Skipped\n1" in report
    assert_accessible(page, context="the import's report")
    shot(page, "console-contact-import-report")
    assert Contact.objects.filter(email__endswith="@import.test").count() == 40
    imp = ContactImport.objects.get()
    assert page.get_by_role("link", name="Download the skipped rows (CSV)").get_attribute("href") == (
        f"/console/people/contacts/import/{imp.pk}/skipped.csv"
    )


def test_the_merge_and_import_pages_fit_a_phone(desk: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    from sportello.contacts.models import ContactImport
    from sportello.contacts.services import contact_create
    from sportello.core import clock

    contact_create(email="alice.acme@home.test", name="Alice Acme")
    done = ContactImport.objects.create(
        filename="a-rather-long-file-name-for-a-phone-screen.csv",
        text="email\n",
        status="done",
        total=3,
        done=3,
        created=1,
        updated=1,
        skipped_count=1,
        skipped=[[3, "email: must be a valid e-mail address"]],
        created_at=clock.now(),
        finished_at=clock.now(),
    )
    preview = ContactImport.objects.create(
        filename="people.csv",
        text="email,name,phone,organization,vip\nann@x.test,Ann,+39 1,Acme,yes\nbad,Bad,,,\n",
        created_at=clock.now(),
        total=2,
    )
    sign_in(phone_page, desk.admin)
    for name, path in (
        ("contact", f"/console/people/contacts/{desk.alice.pk}/"),
        ("contact-merge-pick", f"/console/people/contacts/{desk.alice.pk}/merge/?q=acme"),
        ("contact-merge-confirm", f"/console/people/contacts/{desk.alice.pk}/merge/{desk.bob.pk}/"),
        ("contact-import", "/console/people/contacts/import/"),
        ("contact-import-preview", f"/console/people/contacts/import/{preview.pk}/"),
        ("contact-import-report", f"/console/people/contacts/import/{done.pk}/"),
    ):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
        shot(phone_page, f"console-{name}-phone")
