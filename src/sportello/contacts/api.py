"""`/api/v1/contacts`, `/organizations`."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["customers"])
