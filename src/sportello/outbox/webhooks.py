"""Webhook delivery (the transport of kind "webhook"): signed, bounded, and never to an address
inside the network unless allowed.

The host name is resolved once; each address is checked, and the connection goes to the checked
address (no second lookup, so no DNS-rebinding gap) while the Host header and TLS SNI carry the
name. Redirects are not followed. Connect time, total time and the response size are bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from django.conf import settings

from . import secrets
from .transport import Attempt, PermanentFailure, TransientFailure, Transport, register_transport

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
type IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A webhook is retried for at least this long after it was queued;
# SPORTELLO["WEBHOOK_RETRY_WINDOW"] (seconds) overrides it.
WEBHOOK_RETRY_WINDOW = 24 * 3600.0
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "x-sportello-delivery",
        "x-sportello-timestamp",
        "x-sportello-signature",
        "x-sportello-signature-previous",
    }
)


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # transient: 408, 429, 5xx, network errors, timeouts
    PERMANENT = "permanent"  # other 4xx, redirects, refused destinations, bad input


@dataclass(frozen=True, slots=True)
class WebhookResult:
    outcome: Outcome
    status: int | None = None
    error: str = ""
    response_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    connect_timeout: float = 5.0
    total_timeout: float = 15.0
    max_response_bytes: int = 64 * 1024


class Refused(Exception):
    """The destination may not be called."""


def webhook_signature(*, secret: str, delivery_id: str, timestamp: int, body: str) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, f"{delivery_id}.{timestamp}.{body}")."""
    message = f"{delivery_id}.{timestamp}.{body}".encode()
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class AllowList:
    hosts: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(hosts=frozenset(hosts), networks=tuple(networks))


