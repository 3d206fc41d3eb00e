"""Contacts and organizations to and from CSV files.

**Export** (`contact_csv_lines`, `organization_csv_lines`): a header, then one line per row read
in chunks (`QuerySet.iterator`), so a response streams in constant memory. UTF-8 with a byte-order
mark (spreadsheets then read it as UTF-8), comma-separated, quoted where needed. A cell that a
spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
is written with a leading apostrophe (CSV injection); the import takes the apostrophe off again,
so an exported file imports as it was. Columns: `CONTACT_COLUMNS` (`vip` is `yes`/`no`, the
organization its name) and `ORGANIZATION_COLUMNS` (`domains` separated by spaces).

**Import** (`read_file`, `parse_row`, `import_rows`): the file is refused whole (ValidationFailed)
when it is larger than `SPORTELLO["CONTACTS_IMPORT_MAX_BYTES"]`, has more rows than
`CONTACTS_IMPORT_MAX_ROWS`, is not UTF-8 (a byte-order mark is fine), or has no column for an
e-mail address or a phone. The separator (`,` `;` tab or `|`) is detected, the columns are mapped
by their header's name in English, Spanish or Italian (`detect_mapping`). Each row is then its
own transaction: a bad row (line number and reason reported) never undoes a good one. A row whose
address is known (a contact's, or a merged contact's) updates that contact, a row with only a
phone updates the contact without an address that has it, any other row creates a contact;
updates take the row's non-empty cells only. An organization named but unknown is created.
Importing the same file twice creates nothing the second time.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from sportello.accounts.models import User
from sportello.core.errors import Conflict, DomainError, ValidationFailed

from .models import Contact, ContactImport, ImportStatus, Organization
from .services import (
    UNSET,
    contact_by_email,
    contact_create,
    contact_update,
    normalise_email,
    organization_create,
    require_writer,
)

CONTACT_COLUMNS = ("email", "name", "phone", "organization", "language", "time_zone", "vip")
ORGANIZATION_COLUMNS = ("name", "domains", "tier", "vip", "notes")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CHUNK = 1000
ROW_MAX_CHARS = 4000  # a longer row is skipped, not imported cut
PROGRESS_EVERY = 50  # rows between two progress reports
SKIPPED_KEPT = 10_000  # skipped rows whose reason the report keeps (all are counted)
DELIMITERS = ",;\t|"

# Header names (as `_normal` makes them) → field.
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "correo", "correoelectronico", "posta", "postaelettronica"),
    "name": ("name", "fullname", "contact", "contactname", "nombre", "nome", "nominativo"),
    "phone": ("phone", "phonenumber", "telephone", "tel", "mobile", "telefono", "cellulare", "movil"),
    "organization": (
        "organization",
        "organisation",
        "organizationname",
        "company",
        "org",
        "organizacion",
        "empresa",
        "organizzazione",
        "azienda",
    ),
    "language": ("language", "lang", "locale", "idioma", "lingua"),
    "time_zone": ("timezone", "tz", "zonahoraria", "fusoorario"),
    "vip": ("vip",),
}
TRUE = {"yes", "y", "true", "1", "x", "si", "sí", "vip"}
FALSE = {"no", "n", "false", "0", ""}


# --- export ------------------------------------------------------------------------------------


def csv_cell(value: str) -> str:
    """`value` as a spreadsheet reads it as text: a leading apostrophe before a formula start."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def uncell(value: str) -> str:
    """The value `csv_cell` wrote (and a spreadsheet's own apostrophe-escaped text)."""
    return value[1:] if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r" else value


class _Line:
    """A file-like that hands back what the csv writer writes (one line at a time)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(v) for v in row])


def contact_csv_lines(qs: QuerySet[Contact]) -> Iterator[str]:
    rows = (
        [
            c.email,
            c.name,
            c.phone,
            c.organization.name if c.organization is not None else "",
            c.language,
            c.time_zone,
            "yes" if c.vip else "no",
        ]
        for c in qs.select_related("organization").iterator(chunk_size=EXPORT_CHUNK)
    )
    return csv_lines(CONTACT_COLUMNS, rows)


def organization_csv_lines(qs: QuerySet[Organization]) -> Iterator[str]:
    rows = (
        [o.name, " ".join(o.domains or []), o.tier, "yes" if o.vip else "no", o.notes]
        for o in qs.iterator(chunk_size=EXPORT_CHUNK)
    )
    return csv_lines(ORGANIZATION_COLUMNS, rows)


# --- import: reading ---------------------------------------------------------------------------


def limits() -> tuple[int, int]:
    cfg = settings.SPORTELLO
    return int(cfg["CONTACTS_IMPORT_MAX_BYTES"]), int(cfg["CONTACTS_IMPORT_MAX_ROWS"])


def decode(data: bytes) -> str:
    """The file's text; refused when too large or not UTF-8."""
    max_bytes, _rows = limits()
    if len(data) > max_bytes:
        raise ValidationFailed(
            f"the file is {len(data)} bytes; at most {max_bytes} are imported at once",
            field="file",
            code="too_large",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"the file is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8",
            field="file",
            code="not_utf8",
        ) from None
    if "\x00" in text:
        raise ValidationFailed("the file is not CSV text", field="file", code="not_csv")
    return text


