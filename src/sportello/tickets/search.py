"""Full-text search over tickets: the index the pipeline keeps, the query parser, the search.

One document per ticket (`TicketSearchDocument`): the subject, the text custom fields, the public
conversation and the internal notes, each in its own column so a customer's search never looks
at notes. Text is case-folded and accent-folded in English, Spanish and Italian alike ("café"
matches "cafe"). Each backend has its own index and query path:

- PostgreSQL: text search configuration `sportello_search` (`simple` + `unaccent`), two stored
  weighted `tsvector` documents (subject A, messages B, fields C) with a GIN index each:
  `doc_public` (what customers search) and `doc_all` (with internal notes; what agents
  search). Ranked with `ts_rank` over the newest matches only (`RANK_WINDOW`),
  excerpts with `ts_headline`. New messages are appended to the documents: the rest of the
  conversation is never re-parsed.
- SQLite: an external-content FTS5 table over the document table
  (`unicode61 remove_diacritics 2`); ranked with `bm25`, excerpts with `snippet`.

User input never reaches FTS syntax: `query_parse` turns it into terms, and each backend builds
its query from the terms, passing every piece of user text as a bound parameter (PostgreSQL:
`plainto_tsquery`/`phraseto_tsquery` per term; SQLite: each term as an FTS5 string).

Snippets are HTML: everything is escaped except `<mark>`…`</mark>` around matched words.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, QuerySet, TextField
from django.db.models.expressions import RawSQL

from sportello.contacts.models import Contact
from sportello.core.errors import ValidationFailed

from .configuration import configuration
from .models import FieldType, Message, StatusCategory, Ticket, TicketSearchDocument
from .selectors import Principal, ticket_scope

TS_CONFIG = "sportello_search"  # created by migration 0003
FTS_TABLE = "tickets_search_fts"  # created by migration 0003 (SQLite)
DOC_TABLE = TicketSearchDocument._meta.db_table

# Budgets that keep one ticket's index bounded (a PostgreSQL tsvector holds at most 1 MB):
# the first 150,000 characters of a conversation are searchable, at most 50,000 per message.
MESSAGE_CHARS_MAX = 150_000
MESSAGE_PART_MAX = 50_000
FIELDS_CHARS_MAX = 10_000

QUERY_MAX_CHARS = 256
QUERY_MAX_TERMS = 12
PREFIX_MIN_CHARS = 2
LIMIT_DEFAULT = 20
LIMIT_MAX = 100
OFFSET_MAX = 10_000

# Private-use characters mark matches inside the database's excerpt; they are removed from
# indexed text, so only the database can put them there.
_MARK_START, _MARK_END = "\ue000", "\ue001"
_UNMARK = {ord(_MARK_START): " ", ord(_MARK_END): " "}
_TEXT_FIELD_TYPES = (FieldType.TEXT, FieldType.LONG_TEXT)
_SEPARATOR = "\n\n"  # between messages

# A search ranks at most this many matches: the newest ones (highest ticket ids). A word found
# in half the tickets would otherwise be ranked half a million times; see ADR 0002.
RANK_WINDOW = 1_000

# The two stored documents a search can look at (migration 0005), each with its GIN index.
_PG_PUBLIC_DOC = "doc_public"
_PG_ALL_DOC = "doc_all"
_PG_HEADLINE_OPTIONS = (
    f"StartSel={_MARK_START}, StopSel={_MARK_END}, MaxFragments=2, MaxWords=18, MinWords=6, "
    'FragmentDelimiter=" … "'
)
_FTS_PUBLIC_COLUMNS = "{subject public_text fields_text}"
# bm25 weights per FTS5 column: subject, public_text, internal_text, fields_text.
_FTS_WEIGHTS_AGENT = "10.0, 4.0, 4.0, 2.0"
_FTS_WEIGHTS_CUSTOMER = "10.0, 4.0, 0.0, 2.0"
_FTS_SNIPPET_TOKENS = 16


# --------------------------------------------------------------------------------------------
# Indexing (called by the pipeline, inside its transaction, with the ticket row locked)


def ticket_reindex(
    *,
    ticket: Ticket,
    new_messages: Sequence[Message] = (),
    created: bool,
    changed: Collection[str] | None = None,
) -> None:
    """Bring the ticket's search document up to date after one mutation.

    Cheap on purpose: the subject and text fields are rewritten only when they changed, and a new
    messages' text is appended; earlier messages are never read again. `changed` names the fields
    the mutation changed (None: unknown, check everything); a mutation that touched neither the
    subject, the custom fields nor the conversation costs no query."""
    if created:
        _document_insert(ticket=ticket, messages=list(new_messages))
        return
    fields_may_differ = changed is None or any(f.startswith("custom_fields.") for f in changed)
    if not new_messages and not fields_may_differ and "subject" not in (changed or ()):
        return
    stored = (
        TicketSearchDocument.objects.filter(pk=ticket.pk)
        .values_list("subject", "fields_text", "message_chars")
        .first()
    )
    if stored is None:  # a ticket indexed before the index existed, or after a restore
        ticket_index_rebuild(ticket=ticket)
        return
    old_subject, old_fields, used = stored
    changes: dict[str, str] = {}
    appends: dict[str, str] = {}
    subject = _clean(ticket.subject)
    if subject != old_subject:
        changes["subject"] = subject
    fields = _fields_text(ticket) if fields_may_differ else old_fields
    if fields != old_fields:
        changes["fields_text"] = fields
    added = 0
    for message in new_messages:
        part = _message_part(message.body_text, used=used + added)
        if part:
            column = "public_text" if message.public else "internal_text"
            appends[column] = appends.get(column, "") + part
            added += len(part)
    if not changes and not appends:
        return
    _document_update(ticket_id=ticket.pk, changes=changes, appends=appends, added_chars=added)


def ticket_index_rebuild(*, ticket: Ticket) -> None:
    """Rebuild one ticket's document from its subject, fields and whole conversation."""
    ticket_unindex(ticket_id=ticket.pk)
    messages = list(Message.objects.filter(ticket_id=ticket.pk).only("public", "body_text"))
    _document_insert(ticket=ticket, messages=messages)


