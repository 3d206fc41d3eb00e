"""Contacts to and from CSV (`contacts.transfer`): an export imports back as the same contacts,
hostile files are refused whole or row by row with the reason, formulas never reach a
spreadsheet as formulas, and the import is idempotent on the e-mail address."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from sportello.contacts import importing, transfer
from sportello.contacts.models import Contact, ContactImport, ImportStatus, Organization
from sportello.contacts.services import contact_create, contact_merge, organization_create
from sportello.core.errors import PermissionDenied, ValidationFailed

FIELDS = ("email", "name", "phone", "organization__name", "language", "time_zone", "vip")


def everyone() -> list[tuple[Any, ...]]:
    return sorted(Contact.objects.values_list(*FIELDS), key=repr)


def export() -> str:
    return "".join(transfer.contact_csv_lines(Contact.objects.all()))


def run(text: str, *, actor: Any = None, dry_run: bool = False) -> transfer.Report:
    return transfer.import_rows(
        transfer.read_table(transfer.decode(text.encode())), actor=actor, dry_run=dry_run
    )


@pytest.mark.django_db
def test_an_export_imports_into_an_empty_desk_as_the_same_contacts() -> None:
    # given contacts with every kind of value, hostile ones included
    acme = organization_create(name='Acme; Inc, "the" best')
    contact_create(
        email="ann@acme.test", name='Ann, "Annie"', phone="+39 02 123", organization=acme, vip=True
    )
    contact_create(email="ben@example.test", name='=HYPERLINK("http://x")', phone="-5")
    contact_create(phone="+1 555 0100", name="@caller\nwith a newline")
    c = contact_create(email="zoe@example.test", name="Zoë Ünïcode 日本")
    c.language, c.time_zone = "it", "Europe/Rome"
    c.save()
    before = everyone()
    text = export()
    # when the desk is emptied and the file imported
    Contact.objects.all().delete()
    Organization.objects.all().delete()
    report = run(text)
    # then the same contacts exist, their organization re-created by name
    assert (report.created, report.updated, report.skipped_count) == (4, 0, 0)
    assert everyone() == before
    # and importing it again changes nothing and creates nothing
    again = run(text)
    assert (again.created, again.updated, again.skipped_count) == (0, 4, 0)
    assert everyone() == before


@pytest.mark.django_db
def test_formulas_are_written_as_text() -> None:
    contact_create(email="eve@example.test", name="=cmd|' /C calc'!A0", phone="+39 1")
    lines = export().splitlines()
    assert lines[0] == "\ufeffemail,name,phone,organization,language,time_zone,vip"
    assert lines[1] == "eve@example.test,'=cmd|' /C calc'!A0,'+39 1,,en,UTC,no"
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert transfer.csv_cell(f"{start}x") == f"'{start}x"
        assert transfer.uncell(transfer.csv_cell(f"{start}x")) == f"{start}x"
    assert transfer.csv_cell("plain") == "plain"
    assert transfer.uncell("'quoted") == "'quoted"  # an apostrophe of the data itself stays


@pytest.mark.django_db
def test_semicolons_a_bom_and_header_names_in_other_languages() -> None:
    text = (
        "\ufeffCorreo electrónico;Nombre;Teléfono;Empresa;VIP\r\n"
        "ana@ejemplo.test;Ana;+34 91 1;Ejemplo SA;sí\r\n"
    )
    table = transfer.read_table(transfer.decode(text.encode()))
    assert table.delimiter == ";"
    assert table.mapping == {"email": 0, "name": 1, "phone": 2, "organization": 3, "vip": 4}
    report = run(text)
    assert report.created == 1
    ana = Contact.objects.get(email="ana@ejemplo.test")
    assert (ana.name, ana.phone, ana.organization.name if ana.organization else None, ana.vip) == (
        "Ana",
        "+34 91 1",
        "Ejemplo SA",
        True,
    )


@pytest.mark.django_db
def test_bad_rows_are_skipped_with_their_line_and_the_good_ones_kept() -> None:
    text = (
        "email,name,vip\n"
        "good@example.test,Good,no\n"
        "not-an-address,Bad,no\n"
        '"multi@example.test","Two\nlines",yes\n'
        ",Nobody,no\n"
        "vip@example.test,Vip,perhaps\n"
        f"long@example.test,{'x' * 5000},no\n"
        "last@example.test,Last,\n"
    )
    report = run(text)
    assert (report.total, report.created, report.updated) == (7, 3, 0)
    assert report.skipped == [
        [3, "email: must be a valid e-mail address"],
        [6, "email: no e-mail address and no phone"],
        [7, "vip: vip must be yes or no, not 'perhaps'"],
        [8, "the row is longer than 4000 characters"],
    ]
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "good@example.test",
        "last@example.test",
        "multi@example.test",
    ]
    assert Contact.objects.get(email="multi@example.test").vip is True


@pytest.mark.django_db
def test_an_existing_address_is_updated_with_the_rows_non_empty_cells_only() -> None:
    ann = contact_create(email="ann@acme.test", name="Ann", phone="+39 1")
    report = run("email,name,phone,language\nANN@acme.test,,+39 2,it\n")
    assert (report.created, report.updated) == (0, 1)
    ann.refresh_from_db()
    assert (ann.name, ann.phone, ann.language) == ("Ann", "+39 2", "it")


@pytest.mark.django_db
def test_a_merged_address_updates_the_contact_it_was_merged_into(now: datetime) -> None:
    ann = contact_create(email="ann@acme.test", name="Ann")
    old = contact_create(email="ann.old@acme.test", name="Old Ann")
    contact_merge(actor=None, source_id=old.pk, target_id=ann.pk, now=now)
    report = run("email,phone\nann.old@acme.test,+39 7\n")
    assert (report.created, report.updated) == (0, 1)
    assert Contact.objects.get().phone == "+39 7"


@pytest.mark.django_db
def test_a_dry_run_writes_nothing() -> None:
    contact_create(email="ann@acme.test")
    report = run("email,name\nann@acme.test,Ann\nnew@acme.test,New\nbad,Bad\n", dry_run=True)
    assert (report.created, report.updated, report.skipped_count) == (1, 1, 1)
    assert list(Contact.objects.values_list("email", "name")) == [("ann@acme.test", "")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"email,name\n\xff\xfe broken,x\n", "not_utf8"),
        (b"", "empty"),
        (b"first,second\nx,y\n", "no_columns"),
        (b"email\x00\n", "not_csv"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_whole(data: bytes, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        transfer.read_table(transfer.decode(data))
    assert exc.value.code == code


@pytest.mark.django_db
def test_oversized_files_are_refused(settings: Any) -> None:
    settings.SPORTELLO = {
        **settings.SPORTELLO,
        "CONTACTS_IMPORT_MAX_BYTES": 100,
        "CONTACTS_IMPORT_MAX_ROWS": 2,
    }
    with pytest.raises(ValidationFailed) as exc:
        transfer.decode(b"email\n" + b"a@b.test\n" * 20)
    assert exc.value.code == "too_large"
    with pytest.raises(ValidationFailed) as exc:
        transfer.read_table("email\na@b.test\nc@d.test\ne@f.test\n")
    assert exc.value.code == "too_many_rows"


def test_the_eta_follows_the_pace_so_far(now: datetime) -> None:
    start = now - timedelta(seconds=10)
    assert transfer.eta(started_at=start, done=100, total=300, now=now) == timedelta(seconds=20)
    assert transfer.eta(started_at=start, done=0, total=300, now=now) is None
    assert transfer.eta(started_at=start, done=300, total=300, now=now) is None


def test_an_uploaded_file_is_previewed_queued_once_and_run_to_a_report(desk: Any, now: datetime) -> None:
    data = b"email,name\nnew1@example.test,New One\nbroken,Broken\nbob@example.test,Bob B\n"
    imp = transfer.contact_import_upload(actor=desk.admin, filename="people.csv", data=data, now=now)
    preview = transfer.contact_import_preview(imp)
    assert [(line, row.email if row else None, error) for line, row, error in preview.rows] == [
        (2, "new1@example.test", ""),
        (3, None, "must be a valid e-mail address"),
        (4, "bob@example.test", ""),
    ]
    assert (preview.error_count, imp.total, imp.status) == (1, 3, ImportStatus.PREVIEW)
    importing.contact_import_start(actor=desk.admin, import_id=imp.pk, now=now)
    importing.contact_import_start(actor=desk.admin, import_id=imp.pk, now=now)
    assert DBTaskResult.objects.filter(args_kwargs__kwargs__import_id=imp.pk).count() == 1
    done = transfer.contact_import_run(import_id=imp.pk, now=lambda: now)
    assert done is not None
    assert (done.status, done.total, done.done, done.created, done.updated, done.skipped_count) == (
        ImportStatus.DONE,
        3,
        3,
        1,
        1,
        1,
    )
    assert done.skipped == [[3, "email: must be a valid e-mail address"]]
    assert "".join(transfer.skipped_csv_lines(done)).splitlines() == [
        "\ufeffline,reason",
        "3,email: must be a valid e-mail address",
    ]
    assert Contact.objects.get(email="bob@example.test").name == "Bob B"
    # a finished import does not run again
    assert transfer.contact_import_run(import_id=imp.pk, now=lambda: now) is None
    assert ContactImport.objects.get(pk=imp.pk).created == 1


def test_light_agents_import_nothing(desk: Any, now: datetime) -> None:
    with pytest.raises(PermissionDenied):
        transfer.contact_import_upload(actor=desk.light, filename="x.csv", data=b"email\na@b.test\n", now=now)


def test_the_command_imports_a_file_with_progress(desk: Any, tmp_path: Any, capsys: Any) -> None:
    from django.core.management import call_command

    path = tmp_path / "people.csv"
    path.write_bytes(b"email,name\nnew@example.test,New\nbob@example.test,Bob B\nbad,Bad\n")
    call_command("contacts", "import", str(path), "--dry-run")
    out = capsys.readouterr()
    assert "skipped line 4: email: must be a valid e-mail address" in out.out
    assert "3 rows in" in out.out
    assert "1 would be created, 1 would be updated, 1 skipped." in out.out
    assert "Dry run: 3/3 rows (100.0%)" in out.err
    assert not Contact.objects.filter(email="new@example.test").exists()
    call_command("contacts", "import", str(path))
    out = capsys.readouterr()
    assert "1 created, 1 updated, 1 skipped." in out.out
    assert Contact.objects.get(email="bob@example.test").name == "Bob B"


def test_the_command_refuses_a_file_it_cannot_import(desk: Any, tmp_path: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    path = tmp_path / "people.csv"
    path.write_bytes(b"email\n\xff\n")
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("contacts", "import", str(path))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("contacts", "import", str(tmp_path / "missing.csv"))
