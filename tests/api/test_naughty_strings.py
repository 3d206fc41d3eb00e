"""Naughty strings in every text field of the ticket API.

The corpus is the vendored Big List of Naughty Strings (tests/data/blns.json, MIT) plus
tests/data/naughty_extra.json. For each string and each field the API must never answer 5xx;
every 4xx carries the JSON error shape; every 2xx stores exactly what a read returns, modulo
the documented normalisation:

- subject: whitespace runs folded to one space, ends trimmed (`" ".join(s.split())`);
- tags: trimmed, lower-cased, inner whitespace runs joined with `_`;
- message HTML: sanitised (`core.text.sanitize_html`); a blank text body is derived from it;
- requester e-mail: trimmed and lower-cased; requester name: whitespace folded like subject.

NUL characters and lone surrogates are refused (422) everywhere, identically on SQLite and
PostgreSQL. Bodies are sent as raw bytes: UTF-8 when the string can be encoded, otherwise JSON
with `\\ud800`-style escapes, exactly as a hostile client would send them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sportello.core.text import sanitize_html
from sportello.engine.text import html_to_text

DATA = Path(__file__).resolve().parent.parent / "data"
MESSAGE_MAX = 200_000
SCHEMA_SUBJECT_MAX = 10_000
SUBJECT_MAX = 250
TAG_MAX = 80
TEXT_FIELD_MAX = 1_000
LONG_TEXT_FIELD_MAX = 50_000
QUERY_MAX = 2_000


def _expand(item: Any) -> str:
    if isinstance(item, str):
        return item
    return str(item.get("prefix", "")) + str(item["repeat"]) * int(item["times"])


def load_corpus() -> list[str]:
    strings: list[str] = []
    for name in ("blns.json", "naughty_extra.json"):
        doc = json.loads((DATA / name).read_text(encoding="ascii"))
        strings += [_expand(s) for s in doc["strings"]]
    return list(dict.fromkeys(strings))


CORPUS = load_corpus()


# --------------------------------------------------------------------------------------------
# What the server is documented to do with a string


def encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(s: str) -> bool:
    return "\x00" not in s and encodable(s)


# A single-line label drops C0/C1 controls that are not whitespace and the bidirectional
# embeddings, overrides and isolates, then folds whitespace (docs/api.md).
LABEL_DROP = {chr(c) for c in (*range(32), 0x7F, *range(0x80, 0xA0)) if not chr(c).isspace()} | set(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def fold(s: str) -> str:
    return " ".join("".join(c for c in s if c not in LABEL_DROP).split())


def expected_subject(s: str) -> str | None:
    if len(s) > SCHEMA_SUBJECT_MAX or not storable(s) or not fold(s) or len(fold(s)) > SUBJECT_MAX:
        return None
    return fold(s)


def expected_tag(s: str) -> str | None:
    if not storable(s):
        return None
    tag = "_".join(fold(s).lower().split())
    if not tag or len(tag) > TAG_MAX or "," in tag:
        return None
    return tag


def expected_text_field(s: str) -> str | None:
    if not storable(s) or len(s) > TEXT_FIELD_MAX or "\n" in s or "\r" in s:
        return None
    return s


def expected_long_text_field(s: str) -> str | None:
    return s if storable(s) and len(s) <= LONG_TEXT_FIELD_MAX else None


def expected_message(text: str, html: str) -> tuple[str, str] | None:
    """(body, body_html) as stored, or None when the message is refused."""
    if not storable(text) or not storable(html) or len(text) > MESSAGE_MAX or len(html) > MESSAGE_MAX:
        return None
    clean_html = sanitize_html(html) if html.strip() else ""
    body = text
    if not body.strip() and clean_html:
        body = html_to_text(clean_html)
    if not body.strip():
        return None
    return body, clean_html


# --------------------------------------------------------------------------------------------
# Transport


def encode(payload: Any) -> bytes:
    raw = json.dumps(payload, ensure_ascii=False)
    if encodable(raw):
        return raw.encode("utf-8")
    return json.dumps(payload, ensure_ascii=True).encode("ascii")


class Failures:
    """Collects every violation so one run reports them all."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, s: str, detail: str) -> None:
        self.items.append(f"{where} with {s[:60]!r} (len {len(s)}): {detail}")

    def check(self) -> None:
        assert not self.items, f"{len(self.items)} failures:\n" + "\n".join(self.items[:60])


def shape_ok(r: Any) -> str | None:
    """None when the response is a 2xx or a well-formed JSON error; else what is wrong."""
    if r.status_code >= 500:
        return f"status {r.status_code}: {r.content[:300]!r}"
    if 200 <= r.status_code < 300:
        return None
    if r.get("Content-Type") != "application/json":
        return f"status {r.status_code} with Content-Type {r.get('Content-Type')}"
    try:
        err = r.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"status {r.status_code} without an error object: {r.content[:200]!r}"
    if not isinstance(err.get("code"), str) or not isinstance(err.get("message"), str) or "field" not in err:
        return f"malformed error {err!r}"[:300]
    return None