def ticket_unindex(*, ticket_id: int) -> None:
    """Remove a ticket from the index. Call it before deleting a ticket: on SQLite the FTS5
    index must be told before its content row goes."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [ticket_id])  # noqa: S608
        cur.execute(f"DELETE FROM {DOC_TABLE} WHERE ticket_id = %s", [ticket_id])  # noqa: S608


def _clean(text: str) -> str:
    return text.translate(_UNMARK)


def _message_part(body: str, *, used: int) -> str:
    """The text of a message to index, separator included, within what is left of the budget;
    a message cut short is cut at a space, so no half word is indexed."""
    room = min(MESSAGE_PART_MAX, MESSAGE_CHARS_MAX - used) - len(_SEPARATOR)
    text = body[:room] if room > 0 else ""
    if len(body) > len(text) and text:
        text = text[: max(text.rfind(" "), text.rfind("\n"), 0)]
    return _clean(text) + _SEPARATOR if text.strip() else ""


def _fields_text(ticket: Ticket) -> str:
    values = {k: v for k, v in (ticket.custom_fields or {}).items() if isinstance(v, str) and v.strip()}
    if not values:
        return ""
    known = configuration().fields
    text_keys = {k for k in values if k in known and known[k].type in _TEXT_FIELD_TYPES}
    return _clean("\n".join(values[k] for k in sorted(values) if k in text_keys)[:FIELDS_CHARS_MAX])


def _document_insert(*, ticket: Ticket, messages: list[Message]) -> None:
    public: list[str] = []
    internal: list[str] = []
    used = 0
    for m in messages:
        part = _message_part(m.body_text, used=used)
        used += len(part)
        if part:
            (public if m.public else internal).append(part)
    row: dict[str, int | str] = {
        "ticket_id": ticket.pk,
        "subject": _clean(ticket.subject),
        "public_text": "".join(public),
        "internal_text": "".join(internal),
        "fields_text": _fields_text(ticket),
        "message_chars": used,
    }
    columns = ", ".join(row)
    placeholders = ", ".join(["%s"] * len(row))
    params = list(row.values())
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            public_doc = _pg_public_doc("%s", "%s", "%s")
            cur.execute(
                f"INSERT INTO {DOC_TABLE} ({columns}, doc_public, doc_all) "  # noqa: S608
                f"SELECT {placeholders}, v.doc, v.doc || v.notes "
                f"FROM (SELECT {public_doc} AS doc, {_pg_vector('%s', 'B')} AS notes) v",
                [*params, row["subject"], row["fields_text"], row["public_text"], row["internal_text"]],
            )
            return
        # SQLite: the document enters the FTS5 index by a trigger (migration 0015).
        cur.execute(f"INSERT INTO {DOC_TABLE} ({columns}) VALUES ({placeholders})", params)  # noqa: S608


def _pg_vector(text_sql: str, weight: str) -> str:
    return f"setweight(to_tsvector('{TS_CONFIG}', {text_sql}), '{weight}')"


def _pg_public_doc(subject_sql: str, fields_sql: str, public_sql: str) -> str:
    """The public document: subject (A), text fields (C), public messages (B), in this order.
    `doc_all` is the public document followed by the internal notes (B)."""
    return f"{_pg_vector(subject_sql, 'A')} || {_pg_vector(fields_sql, 'C')} || {_pg_vector(public_sql, 'B')}"


_TEXT_COLUMNS = ("subject", "fields_text", "public_text", "internal_text")


def _document_update(
    *, ticket_id: int, changes: dict[str, str], appends: dict[str, str], added_chars: int
) -> None:
    # Column names come from the fixed sets above; every value is a bound parameter.
    sets: list[str] = []
    params: list[Any] = []
    for column, value in changes.items():
        sets.append(f"{column} = %s")
        params.append(value)
    for column, value in appends.items():
        sets.append(f"{column} = {column} || %s")
        params.append(value)
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            # External-content FTS5: update the index first; it reads the old text from the
            # document row to remove the old tokens.
            cur.execute(f"UPDATE {FTS_TABLE} SET {', '.join(sets)} WHERE rowid = %s", [*params, ticket_id])  # noqa: S608
        if connection.vendor == "postgresql":
            sets_doc, doc_params = _pg_document_sets(changes, appends)
            sets += sets_doc
            params += doc_params
        sets.append("message_chars = message_chars + %s")
        params.append(added_chars)
        cur.execute(f"UPDATE {DOC_TABLE} SET {', '.join(sets)} WHERE ticket_id = %s", [*params, ticket_id])  # noqa: S608


def _pg_document_sets(changes: dict[str, str], appends: dict[str, str]) -> tuple[list[str], list[Any]]:
    """SET clauses for the two stored documents. A new message is parsed and appended; a new
    subject or fields text rebuilds both documents from the text columns (the right-hand sides
    of an UPDATE see the old row, so the new text is passed again)."""
    if changes:
        exprs: dict[str, tuple[str, list[Any]]] = {}
        for column in _TEXT_COLUMNS:
            if column in changes:
                exprs[column] = ("%s", [changes[column]])
            elif column in appends:
                exprs[column] = (f"({column} || %s)", [appends[column]])
            else:
                exprs[column] = (column, [])
        public_sql = _pg_public_doc(exprs["subject"][0], exprs["fields_text"][0], exprs["public_text"][0])
        public_params = [*exprs["subject"][1], *exprs["fields_text"][1], *exprs["public_text"][1]]
        internal_sql = _pg_vector(exprs["internal_text"][0], "B")
        return (
            [f"doc_public = {public_sql}", f"doc_all = {public_sql} || {internal_sql}"],
            [*public_params, *public_params, *exprs["internal_text"][1]],
        )
    sets: list[str] = []
    params: list[Any] = []
    if "public_text" in appends:
        sets.append(f"doc_public = doc_public || {_pg_vector('%s', 'B')}")
        params.append(appends["public_text"])
    added = [appends[c] for c in ("public_text", "internal_text") if c in appends]
    if added:
        sets.append("doc_all = doc_all || " + " || ".join(_pg_vector("%s", "B") for _ in added))
        params += added
    return sets, params


# --------------------------------------------------------------------------------------------
# Query parsing


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # the user's words, control characters removed, whitespace collapsed
    phrase: bool = False  # "quoted": the words in this order
    negated: bool = False  # -excluded
    prefix: bool = False  # the last word as typed: matches any word starting with it


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    terms: tuple[Term, ...]

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)

    @property
    def negative(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.negated)


def _printable(raw: str) -> str:
    # Control, format, surrogate, private-use and unassigned characters become spaces.
    return "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in raw)


def query_parse(raw: str) -> ParsedQuery:
    """Plain words (all must match), "quoted phrases", -excluded words or -"phrases"; the last
    word, when the query does not end in a space, also matches as a prefix. Anything else is
    text: there are no operators to get wrong. Raises `ValidationFailed` (field `q`)."""
    if len(raw) > QUERY_MAX_CHARS:
        raise ValidationFailed(f"must be at most {QUERY_MAX_CHARS} characters", field="q")
    text = _printable(raw)
    terms: list[Term] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
        if text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end == -1 else end
            body, phrase, i = text[i + 1 : end], True, end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] != '"':
                i += 1
            body, phrase = text[start:i], False
        words = body.split()
        if not any(ch.isalnum() for ch in body):
            continue  # punctuation alone matches nothing: drop it
        term = Term(text=" ".join(words), phrase=phrase and len(words) > 1, negated=negated)
        if term not in terms:
            terms.append(term)
    if len(terms) > QUERY_MAX_TERMS:
        raise ValidationFailed(f"use at most {QUERY_MAX_TERMS} words or phrases", field="q")
    if not any(not t.negated for t in terms):
        raise ValidationFailed("give at least one word to search for", field="q")
    last = terms[-1]
    if (
        not last.negated
        and not last.phrase
        and not text[-1:].isspace()
        and not text.endswith('"')
        and len(last.text) >= PREFIX_MIN_CHARS
        and last.text.isalnum()
    ):
        terms[-1] = Term(text=last.text, prefix=True)
    return ParsedQuery(terms=tuple(terms))


def _pg_tsquery(query: ParsedQuery) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    for term in query.terms:
        if term.prefix:
            # Only letters and digits (checked by the parser): nothing to_tsquery could parse
            # as an operator.
            sql = f"to_tsquery('{TS_CONFIG}', %s)"
            params.append(term.text + ":*")
        elif term.phrase:
            sql = f"phraseto_tsquery('{TS_CONFIG}', %s)"
            params.append(term.text)
        else:
            sql = f"plainto_tsquery('{TS_CONFIG}', %s)"
            params.append(term.text)
        parts.append(f"!!{sql}" if term.negated else sql)
    return " && ".join(parts), params


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts_words(text: str) -> list[str]:
    """The words FTS5's unicode61 tokenizer sees: runs of letters, digits and marks."""
    return "".join(ch if unicodedata.category(ch)[0] in "LNM" else " " for ch in text).split()


