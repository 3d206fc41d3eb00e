"""What every browser test may check on a page: a screenshot when asked for, that nothing
overflows sideways (a 390 px phone), and that HTMX has settled its last answer."""

from __future__ import annotations

import os
from typing import Any

from playwright.sync_api import expect

SHOTS = os.environ.get("SPORTELLO_SHOTS", "")  # a folder: save screenshots there while testing


def shot(page: Any, name: str) -> None:
    """Save the whole page as `<SPORTELLO_SHOTS>/<name>.png` when that folder is set."""
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def no_sideways_overflow(page: Any) -> None:
    """The page is no wider than its viewport."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def settled(page: Any) -> None:
    """Wait for HTMX's last answer to be swapped in and settled: the new elements' triggers are
    live only then (a key pressed on a button swapped in a moment ago would submit its form as a
    plain page load instead)."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)