class Sender:
    def __init__(self, client: Any, failures: Failures) -> None:
        self.client = client
        self.failures = failures

    def send(self, method: str, path: str, payload: Any, *, where: str, s: str) -> Any:
        fn = getattr(self.client.client, method)
        r = fn(
            f"/api/v1{path}",
            data=encode(payload),
            content_type="application/json",
            headers=self.client.headers,
        )
        problem = shape_ok(r)
        if problem:
            self.failures.add(where, s, problem)
        return r


def expect(
    failures: Failures,
    where: str,
    s: str,
    r: Any,
    accepted: bool,
    field: str | None,
    check: Callable[[], Any],
) -> None:
    """`accepted`: the documented rules say this value is valid. On 2xx run `check`."""
    ok = 200 <= r.status_code < 300
    if ok != accepted:
        detail = r.content[:200] if not ok else b"accepted"
        failures.add(where, s, f"expected {'2xx' if accepted else '422'}, got {r.status_code} {detail!r}")
        return
    if ok:
        try:
            check()
        except AssertionError as exc:
            failures.add(where, s, f"round trip: {exc}"[:400])
    elif r.status_code == 422 and field is not None:
        got = r.json()["error"]["field"]
        if got != field and not (got or "").startswith(field):
            failures.add(where, s, f"error field {got!r}, expected {field!r}")


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def note_fields(desk: Any) -> None:
    from sportello.tickets.models import CustomField, LayoutField

    for key, type_ in (("note", "text"), ("details", "long_text")):
        f = CustomField.objects.create(key=key, label=key.title(), type=type_)
        LayoutField.objects.create(department=desk.books, field=f)


def base_ticket(desk: Any, i: int) -> dict[str, Any]:
    return {
        "subject": "Naughty",
        "description": "plain",
        "department_id": desk.books.pk,
        "requester_email": f"n{i}@naughty.test",
        "requester_name": "N",
    }


# --------------------------------------------------------------------------------------------
# POST /tickets