def _normal(name: str) -> str:
    """A header's name lower-cased, without accents, spaces, dashes, dots or underscores."""
    bare = unicodedata.normalize("NFKD", name.strip().lower())
    return "".join(c for c in bare if c not in " -_." and not unicodedata.combining(c))


def detect_mapping(header: Sequence[str]) -> dict[str, int]:
    """Field → column index, from the header's names (the first column of each field wins)."""
    out: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _normal(uncell(name))
        for field_name, names in HEADER_NAMES.items():
            if key in names and field_name not in out:
                out[field_name] = index
    return out


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass(frozen=True, slots=True)
class Table:
    header: list[str]
    delimiter: str
    mapping: dict[str, int]
    rows: list[tuple[int, list[str]]]  # (line of the row's start, cells)


def read_table(text: str) -> Table:
    """The file's header and rows (each with the line it starts on); refused when it has no
    rows, more than the limit, or no column for an address or a phone."""
    _bytes, max_rows = limits()
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    line = 1
    try:
        for cells in reader:
            if header is None:
                header = [c.strip() for c in cells]
            elif any(c.strip() for c in cells):
                rows.append((line, cells))
                if len(rows) > max_rows:
                    raise ValidationFailed(
                        f"the file has more than {max_rows} rows: split it",
                        field="file",
                        code="too_many_rows",
                    )
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ValidationFailed(f"line {line}: {exc}", field="file", code="not_csv") from None
    if header is None:
        raise ValidationFailed("the file is empty", field="file", code="empty")
    mapping = detect_mapping(header)
    if "email" not in mapping and "phone" not in mapping:
        raise ValidationFailed(
            "no column for the e-mail address or the phone: name one “email” or “phone” in the first row",
            field="file",
            code="no_columns",
        )
    return Table(header=header, delimiter=delimiter, mapping=mapping, rows=rows)


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    email: str = ""
    name: str = ""
    phone: str = ""
    organization: str = ""
    language: str = ""
    time_zone: str = ""
    vip: bool | None = None


def parse_row(line: int, cells: Sequence[str], mapping: dict[str, int]) -> ImportRow:
    """One row's values (ValidationFailed names what is wrong with it)."""
    if sum(len(c) for c in cells) > ROW_MAX_CHARS:
        raise ValidationFailed(f"the row is longer than {ROW_MAX_CHARS} characters", field="row")

    def get(name: str) -> str:
        index = mapping.get(name)
        return uncell(cells[index].strip()) if index is not None and index < len(cells) else ""

    raw_email = get("email")
    email = normalise_email(raw_email) if raw_email else ""
    phone = get("phone")
    if not email and not phone:
        raise ValidationFailed("no e-mail address and no phone", field="email")
    vip_text = get("vip").lower()
    if vip_text and vip_text not in TRUE and vip_text not in FALSE:
        raise ValidationFailed(f"vip must be yes or no, not {vip_text[:20]!r}", field="vip")
    return ImportRow(
        line=line,
        email=email,
        name=get("name"),
        phone=phone,
        organization=get("organization"),
        language=get("language"),
        time_zone=get("time_zone"),
        vip=(vip_text in TRUE) if vip_text else None,
    )


# --- import: writing ---------------------------------------------------------------------------

CREATED, UPDATED = "created", "updated"


def _organization(name: str, cache: dict[str, Organization], actor: User | None) -> Organization:
    key = name.strip().lower()
    found = cache.get(key) or Organization.objects.filter(name__iexact=name.strip()).first()
    if found is None:
        try:
            found = organization_create(name=name, actor=actor)
        except Conflict:  # created meanwhile
            found = Organization.objects.get(name__iexact=name.strip())
    cache[key] = found
    return found


def _existing(row: ImportRow) -> Contact | None:
    if row.email:
        return contact_by_email(row.email)
    return Contact.objects.filter(email="", phone=" ".join(row.phone.split())).first()


def contact_import_row(
    *, row: ImportRow, actor: User | None, organizations: dict[str, Organization], dry_run: bool = False
) -> str:
    """Create or update the row's contact (one transaction); `CREATED` or `UPDATED`. A dry run
    only says which it would be."""
    existing = _existing(row)
    if dry_run:
        return UPDATED if existing is not None else CREATED
    with transaction.atomic():
        org = _organization(row.organization, organizations, actor) if row.organization else None
        if existing is None:
            try:
                with transaction.atomic():
                    contact_create(
                        email=row.email,
                        name=row.name,
                        phone=row.phone,
                        language=row.language or None,  # none given: the desk's default
                        time_zone=row.time_zone or "UTC",
                        vip=bool(row.vip),
                        organization=org,
                        actor=actor,
                    )
                return CREATED
            except Conflict:  # the same contact created meanwhile (another import): update it
                existing = _existing(row)
                if existing is None:
                    raise
        contact_update(
            contact=existing,
            actor=actor,
            name=row.name or None,
            phone=row.phone or None,
            language=row.language or None,
            time_zone=row.time_zone or None,
            vip=row.vip,
            organization=org if org is not None else UNSET,
        )
        return UPDATED