def _effective(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_refusal(ip: IPAddress) -> str | None:
    """Why `ip` may not be called (unless allow-listed), or None if it is a public address."""
    ip = _effective(ip)
    for label, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return label
    if not ip.is_global:
        return "not globally routable"
    return None


def resolve_destination(*, host: str, port: int, allow: AllowList) -> IPAddress:
    """Resolve `host` once and return the first address that may be called; raise `Refused`."""
    name = host.lower().rstrip(".")
    try:
        literal: IPAddress | None = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [literal]
    else:
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise ConnectionError(f"cannot resolve {name!r}: {exc}") from exc
        candidates = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in candidates:
                candidates.append(ip)
    reasons: list[str] = []
    for ip in candidates:
        if name in allow.hosts or any(_effective(ip) in net or ip in net for net in allow.networks):
            return ip
        reason = address_refusal(ip)
        if reason is None:
            return ip
        reasons.append(f"{ip} is {reason}")
    raise Refused(
        f"destination {name!r} refused: "
        + ("; ".join(reasons) or "no address")
        + " (add it to SPORTELLO['WEBHOOK_ALLOW'] to allow it)"
    )


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to a checked address; the Host header (and SNI) carry the name."""

    def __init__(
        self, host: str, port: int, *, ip: IPAddress, timeout: float, tls: ssl.SSLContext | None
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.default_port = 443 if tls is not None else 80
        self._ip = ip
        self._tls = tls
        self.raw_sock: socket.socket | None = None

    def connect(self) -> None:
        family = socket.AF_INET6 if self._ip.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect((str(self._ip), self.port))
        except BaseException:
            sock.close()
            raise
        self.raw_sock = sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


def _classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.SENT
    if status in (408, 429) or status >= 500:
        return Outcome.RETRY
    return Outcome.PERMANENT


def _drain(response: http.client.HTTPResponse, *, sock: socket.socket, deadline: float, limit: int) -> int:
    """Read at most `limit` bytes of the answer before `deadline`; return how many were read.
    The status already decided the outcome: a receiver that stalls or breaks off after its
    status line has still answered (a 2xx means it accepted the delivery)."""
    received = 0
    try:
        while received < limit and not response.isclosed():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(OSError):  # the response may have released the socket
                sock.settimeout(remaining)
            chunk = response.read1(min(8192, limit - received))
            if not chunk:
                break
            received += len(chunk)
    except (OSError, http.client.HTTPException):
        pass
    return received


def webhook_send(
    *,
    url: str,
    body: str,
    delivery_id: str,
    timestamp: int,
    secret: str | None,
    previous_secret: str | None = None,
    headers: Mapping[str, str] | None = None,
    allow: AllowList,
    limits: Limits,
    tls_context: ssl.SSLContext | None = None,
) -> WebhookResult:
    """POST `body` to `url` once. Never raises for delivery problems: the result says whether
    the attempt succeeded, should be retried, or failed for good. With a secret, the body is
    signed in `X-Sportello-Signature`; with a previous secret too (a rotation's grace period),
    also in `X-Sportello-Signature-Previous`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return WebhookResult(Outcome.PERMANENT, error=f"not an http(s) URL: {scheme or '?'}://")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return WebhookResult(Outcome.PERMANENT, error="invalid port in URL")
    try:
        ip = resolve_destination(host=parts.hostname, port=port, allow=allow)
    except Refused as exc:
        return WebhookResult(Outcome.PERMANENT, error=str(exc))
    except ConnectionError as exc:
        return WebhookResult(Outcome.RETRY, error=str(exc))

    try:
        json.loads(body)
        content_type = "application/json"
    except ValueError:
        content_type = "text/plain; charset=utf-8"
    out_headers = {k: v for k, v in (headers or {}).items() if k.lower() not in RESERVED_HEADERS}
    out_headers |= {
        "Content-Type": content_type,
        "User-Agent": "Sportello-Webhook/1",
        "X-Sportello-Delivery": delivery_id,
        "X-Sportello-Timestamp": str(timestamp),
    }
    if secret:
        out_headers["X-Sportello-Signature"] = webhook_signature(
            secret=secret, delivery_id=delivery_id, timestamp=timestamp, body=body
        )
        if previous_secret:
            out_headers["X-Sportello-Signature-Previous"] = webhook_signature(
                secret=previous_secret, delivery_id=delivery_id, timestamp=timestamp, body=body
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    tls = (tls_context or ssl.create_default_context()) if scheme == "https" else None
    conn = _PinnedConnection(parts.hostname, port, ip=ip, timeout=limits.connect_timeout, tls=tls)

    deadline = time.monotonic() + limits.total_timeout
    expired = threading.Event()

    def _cut() -> None:  # a trickling peer cannot stretch the attempt past the total bound
        expired.set()
        raw = conn.raw_sock  # not conn.sock: the connection lets go of it once a response is read
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(limits.total_timeout, _cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.connect()
        sock = conn.sock
        assert sock is not None
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        conn.request("POST", path, body=body.encode(), headers=out_headers)
        response = conn.getresponse()
        status = response.status
        received = _drain(response, sock=sock, deadline=deadline, limit=limits.max_response_bytes)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set() or isinstance(exc, TimeoutError):
            return WebhookResult(Outcome.RETRY, error=f"timed out after {limits.total_timeout:g}s")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return WebhookResult(Outcome.RETRY, error=f"TLS certificate: {exc.verify_message}")
        if isinstance(exc, ValueError):  # e.g. an invalid header from the rule
            return WebhookResult(Outcome.PERMANENT, error=f"invalid request: {exc}"[:500])
        return WebhookResult(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        watchdog.cancel()
        conn.close()
    outcome = _classify(status)
    error = ""
    if outcome is not Outcome.SENT:
        error = f"HTTP {status}"
        if 300 <= status < 400:
            error += " (redirects are not followed)"
    return WebhookResult(outcome, status=status, error=error, response_bytes=received)


# --------------------------------------------------------------------------------------------
# The transport


def deliver(attempt: Attempt) -> tuple[str, ...]:
    """Send a webhook item (the transport of kind "webhook"), signed with the secret its payload
    names (`secret_ref`)."""
    payload, now = attempt.payload, attempt.now
    try:
        url, body = str(payload["url"]), str(payload["body"])
        headers = {str(k): str(v) for k, v in dict(payload.get("headers") or {}).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentFailure(f"unusable webhook payload: {type(exc).__name__}: {exc}") from exc
    signing: secrets.Signing | None = None
    if ref := payload.get("secret_ref"):
        try:
            signing = secrets.signing_values(str(ref), now=now)
        except secrets.Undecryptable:
            raise PermanentFailure(
                f"cannot decrypt webhook secret {str(ref)[:100]!r} (SECRET_KEY changed?): rotate it"
            ) from None
        if signing is None:
            raise PermanentFailure(f"unknown webhook secret {str(ref)[:100]!r}")
    result = webhook_send(
        url=url,
        body=body,
        delivery_id=attempt.delivery_id,
        timestamp=int(now.timestamp()),
        secret=signing.current if signing is not None else None,
        previous_secret=signing.previous if signing is not None else None,
        headers=headers,
        allow=AllowList.parse(settings.SPORTELLO["WEBHOOK_ALLOW"]),
        limits=Limits(
            connect_timeout=float(settings.SPORTELLO["WEBHOOK_CONNECT_TIMEOUT"]),
            total_timeout=float(settings.SPORTELLO["WEBHOOK_TOTAL_TIMEOUT"]),
            max_response_bytes=int(settings.SPORTELLO["WEBHOOK_MAX_RESPONSE_BYTES"]),
        ),
    )
    if result.outcome is Outcome.PERMANENT:
        raise PermanentFailure(result.error)
    if result.outcome is Outcome.RETRY:
        raise TransientFailure(result.error)
    return ()


TRANSPORT = register_transport(
    Transport(
        kind="webhook",
        deliver=deliver,
        queue="webhook",
        retry_window_setting="WEBHOOK_RETRY_WINDOW",
        retry_window_default=WEBHOOK_RETRY_WINDOW,
    )
)
