"""Webhook delivery against a receiver on 127.0.0.1: signing, destination checks, bounds.

No database; every server is local and every wait bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sportello.outbox import webhooks
from sportello.outbox.webhooks import AllowList, Limits, Outcome, Refused, webhook_send, webhook_signature

LOCAL = AllowList.parse(["127.0.0.1/32"])
FAST = Limits(connect_timeout=2.0, total_timeout=3.0, max_response_bytes=64 * 1024)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.requests.append(Received("POST", self.path, dict(self.headers.items()), body))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer()

        def _answer(self) -> None:
            path = self.path
            if path.startswith("/status/"):
                self.send_response(int(path.rsplit("/", 1)[1]))
                if path.endswith(("/301", "/302")):
                    self.send_header("Location", "http://169.254.169.254/latest")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            elif path == "/slow":
                state.stop.wait(10)  # longer than any test's total bound
            elif path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    if state.stop.wait(0.05):
                        return
                    self.wfile.write(b"x")
                    self.wfile.flush()
            elif path == "/huge":
                self.send_response(200)
                self.end_headers()
                chunk = b"y" * 65536
                for _ in range(160):  # 10 MiB at most
                    if state.stop.is_set():
                        return
                    self.wfile.write(chunk)
            else:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def send(url: str, *, body: str = '{"ticket": 7}', secret: str | None = None, **kw: Any) -> Any:
    kw.setdefault("allow", LOCAL)
    kw.setdefault("limits", FAST)
    return webhook_send(url=url, body=body, delivery_id="d-1", timestamp=1_790_000_000, secret=secret, **kw)


def test_signature_is_hmac_sha256_over_id_timestamp_and_body() -> None:
    expected = hmac.new(b"s3cret", b"abc.1700000000.{}", hashlib.sha256).hexdigest()
    got = webhook_signature(secret="s3cret", delivery_id="abc", timestamp=1_700_000_000, body="{}")
    assert got == f"sha256={expected}"


def test_a_signed_json_delivery_reaches_the_receiver_who_can_verify_it(receiver: Receiver) -> None:
    # given a secret shared with the receiver and a JSON body
    body = '{"ticket": 7, "subject": "Caf\\u00e9"}'
    # when the webhook is sent
    result = send(receiver.url(), body=body, secret="s3cret", headers={"X-Team": "books"})
    # then it succeeded and the receiver can verify the signature from the headers alone
    assert result.outcome is Outcome.SENT
    assert result.status == 200
    [req] = receiver.requests
    h = {k.lower(): v for k, v in req.headers.items()}
    assert req.body == body.encode()
    assert h["content-type"] == "application/json"
    assert h["x-sportello-delivery"] == "d-1"
    assert h["x-sportello-timestamp"] == "1790000000"
    assert h["x-team"] == "books"
    mac = hmac.new(b"s3cret", f"d-1.1790000000.{body}".encode(), hashlib.sha256).hexdigest()
    assert h["x-sportello-signature"] == f"sha256={mac}"


def test_a_body_that_is_not_json_is_sent_as_text_without_a_signature_when_no_secret(
    receiver: Receiver,
) -> None:
    result = send(receiver.url(), body="ticket 7 was solved")
    assert result.outcome is Outcome.SENT
    h = {k.lower(): v for k, v in receiver.requests[0].headers.items()}
    assert h["content-type"] == "text/plain; charset=utf-8"
    assert "x-sportello-signature" not in h


def test_rule_headers_cannot_override_the_delivery_headers(receiver: Receiver) -> None:
    send(receiver.url(), headers={"X-Sportello-Delivery": "forged", "Host": "evil.test"})
    h = {k.lower(): v for k, v in receiver.requests[0].headers.items()}
    assert h["x-sportello-delivery"] == "d-1"
    assert h["host"] == f"127.0.0.1:{receiver.port}"


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("169.254.169.254", "link-local"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("224.0.0.1", "multicast"),
        ("[fe80::1]", "link-local"),
        ("[fc00::1]", "private"),
    ],
)
def test_internal_destinations_are_refused_for_good_unless_allow_listed(
    receiver: Receiver, host: str, reason: str
) -> None:
    # when a webhook names an internal address and nothing is allow-listed
    result = send(f"http://{host}:{receiver.port}/hook", allow=AllowList.parse([]))
    # then it fails permanently with the reason, and nothing was sent
    assert result.outcome is Outcome.PERMANENT
    assert reason in result.error
    assert "WEBHOOK_ALLOW" in result.error
    assert receiver.requests == []


def test_a_host_name_resolving_to_loopback_is_refused(receiver: Receiver) -> None:
    result = send(receiver.url(host="localhost"), allow=AllowList.parse([]))
    assert result.outcome is Outcome.PERMANENT
    assert "loopback" in result.error
    assert receiver.requests == []


def test_an_allow_listed_host_name_is_resolved_once_and_called_by_name(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given "hooks.internal" resolving to 127.0.0.1, counted
    lookups: list[str] = []

    def fake_getaddrinfo(host: str, port: int, *a: Any, **kw: Any) -> list[Any]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", fake_getaddrinfo)
    # when the name is allow-listed and the webhook is sent
    result = send(receiver.url(host="hooks.internal"), allow=AllowList.parse(["hooks.internal"]))
    # then one lookup was made, the checked address was called, and the Host header is the name
    assert result.outcome is Outcome.SENT
    assert lookups == ["hooks.internal"]
    h = {k.lower(): v for k, v in receiver.requests[0].headers.items()}
    assert h["host"] == f"hooks.internal:{receiver.port}"


def test_a_public_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        webhooks.socket,
        "getaddrinfo",
        lambda host, port, *a, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))],
    )
    with pytest.raises(Refused, match=r"10\.0\.0\.5 is private"):
        webhooks.resolve_destination(host="rebind.example.com", port=443, allow=AllowList.parse([]))


def test_allow_list_accepts_networks_and_names() -> None:
    allow = AllowList.parse(["10.0.0.0/8", " Hooks.Example.Test ", "::1", ""])
    assert allow.hosts == frozenset({"hooks.example.test"})
    assert allow.networks == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))
    assert str(webhooks.resolve_destination(host="10.9.8.7", port=80, allow=allow)) == "10.9.8.7"
    assert str(webhooks.resolve_destination(host="[::1]", port=80, allow=allow)) == "::1"


def test_public_addresses_need_no_allow_list() -> None:
    assert webhooks.address_refusal(ipaddress.ip_address("93.184.215.14")) is None
    assert webhooks.address_refusal(ipaddress.ip_address("2606:4700::1111")) is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SENT),
        (204, Outcome.SENT),
        (408, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (400, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (410, Outcome.PERMANENT),
        (302, Outcome.PERMANENT),
    ],
)
def test_the_answer_decides_between_sent_retry_and_permanent_failure(
    receiver: Receiver, status: int, outcome: Outcome
) -> None:
    result = send(receiver.url(f"/status/{status}"))
    assert (result.outcome, result.status) == (outcome, status)
    assert len(receiver.requests) == 1  # a redirect is not followed


def test_a_redirect_says_it_was_not_followed(receiver: Receiver) -> None:
    result = send(receiver.url("/status/302"))
    assert result.error == "HTTP 302 (redirects are not followed)"


def test_a_refused_connection_is_worth_a_retry() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        result = send(f"http://127.0.0.1:{port}/hook")
    assert result.outcome is Outcome.RETRY
    assert "ConnectionRefusedError" in result.error


def test_a_server_that_never_answers_is_cut_at_the_total_time_bound(receiver: Receiver) -> None:
    limits = Limits(connect_timeout=1.0, total_timeout=0.5, max_response_bytes=1024)
    started = time.monotonic()
    result = send(receiver.url("/slow"), limits=limits)
    elapsed = time.monotonic() - started
    assert result.outcome is Outcome.RETRY
    assert result.error == "timed out after 0.5s"
    assert elapsed < 1.5


def test_a_trickling_server_cannot_stretch_the_attempt_past_the_total_bound(receiver: Receiver) -> None:
    # given a server that answers 200 and then sends its body one byte every 50 ms
    limits = Limits(connect_timeout=1.0, total_timeout=0.6, max_response_bytes=64 * 1024)
    started = time.monotonic()
    result = send(receiver.url("/trickle"), limits=limits)
    elapsed = time.monotonic() - started
    # then reading stops at the bound; the 2xx status line already said the hook was accepted
    assert (result.outcome, result.status) == (Outcome.SENT, 200)
    assert result.response_bytes < 1000
    assert elapsed < 1.6


def test_a_huge_answer_is_read_up_to_the_size_bound_only(receiver: Receiver) -> None:
    started = time.monotonic()
    result = send(receiver.url("/huge"))
    assert result.outcome is Outcome.SENT
    assert result.response_bytes == 64 * 1024
    assert time.monotonic() - started < 3.0


def test_a_url_that_is_not_http_is_a_permanent_failure() -> None:
    result = send("file:///etc/passwd")
    assert result.outcome is Outcome.PERMANENT
    assert result.error == "not an http(s) URL: file://"
