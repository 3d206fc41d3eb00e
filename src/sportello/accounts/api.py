"""`/api/v1/departments`, `/agents`, `/teams`."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["people"])