def test_naughty_strings_in_every_field_of_ticket_create(desk: Any, api: Any, note_fields: None) -> None:
    """Per string: one request carrying it in every field where the rules accept it (all must
    round-trip), and one request per field where they refuse it (each must be a 422 naming it)."""
    from sportello.contacts.models import Contact
    from sportello.tickets.models import Message

    failures = Failures()
    sender = Sender(api(desk.agent), failures)
    created: dict[int, tuple[str, dict[str, Any]]] = {}
    want_messages: dict[int, tuple[str, str]] = {}
    want_names: dict[int, str] = {}
    seq = iter(range(1, 10**6))

    for s in CORPUS:
        text_ok = expected_message(s, "") is not None
        html_ok = expected_message("", s) is not None
        name_ok = storable(s) and len(s) <= 200 and len(fold(s)) <= 200
        units: list[tuple[str, dict[str, Any], bool]] = [
            ("subject", {"subject": s}, expected_subject(s) is not None),
            ("tags", {"tags": [s]}, expected_tag(s) is not None),
            ("custom_fields.note", {"custom_fields": {"note": s}}, expected_text_field(s) is not None),
            (
                "custom_fields.details",
                {"custom_fields": {"details": s}},
                expected_long_text_field(s) is not None,
            ),
            ("requester_name", {"requester_name": s}, name_ok),
            ("description", {"description": s}, text_ok),
            ("description_html", {"description": "", "description_html": s}, html_ok),
        ]
        merged: dict[str, Any] = {**base_ticket(desk, next(seq)), "custom_fields": {}}
        for _, over, ok in units:
            if ok:
                for k, v in over.items():
                    if k == "custom_fields":
                        merged["custom_fields"].update(v)
                    elif not (k == "description" and v == "" and text_ok):
                        merged[k] = v
        if any(ok for _, _, ok in units):
            r = sender.send("post", "/tickets", merged, where="create/accepted", s=s)
            if r.status_code != 201:
                failures.add("create/accepted", s, f"refused {r.status_code} {r.content[:200]!r}")
            else:
                t = r.json()
                created[t["id"]] = (s, t)
                want_messages[t["id"]] = expected_message(  # type: ignore[assignment]
                    merged["description"], merged.get("description_html", "")
                )
                if name_ok:
                    want_names[t["requester_id"]] = fold(s)
                got, want = (
                    (t["subject"], t["tags"], t["custom_fields"]),
                    (
                        expected_subject(s) if expected_subject(s) is not None else "Naughty",
                        [expected_tag(s)] if expected_tag(s) is not None else [],
                        {
                            k: v
                            for k, v in (
                                ("note", expected_text_field(s)),
                                ("details", expected_long_text_field(s)),
                            )
                            if v
                        },
                    ),
                )
                if got != want:
                    failures.add("create/accepted", s, f"stored {got!r:.200} expected {want!r:.200}")
        for field, over, ok in units:
            if ok:
                continue
            r = sender.send(
                "post", "/tickets", {**base_ticket(desk, next(seq)), **over}, where=f"create/{field}", s=s
            )
            if (
                field == "description_html"
                and r.status_code == 422
                and r.json()["error"]["field"] == "description"
            ):
                continue  # HTML that sanitises to nothing leaves the description without a body
            expect(failures, f"create/{field}", s, r, False, field, lambda: None)

        # Enumerated and identity fields: almost always refused, never a 5xx.
        for field in ("status", "priority", "requester_email"):
            r = sender.send(
                "post", "/tickets", {**base_ticket(desk, next(seq)), field: s}, where=f"create/{field}", s=s
            )
            if r.status_code == 201:
                t = r.json()
                stored = (
                    Contact.objects.get(pk=t["requester_id"]).email
                    if field == "requester_email"
                    else t[field]
                )
                wanted = s.strip().lower() if field == "requester_email" else s
                if stored != wanted:
                    failures.add(f"create/{field}", s, f"stored {stored!r}")

    # What was stored is what a read returns.
    client = api(desk.agent)
    listed: dict[int, Any] = {}
    cursor = None
    while True:
        page = client.get("/tickets", {"limit": 200, **({"cursor": cursor} if cursor else {})}).json()
        listed.update({t["id"]: t for t in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            break
    for ticket_id, (s, t) in created.items():
        if listed.get(ticket_id) != t:
            failures.add("list", s, "the listing differs from the create response")
    first = {m.ticket_id: (m.body_text, m.body_html) for m in Message.objects.filter(ticket_id__in=created)}
    for ticket_id, bodies in want_messages.items():
        if first[ticket_id] != bodies:
            failures.add("description", created[ticket_id][0], f"stored {first[ticket_id]!r:.200}")
    for contact_id, name in want_names.items():
        stored = Contact.objects.get(pk=contact_id).name
        if stored != name:
            failures.add("requester_name", name, f"stored {stored!r}")
    failures.check()
    assert len(created) > len(CORPUS) // 2


def test_naughty_message_bodies_round_trip(desk: Any, api: Any) -> None:
    failures = Failures()
    client = api(desk.agent)
    sender = Sender(client, failures)
    ticket = client.post(
        "/tickets",
        {
            "subject": "Messages",
            "description": "first",
            "department_id": desk.books.pk,
            "requester_id": desk.bob.pk,
        },
    ).json()
    path = f"/tickets/{ticket['id']}/messages"
    stored: dict[int, tuple[str, str]] = {}

    for s in CORPUS:
        attempts = [("message/both", s, s), ("message/body", s, ""), ("message/body_html", "", s)]
        for where, text, html in attempts:
            want = expected_message(text, html)
            r = sender.send(
                "post", path, {"body": text, "body_html": html, "public": False}, where=where, s=s
            )

            def check(r: Any = r, want: Any = want) -> None:
                m = r.json()
                assert (m["body"], m["body_html"]) == want, (m["body"][:80], m["body_html"][:80])
                stored[m["id"]] = want

            expect(failures, where, s, r, want is not None, "body" if not storable(text) else None, check)
            if where == "message/both" and want is not None:
                break  # accepted with both: the single-field variants add nothing

    # Read back every message: GET returns exactly what was stored.
    seen: dict[int, tuple[str, str]] = {}
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, params).json()
        seen.update({m["id"]: (m["body"], m["body_html"]) for m in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            break
    for mid, want in stored.items():
        if seen.get(mid) != want:
            failures.add("messages/get", want[0], f"read back {seen.get(mid)!r:.120}")
    failures.check()


def test_naughty_strings_in_every_field_of_ticket_patch(desk: Any, api: Any, note_fields: None) -> None:
    """One ticket takes every string: a PATCH with it in every field that accepts it, then one
    PATCH per field that refuses it."""
    failures = Failures()
    client = api(desk.agent)
    sender = Sender(client, failures)
    t = client.post(
        "/tickets",
        {
            "subject": "Patch me",
            "description": "x",
            "department_id": desk.books.pk,
            "requester_id": desk.bob.pk,
        },
    ).json()
    path = f"/tickets/{t['id']}"
    state = {"version": t["version"]}

    def patch(over: dict[str, Any], where: str, s: str) -> Any:
        r = sender.send("patch", path, {"version": state["version"], **over}, where=where, s=s)
        if r.status_code == 200:
            state["version"] = r.json()["version"]
        elif r.status_code == 409:
            failures.add(where, s, "unexpected conflict")
        return r

    for s in CORPUS:
        subject, tag = expected_subject(s), expected_tag(s)
        note, details = expected_text_field(s), expected_long_text_field(s)
        units: list[tuple[str, dict[str, Any], bool]] = [
            ("subject", {"subject": s}, subject is not None),
            ("tags", {"tags": [s]}, tag is not None),
            ("add_tags", {"add_tags": [s]}, tag is not None),
            ("remove_tags", {"remove_tags": [s]}, tag is not None),
            ("custom_fields.note", {"custom_fields": {"note": s}}, note is not None),
            ("custom_fields.details", {"custom_fields": {"details": s}}, details is not None),
        ]
        over: dict[str, Any] = {"tags": [s] if tag is not None else [], "add_tags": ["keep"]}
        over["custom_fields"] = {
            "note": s if note is not None else "n",
            "details": s if details is not None else "d",
        }
        if subject is not None:
            over["subject"] = s
        r = patch(over, "patch/accepted", s)
        if r.status_code != 200:
            failures.add("patch/accepted", s, f"refused {r.status_code} {r.content[:200]!r}")
        else:
            got = r.json()
            want_cf = {k: v for k, v in over["custom_fields"].items() if v}
            want_tags = sorted({"keep", *([tag] if tag is not None else [])})
            want = (subject if subject is not None else got["subject"], want_tags, want_cf)
            if (got["subject"], got["tags"], got["custom_fields"]) != want:
                failures.add("patch/accepted", s, f"stored {got!r:.200}")
        for field, over1, ok in units:
            if not ok:
                r = patch(over1, f"patch/{field}", s)
                # the pipeline names `tags` for a bad tag whichever list carried it
                named = None if field in ("add_tags", "remove_tags") else field
                expect(failures, f"patch/{field}", s, r, False, named, lambda: None)
                if named is None and r.status_code == 422:
                    got_field = r.json()["error"]["field"] or ""
                    if got_field != "tags" and not got_field.startswith(field):
                        failures.add(f"patch/{field}", s, f"error field {got_field!r}")
        for name in ("status", "priority"):
            if name == "status" and s == "closed":
                continue  # a closed ticket takes no further change; closing is covered elsewhere
            r = patch({name: s}, f"patch/{name}", s)
            if r.status_code == 200 and r.json()[name] != s:
                failures.add(f"patch/{name}", s, f"stored {r.json()[name]!r}")

    final = client.get(path)
    assert final.status_code == 200
    assert final.json()["version"] == state["version"]
    failures.check()


def test_naughty_strings_in_list_filters_never_fail(desk: Any, api: Any, note_fields: None) -> None:
    """Filters that reach the database go over HTTP for every string; parameters that are only
    parsed are checked for every string at the parser and over HTTP for a rotating share."""
    from sportello.core.errors import ValidationFailed
    from sportello.core.paging import SortKey, paginate, parse_sort
    from sportello.tickets.api import TICKET_SORTS, TicketFilters, _ticket_query
    from sportello.tickets.selectors import ticket_query

    failures = Failures()
    client = api(desk.agent)
    client.post(
        "/tickets",
        {
            "subject": "Filter me",
            "description": "x",
            "department_id": desk.books.pk,
            "requester_id": desk.bob.pk,
            "tags": ["a"],
            "custom_fields": {"note": "n"},
        },
    )
    parsed_only = ("category", "priority", "updated_since", "sort", "cursor")
    for i, s in enumerate(CORPUS):
        if not encodable(s) or len(s) > QUERY_MAX:
            continue  # a URL carries bytes; undecodable ones arrive as U+FFFD, long ones are cut by proxies
        requests = [
            {"status": s, "tag": s, "custom_field": f"note:{s}"},
            {"custom_field": f"{s}:x"},
            {parsed_only[i % len(parsed_only)]: s},
        ]
        for params in requests:
            r = client.get("/tickets", params)
            problem = shape_ok(r)
            if problem:
                failures.add(f"list {sorted(params)}", s, problem)
        if "\x00" in s:
            continue  # refused by the query schema before any parser runs
        for name in parsed_only:
            try:
                f = TicketFilters.model_validate({name: s})
                qs = ticket_query(principal=desk.agent, query=_ticket_query(f))
                keys = parse_sort(f.sort, allowed=TICKET_SORTS, default=[SortKey("id", descending=True)])
                if f.cursor:
                    paginate(qs, keys=keys, cursor=f.cursor, limit=1)
            except ValidationFailed as exc:
                if exc.field != name:
                    failures.add(f"parse {name}", s, f"error field {exc.field!r}")
            except Exception as exc:
                failures.add(f"parse {name}", s, f"{type(exc).__name__}: {exc}"[:200])
    failures.check()
