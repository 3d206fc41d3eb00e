"""The knowledge base's pages under `/kb/`. For now: an article's files at
`/kb/files/<id>/<name>` — the URL article bodies use for their images. Anyone may fetch the
files of an article with a public translation (the portal shows them); agents those of the
articles they may read (`kb.selectors.attachment_get`); anything else is a 404. Images whose
type was confirmed by their bytes are shown inline; any other file is a download."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from sportello.core.errors import NotFound
from sportello.tickets import attachments

from . import selectors, services


@require_GET
def attachment_file(request: HttpRequest, attachment_id: int, filename: str) -> FileResponse:
    user = request.user if request.user.is_authenticated else None
    try:
        attachment = selectors.attachment_get(principal=user, attachment_id=attachment_id)
        stream = services.attachment_open(attachment=attachment)
    except NotFound:
        raise Http404 from None
    content_type = attachments.serving_content_type(attachment.content_type)
    response = FileResponse(stream, content_type=content_type)
    disposition = attachments.content_disposition(attachment.filename)
    if content_type in attachments.SAFE_IMAGE_TYPES:
        disposition = "inline" + disposition.removeprefix("attachment")
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store" if user is not None else "public, max-age=300"
    return response
