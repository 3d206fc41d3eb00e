"""The public-holiday import's form: a country (from the `holidays` package's list), an optional
region of it, and one or more years."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from urllib.parse import urlencode

from django.http import QueryDict
from django.utils.translation import gettext as _

from ..views import int_or_none as int_or_none

YEARS_MAX = 10


@cache
def countries() -> list[tuple[str, str]]:
    """(code, English name) of every country the `holidays` package knows, by name."""
    from holidays import list_supported_countries
    from holidays.registry import COUNTRIES

    names = {entry[1]: module.replace("_", " ").title() for module, entry in COUNTRIES.items()}
    return sorted(((c, names.get(c, c)) for c in list_supported_countries()), key=lambda p: p[1])


@cache
def subdivisions(country: str) -> list[tuple[str, str]]:
    """(code, name) of a country's regions the `holidays` package knows ("" if none)."""
    import holidays

    supported = holidays.list_supported_countries().get(country)
    if not supported:
        return []
    try:
        aliases = holidays.country_holidays(country).subdivisions_aliases
    except (NotImplementedError, AttributeError):  # pragma: no cover - a country without data
        aliases = {}
    names: dict[str, str] = {}
    for name, code in aliases.items():
        names.setdefault(code, name)
    return [(code, f"{names[code]} ({code})" if code in names else code) for code in supported]


@cache
def _zone_countries() -> dict[str, str]:
    try:
        with open("/usr/share/zoneinfo/zone.tab", encoding="utf-8") as f:
            rows = [line.split("\t") for line in f if line.strip() and not line.startswith("#")]
    except OSError:
        return {}
    return {r[2].strip(): r[0] for r in rows if len(r) >= 3}


def country_of_zone(zone: str) -> str:
    """The country of a time zone (Europe/Rome: IT), to preselect; "" when unknown."""
    return _zone_countries().get(zone, "")


def default_years(now: datetime) -> str:
    return f"{now.year}, {now.year + 1}"


@dataclass
class HolidayQuery:
    country: str = ""
    subdivision: str = ""
    years_text: str = ""
    years: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def subdivisions(self) -> list[tuple[str, str]]:
        return subdivisions(self.country) if self.country else []

    def urlencode(self) -> str:
        return urlencode({"country": self.country, "subdivision": self.subdivision, "years": self.years_text})


def read(data: QueryDict) -> HolidayQuery:
    q = HolidayQuery(
        country=(data.get("country") or "").strip().upper(),
        subdivision=(data.get("subdivision") or "").strip().upper(),
        years_text=(data.get("years") or "").strip(),
    )
    known = dict(countries())
    if q.country not in known:
        q.errors["country"] = _("Choose a country from the list.")
    elif q.subdivision and q.subdivision not in dict(subdivisions(q.country)):
        q.errors["subdivision"] = _("Choose a region of this country from the list, or none.")
    parts = [p for p in re.split(r"[\s,;]+", q.years_text) if p]
    if not parts or not all(p.isdigit() for p in parts):
        q.errors["years"] = _("Give one or more years, for example 2026, 2027.")
    else:
        q.years = sorted({int(p) for p in parts})
        if len(q.years) > YEARS_MAX or any(not 1970 <= y <= 2100 for y in q.years):
            q.errors["years"] = _("Give at most %(n)d years between 1970 and 2100.") % {"n": YEARS_MAX}
    return q
