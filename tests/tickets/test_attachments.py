"""Attachments: staged upload, listing, claiming by a message, and the guarded download."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sportello.tickets.models import Attachment, TicketEvent

LIMIT = 4096
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
KEY_RE = re.compile(r"^([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{32})$")


@pytest.fixture
def store(settings: Any, attachment_store: Path) -> Path:
    """Attachment storage in a temporary directory, with a small size limit."""
    settings.SPORTELLO = {**settings.SPORTELLO, "ATTACHMENT_MAX_BYTES": LIMIT}
    return attachment_store


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(client: Any, ticket_id: int, name: str, content: bytes, ctype: str = "text/plain", **extra: Any):
    data = {"file": SimpleUploadedFile(name, content, content_type=ctype), **extra}
    return client.client.post(f"/api/v1/tickets/{ticket_id}/attachments", data=data, headers=client.headers)


@pytest.fixture
def ticket(desk: Any, api: Any) -> dict[str, Any]:
    r = api(desk.agent).post(
        "/tickets",
        {
            "subject": "Scanned receipt",
            "description": "See attached.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
    )
    assert r.status_code == 201, r.content
    return r.json()


def assert_error(r: Any, status: int, code: str, field: str | None = None) -> None:
    assert r.status_code == status, r.content
    assert r["Content-Type"] == "application/json"
    err = r.json()["error"]
    assert err["code"] == code
    if field is not None:
        assert err["field"] == field


# --------------------------------------------------------------------------------------------
# Upload


def test_agent_upload_is_staged_stored_under_generated_key_and_audited(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    # given a ticket in Books
    client = api(desk.agent)
    # when the agent uploads a file
    r = upload(client, ticket["id"], "receipt.txt", b"total: 12 EUR\n")
    # then it is staged (no message), hashed, and stored under a generated sharded key
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["message_id"] is None
    assert body["filename"] == "receipt.txt"
    assert body["content_type"] == "text/plain"
    assert body["size"] == 14
    assert body["sha256"] == hashlib.sha256(b"total: 12 EUR\n").hexdigest()
    assert body["url"] == f"/api/v1/attachments/{body['id']}/download"
    att = Attachment.objects.get(pk=body["id"])
    m = KEY_RE.match(att.storage_key)
    assert m is not None
    assert m.group(3).startswith(m.group(1) + m.group(2))
    assert "receipt" not in att.storage_key
    assert att.uploaded_by_kind == "agent"
    assert att.uploaded_by_id == desk.agent.pk
    assert stored_files(store) == [store / att.storage_key]
    assert (store / att.storage_key).read_bytes() == b"total: 12 EUR\n"
    # and the upload is audited with actor and via, without bumping the ticket's version
    ev = TicketEvent.objects.get(ticket_id=ticket["id"], kind="attachment")
    assert (ev.actor_kind, ev.actor_id, ev.actor_label, ev.via) == (
        "agent",
        desk.agent.pk,
        desk.agent.email,
        "api",
    )
    assert ev.new_value == {
        "attachment_id": att.pk,
        "filename": "receipt.txt",
        "content_type": "text/plain",
        "size": 14,
        "sha256": att.sha256,
    }
    assert client.get(f"/tickets/{ticket['id']}").json()["version"] == ticket["version"]
    events = client.get(f"/tickets/{ticket['id']}/events").json()["items"]
    assert [e["kind"] for e in events][-1] == "attachment"


@pytest.mark.parametrize(
    ("client_name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("tab\there.txt", "tabhere.txt"),  # the multipart parser drops it
        ("Résumé \u2013 履歴書 📎.pdf", "Résumé \u2013 履歴書 📎.pdf"),
        ('say "hi"; name=x.txt', 'say "hi"; name=x.txt'),
    ],
)
def test_client_filename_is_sanitised_and_never_used_as_the_storage_path(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any], client_name: str, expected: str
) -> None:
    r = upload(api(desk.agent), ticket["id"], client_name, b"data")
    assert r.status_code == 201, r.content
    assert r.json()["filename"] == expected
    att = Attachment.objects.get(pk=r.json()["id"])
    assert KEY_RE.match(att.storage_key)
    # nothing was written outside the storage root
    assert stored_files(store) == [store / att.storage_key]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "attachment"),
        (None, "attachment"),
        ("..", "attachment"),
        ("a\x00b\x1f.pdf", "ab.pdf"),
        ("line\nbreak.txt", "line break.txt"),
        ("  spaced   out  .txt ", "spaced out .txt"),
        ("e\u0301.txt", "\u00e9.txt"),  # NFC
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
        ("y" * 300, "y" * 255),
        ("\ud800bad.txt", "bad.txt"),
    ],
)
def test_sanitize_filename(raw: str | None, expected: str) -> None:
    from sportello.tickets.attachments import sanitize_filename

    assert sanitize_filename(raw) == expected


def test_upload_at_the_limit_is_accepted(desk: Any, api: Any, store: Path, ticket: dict[str, Any]) -> None:
    r = upload(api(desk.agent), ticket["id"], "big.bin", b"a" * LIMIT)
    assert r.status_code == 201, r.content
    assert r.json()["size"] == LIMIT


@pytest.mark.parametrize("size", [LIMIT + 1, 3 * LIMIT, LIMIT + 80 * 1024])
def test_upload_over_the_limit_is_413_and_nothing_is_stored(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any], size: int
) -> None:
    # given a limit of LIMIT bytes; sizes cover the streaming count and the Content-Length check
    r = upload(api(desk.agent), ticket["id"], "big.bin", b"a" * size)
    assert_error(r, 413, "payload_too_large", "file")
    assert str(LIMIT) in r.json()["error"]["message"]
    assert not Attachment.objects.exists()
    assert not TicketEvent.objects.filter(kind="attachment").exists()
    assert stored_files(store) == []


def test_service_refuses_oversized_stream_before_storing(
    desk: Any, store: Path, ticket: dict[str, Any], now: Any
) -> None:
    import io

    from sportello.core.actors import Via
    from sportello.core.errors import PayloadTooLarge
    from sportello.tickets.attachments import attachment_upload

    with pytest.raises(PayloadTooLarge):
        attachment_upload(
            principal=desk.agent,
            ticket_id=ticket["id"],
            stream=io.BytesIO(b"z" * (LIMIT + 1)),
            filename="z.bin",
            declared_content_type=None,
            via=Via.API,
            now=now,
        )
    assert stored_files(store) == []


def test_empty_file_is_422(desk: Any, api: Any, store: Path, ticket: dict[str, Any]) -> None:
    assert_error(upload(api(desk.agent), ticket["id"], "empty.txt", b""), 422, "validation_failed", "file")
    assert stored_files(store) == []


def test_message_id_is_not_accepted_on_upload(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    r = upload(api(desk.agent), ticket["id"], "a.txt", b"a", message_id="1")
    assert_error(r, 422, "validation_failed", "message_id")
    assert not Attachment.objects.exists()
    assert stored_files(store) == []


def test_upload_without_file_field_is_422(desk: Any, api: Any, store: Path, ticket: dict[str, Any]) -> None:
    client = api(desk.agent)
    r = client.client.post(
        f"/api/v1/tickets/{ticket['id']}/attachments", data={"note": "x"}, headers=client.headers
    )
    assert_error(r, 422, "validation_failed", "note")
    r = client.client.post(f"/api/v1/tickets/{ticket['id']}/attachments", data={}, headers=client.headers)
    assert_error(r, 422, "validation_failed", "file")


def test_two_files_in_one_upload_are_422(desk: Any, api: Any, store: Path, ticket: dict[str, Any]) -> None:
    client = api(desk.agent)
    files = [SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("b.txt", b"b")]
    r = client.client.post(
        f"/api/v1/tickets/{ticket['id']}/attachments", data={"file": files}, headers=client.headers
    )
    assert_error(r, 422, "validation_failed", "file")
    assert stored_files(store) == []


def test_upload_with_a_non_multipart_body_is_refused(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    client = api(desk.agent)
    path = f"/api/v1/tickets/{ticket['id']}/attachments"
    r = client.client.post(path, data=b"hello", content_type="text/plain", headers=client.headers)
    assert_error(r, 415, "unsupported_media_type")
    r = client.client.post(
        path, data=b'{"file": "x"}', content_type="application/json", headers=client.headers
    )
    assert_error(r, 422, "validation_failed", "file")


def test_light_agent_may_upload_for_an_internal_note(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    client = api(desk.light)
    r = upload(client, ticket["id"], "note.txt", b"internal")
    assert r.status_code == 201, r.content
    r = client.post(
        f"/tickets/{ticket['id']}/messages",
        {"body": "see file", "public": False, "attachment_ids": [r.json()["id"]]},
    )
    assert r.status_code == 201, r.content
    assert [a["filename"] for a in r.json()["attachments"]] == ["note.txt"]


def test_agent_of_another_department_gets_404_and_nothing_is_stored(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    client = api(desk.outsider)
    assert_error(upload(client, ticket["id"], "x.txt", b"x"), 404, "not_found")
    assert_error(client.get(f"/tickets/{ticket['id']}/attachments"), 404, "not_found")
    assert_error(upload(client, 999_999, "x.txt", b"x"), 404, "not_found")
    assert stored_files(store) == []


def test_upload_without_token_is_401(desk: Any, api: Any, store: Path, ticket: dict[str, Any]) -> None:
    r = upload(api(None), ticket["id"], "x.txt", b"x")
    assert_error(r, 401, "not_authenticated")
    assert stored_files(store) == []


def test_upload_to_closed_ticket_is_409_and_the_stored_file_is_removed(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    client = api(desk.agent)
    r = client.patch(f"/tickets/{ticket['id']}", {"version": ticket["version"], "status": "closed"})
    assert r.status_code == 200, r.content
    assert_error(upload(client, ticket["id"], "late.txt", b"late"), 409, "ticket_closed")
    assert not Attachment.objects.exists()
    assert stored_files(store) == []


# --------------------------------------------------------------------------------------------
# List and claim


def test_list_shows_staged_and_claimed_uploads_and_a_message_claims_once(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    client = api(desk.agent)
    a = upload(client, ticket["id"], "a.txt", b"a").json()
    b = upload(client, ticket["id"], "b.txt", b"b").json()
    # when a reply claims the first upload
    r = client.post(f"/tickets/{ticket['id']}/messages", {"body": "Here it is", "attachment_ids": [a["id"]]})
    assert r.status_code == 201, r.content
    message = r.json()
    assert [x["id"] for x in message["attachments"]] == [a["id"]]
    # then the list shows it claimed and the other still staged
    items = client.get(f"/tickets/{ticket['id']}/attachments").json()["items"]
    assert [(x["id"], x["message_id"]) for x in items] == [(a["id"], message["id"]), (b["id"], None)]
    # and a second claim of the same upload is refused, with nothing written
    before = client.get(f"/tickets/{ticket['id']}").json()
    r = client.post(f"/tickets/{ticket['id']}/messages", {"body": "again", "attachment_ids": [a["id"]]})
    assert_error(r, 422, "validation_failed", "attachment_ids")
    after = client.get(f"/tickets/{ticket['id']}").json()
    assert after["message_count"] == before["message_count"]


def test_list_paginates(desk: Any, api: Any, store: Path, ticket: dict[str, Any]) -> None:
    client = api(desk.agent)
    ids = [upload(client, ticket["id"], f"{i}.txt", b"x").json()["id"] for i in range(5)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/tickets/{ticket['id']}/attachments", params).json()
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids


def test_an_upload_on_another_ticket_cannot_be_claimed(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    client = api(desk.agent)
    other = client.post(
        "/tickets",
        {"subject": "Other", "description": "x", "department_id": desk.books.pk, "requester_id": desk.bob.pk},
    ).json()
    att = upload(client, other["id"], "o.txt", b"o").json()
    r = client.post(f"/tickets/{ticket['id']}/messages", {"body": "x", "attachment_ids": [att["id"]]})
    assert_error(r, 422, "validation_failed", "attachment_ids")
    assert Attachment.objects.get(pk=att["id"]).message_id is None


# --------------------------------------------------------------------------------------------
# Download


def download(client: Any, attachment_id: int) -> Any:
    return client.client.get(f"/api/v1/attachments/{attachment_id}/download", headers=client.headers)


def body_of(r: Any) -> bytes:
    return b"".join(r.streaming_content)


def test_download_streams_bytes_with_safe_headers(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    client = api(desk.agent)
    html = b"<html><script>alert(1)</script></html>"
    att = upload(client, ticket["id"], "page.html", html, ctype="text/html").json()
    r = download(client, att["id"])
    assert r.status_code == 200
    assert r.streaming
    assert body_of(r) == html
    assert r["Content-Type"] == "application/octet-stream"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r["Content-Security-Policy"]
    assert r["Content-Disposition"] == "attachment; filename=\"page.html\"; filename*=UTF-8''page.html"
    assert r["Content-Length"] == str(len(html))


@pytest.mark.parametrize(
    ("name", "ascii_part", "utf8_part"),
    [
        ('a"b.txt', "a_b.txt", "a%22b.txt"),
        ("semi;colon,x.txt", "semi_colon,x.txt", "semi%3Bcolon%2Cx.txt"),
        ("Résumé.pdf", "R_sum_.pdf", "R%C3%A9sum%C3%A9.pdf"),
        ("back\\slash%41.txt", "slash_41.txt", "slash%2541.txt"),
        ("新建 文本.txt", "__ __.txt", "%E6%96%B0%E5%BB%BA%20%E6%96%87%E6%9C%AC.txt"),
    ],
)
def test_content_disposition_is_safe_for_any_filename(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any], name: str, ascii_part: str, utf8_part: str
) -> None:
    client = api(desk.agent)
    att = upload(client, ticket["id"], name, b"x").json()
    header = download(client, att["id"])["Content-Disposition"]
    assert header == f"attachment; filename=\"{ascii_part}\"; filename*=UTF-8''{utf8_part}"


def test_content_disposition_never_carries_raw_newlines_or_quotes() -> None:
    from sportello.tickets.attachments import content_disposition

    header = content_disposition('evil"\r\nSet-Cookie: x=1\n.txt')
    assert "\r" not in header
    assert "\n" not in header
    assert header.count('"') == 2
    assert header.endswith("filename*=UTF-8''evil%22%0D%0ASet-Cookie%3A%20x%3D1%0A.txt")


def test_png_is_served_as_an_image_only_when_its_bytes_say_so(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    client = api(desk.agent)
    real = upload(client, ticket["id"], "shot.png", PNG, ctype="image/png").json()
    fake = upload(client, ticket["id"], "fake.png", b"<svg onload=alert(1)>", ctype="image/png").json()
    svg = upload(client, ticket["id"], "x.svg", b"<svg/>", ctype="image/svg+xml").json()
    unlabelled = upload(client, ticket["id"], "blob", PNG, ctype="application/octet-stream").json()
    assert (real["content_type"], fake["content_type"]) == ("image/png", "application/octet-stream")
    assert (svg["content_type"], unlabelled["content_type"]) == ("image/svg+xml", "image/png")
    assert download(client, real["id"])["Content-Type"] == "image/png"
    assert download(client, unlabelled["id"])["Content-Type"] == "image/png"
    assert download(client, fake["id"])["Content-Type"] == "application/octet-stream"
    assert download(client, svg["id"])["Content-Type"] == "application/octet-stream"
    for att in (real, fake, svg, unlabelled):
        r = download(client, att["id"])
        assert r["Content-Disposition"].startswith("attachment;")
        assert r["X-Content-Type-Options"] == "nosniff"


def test_forbidden_and_missing_attachments_are_the_same_404(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    att = upload(api(desk.agent), ticket["id"], "a.txt", b"a").json()
    outsider = api(desk.outsider)
    forbidden = download(outsider, att["id"])
    missing = download(outsider, att["id"] + 1000)
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.content == missing.content
    assert_error(forbidden, 404, "not_found")
    assert download(api(desk.admin), att["id"]).status_code == 200
    assert download(api(desk.light), att["id"]).status_code == 200
    assert_error(download(api(None), att["id"]), 401, "not_authenticated")


def test_download_of_a_file_missing_from_storage_is_404(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any]
) -> None:
    client = api(desk.agent)
    att = upload(client, ticket["id"], "a.txt", b"a").json()
    (store / Attachment.objects.get(pk=att["id"]).storage_key).unlink()
    assert_error(download(client, att["id"]), 404, "not_found")


# --------------------------------------------------------------------------------------------
# Customers (service level: contacts are not API principals yet)


def test_customer_uploads_only_to_own_tickets_and_claims_only_own_uploads(
    desk: Any, api: Any, store: Path, ticket: dict[str, Any], now: Any
) -> None:
    import io

    from sportello.core.actors import Via
    from sportello.core.errors import NotFound, ValidationFailed
    from sportello.tickets import services
    from sportello.tickets.attachments import attachment_upload

    # Alice (the requester) may upload to her ticket; Bob may not, and learns nothing
    mine = attachment_upload(
        principal=desk.alice,
        ticket_id=ticket["id"],
        stream=io.BytesIO(b"mine"),
        filename="m.txt",
        declared_content_type="text/plain",
        via=Via.PORTAL,
        now=now,
    )
    assert (mine.uploaded_by_kind, mine.uploaded_by_id) == ("contact", desk.alice.pk)
    with pytest.raises(NotFound):
        attachment_upload(
            principal=desk.bob,
            ticket_id=ticket["id"],
            stream=io.BytesIO(b"x"),
            filename="x.txt",
            declared_content_type=None,
            via=Via.PORTAL,
            now=now,
        )
    # an agent's staged upload (meant for an internal note) cannot be pulled into her reply
    agents = upload(api(desk.agent), ticket["id"], "internal.txt", b"secret").json()
    with pytest.raises(ValidationFailed) as exc:
        services.message_add(
            principal=desk.alice,
            ticket_id=ticket["id"],
            via=Via.PORTAL,
            body="hi",
            body_html="",
            public=True,
            attachment_ids=[agents["id"]],
            version=None,
            now=now,
        )
    assert exc.value.field == "attachment_ids"
    assert Attachment.objects.get(pk=agents["id"]).message_id is None
    # her own upload she can attach
    outcome = services.message_add(
        principal=desk.alice,
        ticket_id=ticket["id"],
        via=Via.PORTAL,
        body="hi",
        body_html="",
        public=True,
        attachment_ids=[mine.pk],
        version=None,
        now=now,
    )
    assert outcome.message is not None
    assert Attachment.objects.get(pk=mine.pk).message_id == outcome.message.pk
    assert stored_files(store) == sorted(store / a.storage_key for a in Attachment.objects.all())
