"""`sportello mail ingest [--recipient ADDRESS]`: ingest one raw message read on stdin (for an
MTA's pipe transport, e.g. Postfix `mailbox_command` or an alias `| sportello mail ingest`).

Exit status for the MTA: 0 when the message is taken care of (a ticket, a reply, a bounce, a
quarantine entry, a duplicate or a loop ignored — each printed on one line); 75 (EX_TEMPFAIL)
when the desk could not take it now (database or storage down): the MTA keeps it and retries.
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from sportello.core import clock

EX_TEMPFAIL = 75
EX_DATAERR = 65


class Command(BaseCommand):
    help = "Mail intake: ingest a raw message from stdin."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("ingest", help="ingest one raw RFC 5322 message read on stdin")
        run.add_argument("--recipient", help="the envelope recipient (the address it was delivered to)")

    def handle(self, *args: Any, **opts: Any) -> None:
        from sportello.channels.inbound import mail_ingest

        cap = 4 * int(settings.SPORTELLO["MAIL_MAX_BYTES"])
        raw = sys.stdin.buffer.read(cap + 1)
        if len(raw) > cap:
            self.stderr.write(f"refused: a message may be at most {cap:,} bytes")
            sys.exit(EX_DATAERR)
        try:
            result = mail_ingest(raw=raw, via="pipe", recipient=opts.get("recipient"), now=clock.now())
        except Exception as exc:
            self.stderr.write(f"temporary failure, try again later: {type(exc).__name__}: {exc}")
            sys.exit(EX_TEMPFAIL)
        what = "duplicate of " if result.duplicate else ""
        line = f"{what}inbound {result.inbound_id}: {result.status}"
        if result.ticket_id is not None:
            line += f" (ticket id {result.ticket_id})"
        if result.reason:
            line += f": {result.reason}"
        self.stdout.write(line)
