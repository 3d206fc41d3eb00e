"""A process log exported for process-mining tools, streamed a case at a time (the log is read a
page of tickets at a time: see `reports.mining`).

CSV: one row per event, `case_id` (the ticket's number), `activity` (the status or state name,
in the reader's language), `timestamp` (ISO 8601, UTC), `resource` (who made the change: an
agent's name, a rule's, "System"), `department` (the ticket's department now); spreadsheet
formula starts are neutralised as in every CSV export (`contacts.transfer.csv_lines`).

XES (IEEE 1849-2016): a `log` with the Concept, Time, Organizational and Lifecycle extensions,
one `trace` per case (`concept:name` the ticket's number) with its events in time order, each
with `concept:name` (the activity), `time:timestamp`, `org:resource`, `org:group` (the
department) and `lifecycle:transition` `complete` (a change of status or state is an instant).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import quoteattr

from django.http import StreamingHttpResponse

from sportello.contacts.transfer import csv_lines

from .mining import ProcessLog

CSV_COLUMNS = ("case_id", "activity", "timestamp", "resource", "department")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def csv_export(log: ProcessLog) -> Iterator[str]:
    rows = (
        [str(c.number), log.labels.get(e.activity, e.activity), _iso(e.at), e.resource, c.department]
        for c in log.cases()
        for e in c.case.events
    )
    return csv_lines(CSV_COLUMNS, rows)


def _attr(kind: str, key: str, value: str) -> str:
    return f"<{kind} key={quoteattr(key)} value={quoteattr(_xml_text(value))}/>"


def _xml_text(value: str) -> str:
    """The characters XML 1.0 can hold (others become U+FFFD)."""
    return "".join(
        ch
        if ch in "\t\n\r" or "\u0020" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd" or ch >= "\U00010000"
        else "\ufffd"
        for ch in value
    )


def xes_export(log: ProcessLog) -> Iterator[str]:
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">\n'
        '<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n'
        '<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>\n'
        '<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>\n'
        '<extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>\n'
        '<global scope="trace">' + _attr("string", "concept:name", "") + "</global>\n"
        '<global scope="event">'
        + _attr("string", "concept:name", "")
        + '<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>'
        + _attr("string", "lifecycle:transition", "complete")
        + "</global>\n"
        '<classifier name="Activity" keys="concept:name"/>\n'
        + _attr("string", "concept:name", log.name)
        + "\n"
    )
    for c in log.cases():
        parts = ["<trace>", _attr("string", "concept:name", str(c.number))]
        for e in c.case.events:
            parts.append(
                "<event>"
                + _attr("string", "concept:name", log.labels.get(e.activity, e.activity))
                + _attr("date", "time:timestamp", _iso(e.at))
                + _attr("string", "org:resource", e.resource)
                + _attr("string", "org:group", c.department)
                + _attr("string", "lifecycle:transition", "complete")
                + "</event>"
            )
        parts.append("</trace>\n")
        yield "".join(parts)
    yield "</log>\n"


def export_filename(log: ProcessLog, extension: str) -> str:
    stem = f"process-{log.source.kind}-{log.source.value}"
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem) + f".{extension}"


def export_response(log: ProcessLog, fmt: str) -> StreamingHttpResponse:
    """The streamed download of the log as `csv` or `xes`."""
    if fmt == "csv":
        response = StreamingHttpResponse(csv_export(log), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(xes_export(log), content_type="application/xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(log, fmt)}"'
    response["Cache-Control"] = "no-store"
    return response