@dataclass(slots=True)
class Report:
    total: int
    done: int = 0
    created: int = 0
    updated: int = 0
    skipped_count: int = 0
    skipped: list[list[Any]] = field(default_factory=list)  # [line, reason]

    def skip(self, line: int, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < SKIPPED_KEPT:
            self.skipped.append([line, reason])


def import_rows(
    table: Table,
    *,
    actor: User | None,
    dry_run: bool = False,
    on_progress: Callable[[Report], None] | None = None,
) -> Report:
    """Import every row of `table` (see the module's docstring); `on_progress` is called every
    `PROGRESS_EVERY` rows and at the end."""
    report = Report(total=len(table.rows))
    organizations: dict[str, Organization] = {}
    for line, cells in table.rows:
        try:
            row = parse_row(line, cells, table.mapping)
            outcome = contact_import_row(row=row, actor=actor, organizations=organizations, dry_run=dry_run)
        except DomainError as exc:
            report.skip(
                line, f"{exc.field}: {exc.message}" if exc.field and exc.field != "row" else exc.message
            )
        else:
            if outcome == CREATED:
                report.created += 1
            else:
                report.updated += 1
        report.done += 1
        if on_progress is not None and report.done % PROGRESS_EVERY == 0:
            on_progress(report)
    if on_progress is not None:
        on_progress(report)
    return report


def eta(*, started_at: datetime | None, done: int, total: int, now: datetime) -> timedelta | None:
    """The time left at the pace so far (None before the first row)."""
    if started_at is None or done <= 0 or done >= total:
        return None
    elapsed = (now - started_at).total_seconds()
    return timedelta(seconds=round(elapsed / done * (total - done)))


# --- import: the upload, its preview and its background run ------------------------------------


@dataclass(frozen=True, slots=True)
class Preview:
    table: Table
    rows: list[tuple[int, ImportRow | None, str]]  # the first rows: (line, row, error)
    errors: list[tuple[int, str]]  # every row that would be skipped for its content
    error_count: int


PREVIEW_ROWS = 10
PREVIEW_ERRORS = 50


def contact_import_preview(imp: ContactImport) -> Preview:
    table = read_table(imp.text)
    shown: list[tuple[int, ImportRow | None, str]] = []
    errors: list[tuple[int, str]] = []
    count = 0
    for i, (line, cells) in enumerate(table.rows):
        try:
            row: ImportRow | None = parse_row(line, cells, table.mapping)
            error = ""
        except DomainError as exc:
            row, error = None, exc.message
            count += 1
            if len(errors) < PREVIEW_ERRORS:
                errors.append((line, error))
        if i < PREVIEW_ROWS:
            shown.append((line, row, error))
    return Preview(table=table, rows=shown, errors=errors, error_count=count)


def contact_import_upload(*, actor: User | None, filename: str, data: bytes, now: datetime) -> ContactImport:
    """Keep an uploaded file for its preview (refused whole when it cannot be imported)."""
    require_writer(actor)
    text = decode(data)
    table = read_table(text)
    return ContactImport.objects.create(
        created_by_id=actor.pk if actor is not None else None,
        filename=filename[:255],
        text=text,
        mapping=table.mapping,
        total=len(table.rows),
        created_at=now,
    )


def contact_import_run(*, import_id: int, now: Callable[[], datetime]) -> ContactImport | None:
    """Run a queued import, reporting its progress on its row (the worker's job). Run again after
    a crash it starts over, which changes nothing already imported."""
    claimed = ContactImport.objects.filter(
        pk=import_id, status__in=(ImportStatus.QUEUED, ImportStatus.RUNNING)
    ).update(status=ImportStatus.RUNNING, started_at=now(), done=0, created=0, updated=0, skipped_count=0)
    if not claimed:
        return None
    imp = ContactImport.objects.get(pk=import_id)
    actor = User.objects.filter(pk=imp.created_by_id).first() if imp.created_by_id else None

    def progress(report: Report) -> None:
        ContactImport.objects.filter(pk=import_id).update(
            done=report.done,
            created=report.created,
            updated=report.updated,
            skipped_count=report.skipped_count,
        )

    try:
        report = import_rows(read_table(imp.text), actor=actor, on_progress=progress)
    except Exception as exc:
        ContactImport.objects.filter(pk=import_id).update(
            status=ImportStatus.FAILED, error=str(exc)[:2000], finished_at=now()
        )
        raise
    ContactImport.objects.filter(pk=import_id).update(
        status=ImportStatus.DONE,
        total=report.total,
        done=report.done,
        created=report.created,
        updated=report.updated,
        skipped_count=report.skipped_count,
        skipped=report.skipped,
        finished_at=now(),
    )
    return ContactImport.objects.get(pk=import_id)


def skipped_csv_lines(imp: ContactImport) -> Iterator[str]:
    return csv_lines(("line", "reason"), ([str(line), reason] for line, reason in imp.skipped))
