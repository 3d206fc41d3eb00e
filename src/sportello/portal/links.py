"""Where the customer portal is reached: `portal_root()` is the root notifications link to
(`{root}/tickets/<number>/`). The environment's `PORTAL_URL` wins; else, while the portal is on
(its Console setting), the desk's `PUBLIC_URL` + `/portal`; else none (""): mail carries no
portal link. The setting is read through the per-process configuration cache (`core.config`):
no statement of its own once read."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from sportello.core import config

from .models import PortalSettings

SIGNATURE = "portal"


def brand(memo: dict[str, Any] | None = None) -> dict[str, Any]:
    """The portal's settings as pages and mail read them (no logo bytes): enabled, name,
    colour, default_language, logo_sha256 (empty without a logo), version."""

    def build() -> dict[str, Any]:
        row = (
            PortalSettings.objects.filter(pk=1)
            .values("enabled", "name", "colour", "default_language", "logo_sha256", "version")
            .first()
        )
        default: dict[str, Any] = {
            "enabled": False,
            "name": "Sportello",
            "colour": "#1f5f99",
            "default_language": "en",
            "logo_sha256": "",
            "version": 0,
        }
        return dict(row) if row else default

    return config.config_cached("portal.brand", build, memo, signature=SIGNATURE)


def _public_url() -> str:
    return str(settings.SPORTELLO.get("PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")


def portal_root(*, fallback: bool = False, memo: dict[str, Any] | None = None) -> str:
    """The portal's root URL, "" when it is off (with `fallback`: the desk's own /portal, for
    the portal's own mail, which it sends only when someone used it)."""
    configured = str(settings.SPORTELLO.get("PORTAL_URL", "")).rstrip("/")
    if configured:
        return configured
    if fallback or brand(memo)["enabled"]:
        return _public_url() + "/portal"
    return ""