def _fts_term(term: Term) -> str:
    if term.phrase:
        return _fts_string(term.text)
    # A word joined by punctuation ("e-mail", "3.14") needs all its parts, in any order, as
    # plainto_tsquery does on PostgreSQL.
    parts = [_fts_string(w) for w in _fts_words(term.text) or [term.text]]
    if term.prefix:
        parts[-1] += " *"
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _fts_match(query: ParsedQuery, *, public_only: bool) -> str:
    expr = "(" + " AND ".join(_fts_term(t) for t in query.positive) + ")"
    if query.negative:
        expr += " NOT (" + " OR ".join(_fts_term(t) for t in query.negative) + ")"
    return f"{_FTS_PUBLIC_COLUMNS} : ({expr})" if public_only else expr


# --------------------------------------------------------------------------------------------
# Searching


@dataclass(frozen=True, slots=True)
class SearchHit:
    ticket: Ticket
    rank: float
    snippet: str  # HTML: escaped text with <mark>…</mark> around matches


@dataclass(frozen=True, slots=True)
class SearchResults:
    hits: list[SearchHit]
    next_offset: int | None
    # How many tickets matched, counted within the ranked window: at most `RANK_WINDOW`
    # (`capped` then says more may match). 0 when the page starts past the last match.
    total: int

    @property
    def capped(self) -> bool:
        return self.total >= RANK_WINDOW


