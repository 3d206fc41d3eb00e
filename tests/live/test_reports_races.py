"""The reports' figures under concurrency on a live server: tickets opened, replied to and solved
at once through the API — several changes on one ticket and on many tickets side by side — leave
facts, roll-ups and per-change counts equal to a computation from scratch over the audit trail,
every reply counted once."""

from __future__ import annotations

import json

from live import LIVE
from live.server import LiveDesk, Reply

pytestmark = LIVE

# The per-change counts' sums of the given tickets, printed as JSON by the server's database.
SUMS = """
import json
from sportello.engine.reporting import COUNTERS
from sportello.reports.models import TicketCount
rows = TicketCount.objects.filter(ticket_id__in={ids!r})
print(json.dumps({{n: sum(getattr(c, n) for c in rows) for n in COUNTERS}}))
"""


def test_concurrent_replies_and_solves_are_each_counted_once(live: LiveDesk) -> None:
    customer = live.contact("reports-race@customers.test")
    tickets = [live.open_ticket(subject=f"Reports race {i}", requester_id=customer["id"]) for i in range(4)]
    ids = [t["id"] for t in tickets]

    def reply(i: int) -> Reply:
        # Two replies per ticket at once, on four tickets: eight changes side by side.
        ticket = tickets[i % 4]
        return live.post(f"/tickets/{ticket['id']}/messages", {"body": f"reply {i}"}, as_="agent")

    replies = live.race(8, reply)
    assert [r.status for r in replies] == [201] * 8, replies

    versions = [live.get(f"/tickets/{pk}", as_="admin").body["version"] for pk in ids]

    def solve(i: int) -> Reply:
        # Four tickets solved at once, by two agents.
        return live.patch(
            f"/tickets/{ids[i]}",
            {"status": "solved", "version": versions[i]},
            as_=("agent" if i % 2 else "agent2"),
        )

    solved = live.race(4, solve)
    assert [r.status for r in solved] == [200] * 4, solved

    checked = live.server.manage("reports", "check", "--tickets", *map(str, ids))
    assert "agree with the audit trail" in checked
    sums = json.loads(live.server.manage("shell", "-c", SUMS.format(ids=ids)).strip().splitlines()[-1])
    assert sums["created"] == 4
    assert sums["first_replies"] == 4  # one per ticket, whichever reply came first
    assert sums["responses"] == 4  # the first reply answers the description; the second, nothing
    assert sums["solved"] == 4
    assert sums["backlog_in"] - sums["backlog_out"] == 0
