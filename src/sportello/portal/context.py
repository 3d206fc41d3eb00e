"""`portal_brand` and `portal_contact` for every customer page (a context processor). Both are
lazy: a page that does not use them (the Desk's) reads nothing."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject


def _brand() -> dict[str, Any]:
    from .links import brand

    found = brand()
    return {
        "name": found["name"],
        "colour": found["colour"],
        "logo_url": reverse("portal:logo", kwargs={"digest": found["logo_sha256"]})
        if found["logo_sha256"]
        else "",
        "css_url": reverse("portal:brand_css") + f"?v={found['version']}",
        "enabled": found["enabled"],
    }


def portal(request: HttpRequest) -> dict[str, Any]:
    def contact() -> Any:
        from .views import current_contact

        return current_contact(request)

    return {"portal_brand": SimpleLazyObject(_brand), "portal_contact": SimpleLazyObject(contact)}