def ticket_search(
    *,
    principal: Principal,
    q: str,
    categories: list[str] | None = None,
    department_id: int | None = None,
    limit: int = LIMIT_DEFAULT,
    offset: int = 0,
) -> tuple[list[SearchHit], int | None]:
    """Tickets `principal` may read that match `q`, best first (rank, then most recently
    updated), with the offset of the next page or None. Customers match only public text.

    Only the `RANK_WINDOW` newest matches (by ticket id) are ranked and returned: when more
    tickets match, older ones are left out (ADR 0002)."""
    results = ticket_search_results(
        principal=principal,
        q=q,
        categories=categories,
        department_id=department_id,
        limit=limit,
        offset=offset,
    )
    return results.hits, results.next_offset


def ticket_search_results(
    *,
    principal: Principal,
    q: str,
    categories: list[str] | None = None,
    department_id: int | None = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    limit: int = LIMIT_DEFAULT,
    offset: int = 0,
) -> SearchResults:
    """`ticket_search` with the Desk's extra filters (assignee, creation period) and the number
    of matches. The scope is the same (`selectors.ticket_scope`), so are the ranking and the
    snippets; the hits come with their department, assignee and requester loaded."""
    query = query_parse(q)
    if not 1 <= limit <= LIMIT_MAX:
        raise ValidationFailed(f"must be between 1 and {LIMIT_MAX}", field="limit")
    if not 0 <= offset <= OFFSET_MAX:
        raise ValidationFailed(f"must be between 0 and {OFFSET_MAX}", field="offset")
    tickets = Ticket.objects.filter(ticket_scope(principal=principal))
    if categories:
        unknown = [c for c in categories if c not in StatusCategory.values]
        if unknown:
            raise ValidationFailed(f"unknown category {unknown[0][:40]!r}", field="category")
        tickets = tickets.filter(status_category__in=categories)
    if department_id is not None:
        tickets = tickets.filter(department_id=department_id)
    if assignee_id is not None:
        tickets = tickets.filter(assignee_id=assignee_id)
    if unassigned:
        tickets = tickets.filter(assignee__isnull=True)
    if created_from is not None:
        tickets = tickets.filter(created_at__gte=created_from)
    if created_before is not None:
        tickets = tickets.filter(created_at__lt=created_before)
    public_only = isinstance(principal, Contact)
    try:
        if connection.vendor == "postgresql":
            # Unresolved tickets are few at any size (the history grows, the open work does
            # not): their scope is narrow enough to read without slicing.
            narrow = bool(categories and set(categories) <= _UNRESOLVED)
            ranked, snippets, total = _pg_search(
                query, tickets, public_only, limit, offset, sliced=not narrow
            )
        elif connection.vendor == "sqlite":
            ranked, snippets, total = _sqlite_search(query, tickets, public_only, limit, offset)
        else:  # pragma: no cover - the two supported databases are above
            raise NotImplementedError(f"search is not available on {connection.vendor}")
    except EmptyResultSet:  # the scope admits no ticket
        return SearchResults(hits=[], next_offset=None, total=0)

    next_offset = offset + limit if len(ranked) > limit else None
    ranked = ranked[:limit]
    by_id = Ticket.objects.select_related(
        "status", "department", "assignee", "requester", "organization"
    ).in_bulk([ticket_id for ticket_id, _ in ranked])
    hits = [
        SearchHit(ticket=by_id[ticket_id], rank=float(rank), snippet=snippets.get(ticket_id, ""))
        for ticket_id, rank in ranked
        if ticket_id in by_id
    ]
    return SearchResults(hits=hits, next_offset=next_offset, total=total)


