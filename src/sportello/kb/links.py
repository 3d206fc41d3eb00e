"""Links to this desk's knowledge base inside a message: the addresses the composer inserts and
the parse that finds them again in a sent body (typed, inserted or pasted alike).

Two addresses name an article:
- its public page in the portal, `<portal>/kb/<language>/a/<id>-<slug>/` (also without the
  slug), where `<portal>` is `PORTAL_URL`, else this desk's `PUBLIC_URL` + `/portal`;
- its page in the agents' knowledge base, `<PUBLIC_URL>/kb/articles/<id>/<language>/` (what an
  internal note links to when the article has no public translation).
Only those roots count: a link to another site's `/kb/…` is not this desk's article.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from sportello.notifications.context import public_url
from sportello.portal import links as portal_links


def public_root() -> str:
    """This desk's own address (`PUBLIC_URL`), without a trailing slash."""
    return public_url()


def portal_root() -> str:
    """The customer portal's address: `PORTAL_URL`, else this desk's own `/portal`."""
    return portal_links.portal_root(fallback=True)


def public_page_url(*, article_id: int, language: str, slug: str) -> str:
    """The absolute address of a public translation's page in the portal."""
    return f"{portal_root()}/kb/{language}/a/{article_id}-{slug}/"


def desk_page_url(*, article_id: int, language: str) -> str:
    """The absolute address of a translation in the agents' knowledge base."""
    return f"{public_root()}/kb/articles/{article_id}/{language}/"


@lru_cache(maxsize=8)
def _pattern(portal: str, desk: str) -> re.Pattern[str]:
    roots = sorted({portal, f"{desk}/portal"}, key=len, reverse=True)
    public = "|".join(re.escape(root) for root in roots)
    return re.compile(
        rf"(?:(?:{public})/kb/[a-z]{{2,3}}(?:-[a-z0-9]+)?/a/(?P<public>\d{{1,18}})(?=[-/?#\s)\]\"'<>]|$)"
        rf"|{re.escape(desk)}/kb/articles/(?P<desk>\d{{1,18}})/)",
        re.IGNORECASE,
    )


def desk_page_article_ids(texts: Iterable[str]) -> list[int]:
    """The ids of the articles `texts` link to by their page in the agents' knowledge base (an
    address only agents open: never for a public reply)."""
    pattern = _pattern(portal_root(), public_root())
    found: dict[int, None] = {}
    for text in texts:
        for match in pattern.finditer(text or ""):
            if match.group("desk"):
                found.setdefault(int(match.group("desk")), None)
    return list(found)


def linked_article_ids(texts: Iterable[str]) -> list[int]:
    """The ids of this desk's articles that `texts` link to, in order of first appearance, each
    once."""
    pattern = _pattern(portal_root(), public_root())
    found: dict[int, None] = {}
    for text in texts:
        for match in pattern.finditer(text or ""):
            found.setdefault(int(match.group("public") or match.group("desk")), None)
    return list(found)
