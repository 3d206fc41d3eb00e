"""The Desk's attachment download: the API's permission check (`attachment_get_for`) behind
the agent's session. A file the agent may not see is a 404 like a missing one. Images whose
type was confirmed by their bytes at upload are shown inline (thumbnails, a new tab); anything
else is always a download, served as opaque bytes."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from sportello.core.errors import NotFound
from sportello.tickets import attachments, selectors

from ..shell import agent_required


@agent_required
@require_GET
def attachment_download(request: HttpRequest, attachment_id: int) -> FileResponse:
    try:
        attachment = selectors.attachment_get_for(
            principal=request.user,  # type: ignore[arg-type]
            attachment_id=attachment_id,
        )
        stream = attachments.attachment_open(attachment=attachment)
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
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    return response