# The newest document id seen by the last search of this process: where the slices are cut.
# The first search of a process reads it (one query more); every search returns it fresh. Only
# a hint: the first slice has no upper bound and the last no lower bound, so every ticket falls
# in exactly one slice whatever its value, and the window is the same whatever the cuts.
_pg_top_id: int | None = None
# Slices of the id space, newest first, as shares of the newest id: the newest 0.5%, the next
# 0.5%, then slices that double in width down to the oldest ids.
_PG_SLICE_CUTS = (0.995, 0.99, 0.98, 0.96, 0.92, 0.84, 0.68, 0.36)
# A parallel-unsafe function (migration 0005): naming it keeps the slices out of a Parallel
# Append, so they run in order and the LIMIT stops them early.
_PG_IN_ORDER = "sportello_search_in_order"
_UNRESOLVED = {StatusCategory.NEW, StatusCategory.OPEN, StatusCategory.PENDING, StatusCategory.ON_HOLD}


def _pg_slices(top: int | None) -> list[tuple[int | None, int | None]]:
    """(low, high] bounds of the id slices, newest first; None is unbounded."""
    if top is None:
        return [(None, None)]
    cuts = [int(top * c) for c in _PG_SLICE_CUTS]
    lows: list[int | None] = [*cuts, None]
    highs: list[int | None] = [None, *cuts]
    return list(zip(lows, highs, strict=True))


