"""Ticket page panel: the composer (public reply or internal note)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from sportello.tickets.models import Ticket

from ..forms import ReplyForm

TEMPLATE = "web/ticket/_composer.html"


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    return {"reply_form": ReplyForm(may_reply_publicly=shared["may_edit"])}
