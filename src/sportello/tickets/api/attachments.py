"""API routes: attachments. Upload (staged on a ticket), list, and a permission-checked download.

The upload body is parsed here, after the access check, with a size-limiting upload handler
in front of Django's own: an oversized file is refused while it streams in (running count),
never buffered whole, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler, StopUpload, load_handler
from django.http import FileResponse, HttpRequest
from django.http.multipartparser import MultiPartParserError
from ninja import Router, Schema, Status

from sportello.accounts.http import ApiRequest
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import BadRequest, PayloadTooLarge, ValidationFailed
from sportello.core.paging import SortKey, page_limit, paginate

from .. import attachments, selectors
from ..api import attachment_out
from ..schemas import AttachmentOut

router = Router(tags=["attachments"])

FILE_FIELD = "file"
# Multipart framing around the file: boundaries and part headers. Bodies larger than the file
# limit plus this are refused from Content-Length alone, before a byte is read.
MULTIPART_OVERHEAD = 64 * 1024

UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


class AttachmentPage(Schema):
    items: list[AttachmentOut]
    next_cursor: str | None


class SizeLimitHandler(FileUploadHandler):
    """Counts the bytes of every uploaded file as they stream in and stops the upload as soon
    as one passes the limit. Passes data on to the next handler unchanged."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.too_large = False
        self._count = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._count = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self._count += len(raw_data)
        if self._count > self.limit:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"an attachment is at most {limit} bytes", field=FILE_FIELD)


def parse_upload(request: HttpRequest) -> Any:
    """The one file of a multipart upload, size-checked while it streams; shared by every
    endpoint that stages a file (ticket attachments, knowledge-base files)."""
    limit = attachments.max_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("invalid Content-Length") from None
    if declared > limit + MULTIPART_OVERHEAD:
        raise _too_large(limit)
    if (request.content_type or "").lower() != "multipart/form-data":
        raise ValidationFailed("send the file as multipart/form-data", field=FILE_FIELD)
    guard = SizeLimitHandler(request, limit)
    request.upload_handlers = [guard, *(load_handler(h, request) for h in settings.FILE_UPLOAD_HANDLERS)]
    try:
        files, fields = request.FILES, request.POST
    except (TooManyFilesSent, RequestDataTooBig):
        raise ValidationFailed("send one file in the `file` field", field=FILE_FIELD) from None
    except (MultiPartParserError, SuspiciousOperation):
        raise BadRequest("malformed multipart body", field=FILE_FIELD) from None
    if guard.too_large:
        raise _too_large(limit)
    if "message_id" in fields or "message_id" in files:
        raise ValidationFailed(
            "uploads are staged; attach them to a message with `attachment_ids`", field="message_id"
        )
    unknown = sorted((set(fields) | set(files)) - {FILE_FIELD})
    if unknown:
        raise ValidationFailed("unknown field", field=unknown[0][:80])
    uploaded = files.getlist(FILE_FIELD)
    if len(uploaded) != 1:
        raise ValidationFailed("send exactly one file in the `file` field", field=FILE_FIELD)
    return uploaded[0]


@router.post(
    "/tickets/{ticket_id}/attachments",
    response={201: AttachmentOut},
    summary="Upload a file to a ticket (staged until a message claims it via `attachment_ids`)",
    openapi_extra=UPLOAD_OPENAPI,
)
def upload_attachment(request: ApiRequest, ticket_id: int) -> Status:
    # Access first: a body is read only for a ticket the caller may upload to.
    ticket = selectors.ticket_get_for(principal=request.auth, ticket_id=ticket_id)
    attachments.check_may_upload(principal=request.auth, ticket=ticket)
    upload = parse_upload(request)
    try:
        attachment = attachments.attachment_upload(
            principal=request.auth,
            ticket_id=ticket.pk,
            stream=upload,
            filename=upload.name,
            declared_content_type=upload.content_type,
            via=Via.API,
            now=clock.now(),
        )
    finally:
        upload.close()
    return Status(201, attachment_out(attachment))


@router.get("/tickets/{ticket_id}/attachments", response=AttachmentPage, summary="A ticket's attachments")
def list_attachments(
    request: ApiRequest, ticket_id: int, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    ticket = selectors.ticket_get_for(principal=request.auth, ticket_id=ticket_id)
    qs = selectors.attachment_list(principal=request.auth, ticket=ticket)
    rows, nxt = paginate(qs, keys=[SortKey("id")], cursor=cursor, limit=page_limit(limit))
    return {"items": [attachment_out(a) for a in rows], "next_cursor": nxt}


@router.get(
    "/attachments/{attachment_id}/download",
    summary="Download an attachment (always as a download, never rendered inline)",
    response={200: None},
)
def download_attachment(request: ApiRequest, attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_get_for(principal=request.auth, attachment_id=attachment_id)
    response = FileResponse(
        attachments.attachment_open(attachment=attachment),
        content_type=attachments.serving_content_type(attachment.content_type),
    )
    response["Content-Disposition"] = attachments.content_disposition(attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    return response