def _pg_search(
    query: ParsedQuery,
    tickets: QuerySet[Ticket],
    public_only: bool,
    limit: int,
    offset: int,
    *,
    sliced: bool = True,
) -> tuple[list[tuple[int, float]], dict[int, str], int]:
    """Two steps in one statement: the window (the `RANK_WINDOW` most recent matching tickets
    in scope, by ticket id), then the window ranked.

    The window is read slice by slice, newest ids first (`_pg_slices`): a `UNION ALL` of one
    query per slice under a `LIMIT`, which PostgreSQL runs in order and stops as soon as the
    window is full. In a slice the planner can combine the GIN index with the primary key's
    range, so a frequent word reads only the newest documents and a rare word reads only its
    few matches. The tsquery is built from constants, so the planner folds it and estimates from
    the column's statistics how many documents match. Unsliced (one branch), the planner may
    start from the tickets instead: better when the scope is narrow (unresolved tickets)."""
    global _pg_top_id
    tsquery, tsquery_params = _pg_tsquery(query)
    doc = _PG_PUBLIC_DOC if public_only else _PG_ALL_DOC
    # The document table is joined by the ORM (`search_document`), under its own name, so the
    # ticket scope stays exactly `selectors.ticket_scope` with its joins.
    matches = (
        tickets.filter(search_document__isnull=False)
        .filter(RawSQL(f'"{DOC_TABLE}"."{doc}" @@ ({tsquery})', tsquery_params, output_field=BooleanField()))  # noqa: S611 - fixed SQL; user text is bound
        .annotate(doc=RawSQL(f'"{DOC_TABLE}"."{doc}"', [], output_field=TextField()))  # noqa: S611 - fixed SQL
        .order_by("-pk")
    )
    if _pg_top_id is None:  # the first search of this process
        with connection.cursor() as cur:
            cur.execute(f"SELECT max(ticket_id) FROM {DOC_TABLE}")  # noqa: S608 - fixed SQL
            _pg_top_id = cur.fetchone()[0]
    branches: list[str] = []
    window_params: list[Any] = []
    for low, high in _pg_slices(_pg_top_id if sliced else None):
        part = matches
        # The bounds go on the document only: the planner then reads the slice's matches from
        # the document table and looks their tickets up, instead of walking every ticket in
        # the slice to merge-join them.
        if low is not None:
            part = part.filter(search_document__pk__gt=low)
        if high is not None:
            part = part.filter(search_document__pk__lte=high)
        sql, params = part.values_list("pk", "updated_at", "doc").query.sql_with_params()
        branches.append(f"({sql})")
        window_params += params
    ranked_sql = (
        f"SELECT w.id, ts_rank(w.doc::tsvector, {tsquery}) AS rank, "  # noqa: S608 - fixed SQL; user text is bound
        f"(SELECT max(ticket_id) FROM {DOC_TABLE}) AS top, count(*) OVER () AS total "
        f"FROM (SELECT * FROM ({' UNION ALL '.join(branches)}) u LIMIT %s) w(id, updated_at, doc) "
        f"WHERE {_PG_IN_ORDER}() "
        "ORDER BY rank DESC, w.updated_at DESC, w.id DESC LIMIT %s OFFSET %s"
    )
    text = "d.subject || E'\\n' || d.fields_text || E'\\n' || d.public_text"
    if not public_only:
        text += " || d.internal_text"
    with connection.cursor() as cur:
        cur.execute(ranked_sql, [*tsquery_params, *window_params, RANK_WINDOW, limit + 1, offset])
        rows = cur.fetchall()
        ranked = [(int(r[0]), float(r[1])) for r in rows]
        total = int(rows[0][3]) if rows else 0
        if rows:
            _pg_top_id = int(rows[0][2])
        page_ids = [ticket_id for ticket_id, _ in ranked[:limit]]
        if not page_ids:
            return ranked, {}, total
        cur.execute(
            f"WITH q AS (SELECT {tsquery} AS query) "  # noqa: S608 - fixed SQL; user text is bound
            f"SELECT d.ticket_id, ts_headline('{TS_CONFIG}', {text}, q.query, %s) "
            f"FROM {DOC_TABLE} d CROSS JOIN q WHERE d.ticket_id = ANY(%s)",
            [*tsquery_params, _PG_HEADLINE_OPTIONS, page_ids],
        )
        snippets = {int(r[0]): _snippet_html(r[1] or "") for r in cur.fetchall()}
    return ranked, snippets, total


