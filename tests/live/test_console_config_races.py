"""The Console's configuration import at a live server, on SQLite and on PostgreSQL: an admin's
browser session confirms one previewed import from many requests at once. Imports run one after
the other: the first imports, the others find the desk changed since the preview and show it
again (or, having checked before the first committed, find nothing left to write). Never a
server error; every item exists once."""

from __future__ import annotations

import re

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, shell, signed_in

pytestmark = LIVE

DOCUMENT = """schema: sportello/config/v1
departments:
- slug: race-games
  name: Race games
  description: Imported at once
teams:
- slug: race-consoles
  name: Race consoles
  department: race-games
fields:
- key: race_platform
  label: Platform
  type: picklist
  options: [{value: switch, label: Switch}, {value: ps5, label: PS5}]
layouts:
- department: race-games
  fields:
  - {field: race_platform, required: to_solve}
"""
READ = (
    "import json; from sportello.accounts.models import Department as D, Team as T; "
    "from sportello.tickets.models import CustomField as F, LayoutField as L; "
    "print(json.dumps([[D.objects.filter(slug='race-games').count(), "
    "T.objects.filter(slug='race-consoles').count(), F.objects.filter(key='race_platform').count(), "
    "L.objects.filter(department__slug='race-games').count()]]))"
)


def test_one_import_confirmed_by_many_requests_at_once_imports_once(live: LiveDesk) -> None:
    client = signed_in(live)
    # given the admin's preview of a document that adds a department, a team, a field, a layout
    preview = post(client, "/console/config/", {"step": "preview", "document": DOCUMENT})
    assert preview.status == 200, preview.body[:500]
    found = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', preview.body)
    assert found, preview.body[:2000]
    # when they confirm it from ten requests at once
    n = 10
    data = {"step": "import", "document": DOCUMENT, "fingerprint": found.group(1)}
    replies: list[Reply] = live.race(n, lambda i: post(client, "/console/config/", data))
    # then at least one imported, the others were previewed again; none failed
    statuses = sorted(r.status for r in replies)
    assert set(statuses) <= {200, 302}, [
        (r.status, r.body[:300]) for r in replies if r.status not in (200, 302)
    ]
    assert 302 in statuses
    for r in replies:
        if r.status == 200:
            assert "changed since your preview" in r.body
    # and everything exists once
    assert shell(live, READ) == [[1, 1, 1, 1]]
    # a preview now has nothing left to import
    again = post(client, "/console/config/", {"step": "preview", "document": DOCUMENT})
    assert "Nothing to import: the desk already has this configuration." in again.body
