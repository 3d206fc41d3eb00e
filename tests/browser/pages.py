"""What every browser test may check on a page: a screenshot when asked for, and that nothing
overflows sideways (a 390 px phone)."""

from __future__ import annotations

import os
from typing import Any

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