def _sqlite_search(
    query: ParsedQuery,
    tickets: QuerySet[Ticket],
    public_only: bool,
    limit: int,
    offset: int,
) -> tuple[list[tuple[int, float]], dict[int, str], int]:
    scope_sql, scope_params = tickets.values("pk").query.sql_with_params()
    match = _fts_match(query, public_only=public_only)
    weights = _FTS_WEIGHTS_CUSTOMER if public_only else _FTS_WEIGHTS_AGENT
    ranked_sql = (
        # The same window as on PostgreSQL: the newest matches by ticket id, then ranked.
        "SELECT w.id, w.rank, count(*) OVER () FROM ("  # noqa: S608 - fixed SQL; user text is bound
        f"SELECT {FTS_TABLE}.rowid AS id, -bm25({FTS_TABLE}, {weights}) AS rank, t.updated_at "
        f"FROM {FTS_TABLE} JOIN tickets_ticket t ON t.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH %s AND {FTS_TABLE}.rowid IN ({scope_sql}) "
        f"ORDER BY {FTS_TABLE}.rowid DESC LIMIT %s"
        ") w ORDER BY w.rank DESC, w.updated_at DESC, w.id DESC LIMIT %s OFFSET %s"
    )
    # Columns to excerpt, in order of preference when they match equally well.
    columns = [1, 3, 0] if public_only else [1, 2, 3, 0]
    marks = f"'{_MARK_START}', '{_MARK_END}', '…', {_FTS_SNIPPET_TOKENS}"
    snippet_sql = ", ".join(f"snippet({FTS_TABLE}, {c}, {marks})" for c in columns)
    with connection.cursor() as cur:
        cur.execute(ranked_sql, [match, *scope_params, RANK_WINDOW, limit + 1, offset])
        rows = cur.fetchall()
        ranked = [(int(r[0]), float(r[1])) for r in rows]
        total = int(rows[0][2]) if rows else 0
        page_ids = [ticket_id for ticket_id, _ in ranked[:limit]]
        if not page_ids:
            return ranked, {}, total
        cur.execute(
            f"SELECT rowid, {snippet_sql} FROM {FTS_TABLE} "  # noqa: S608 - fixed SQL; user text is bound
            f"WHERE {FTS_TABLE} MATCH %s AND rowid IN ({', '.join(['%s'] * len(page_ids))})",
            [match, *page_ids],
        )
        snippets = {int(r[0]): _snippet_html(_best_excerpt(r[1:])) for r in cur.fetchall()}
    return ranked, snippets, total


def _best_excerpt(excerpts: tuple[str | None, ...]) -> str:
    """The excerpt with the most highlighted words; the earlier column wins a tie."""
    best, best_marks = "", -1
    for excerpt in excerpts:
        text = (excerpt or "").strip()
        if not text:
            continue
        marks = text.count(_MARK_START)
        if marks > best_marks:
            best, best_marks = text, marks
    return best


def _snippet_html(raw: str) -> str:
    """Escape the excerpt, then turn the database's match markers into <mark> elements."""
    escaped = html.escape(" ".join(raw.split()), quote=True)
    return escaped.replace(_MARK_START, "<mark>").replace(_MARK_END, "</mark>")
