"""Reads of contacts and organizations."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Contact


def contact_list() -> QuerySet[Contact]:
    return Contact.objects.select_related("organization")
