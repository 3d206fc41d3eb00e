"""A real SMTP server on loopback for tests (aiosmtpd): it keeps what it receives and can be told
to refuse the next messages with a temporary (4xx) or permanent (5xx) answer, at RCPT or at DATA.

`running_sink()` runs one for the duration of a `with` block; `mailers_for(port)` is the
MAILERS setting that points Django's default mailer (its SMTP backend) at it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from threading import Lock
from typing import Any, Literal

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
ANSWERS = {
    421: "421 4.3.2 Service shutting down, try later",
    450: "450 4.2.1 Mailbox busy, try later",
    451: "451 4.3.0 Temporary failure, try later",
    550: "550 5.1.1 No such user here",
    552: "552 5.3.4 Message too big",
    554: "554 5.7.1 Message refused",
}


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def parsed(self) -> EmailMessage:
        """The message as the stdlib reads it (line ends as "\\n", as in a mailbox file)."""
        msg = message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass(slots=True)
class _Refusal:
    code: int
    count: int
    at: Literal["rcpt", "data"]


@dataclass
class SinkHandler:
    """The aiosmtpd handler: stores accepted envelopes; refuses messages while told to."""

    received: list[Received] = field(default_factory=list)
    refusals: list[_Refusal] = field(default_factory=list)
    refused: int = 0  # messages refused so far
    _lock: Lock = field(default_factory=Lock)

    def refuse(self, *, code: int, count: int = 1, at: Literal["rcpt", "data"] = "rcpt") -> None:
        """Answer `code` to the next `count` messages, at RCPT TO or at DATA."""
        with self._lock:
            self.refusals.append(_Refusal(code=code, count=count, at=at))

    def _refusal(self, at: str) -> str | None:
        with self._lock:
            if not self.refusals or self.refusals[0].at != at:
                return None
            current = self.refusals[0]
            current.count -= 1
            if current.count <= 0:
                self.refusals.pop(0)
            self.refused += 1
            return ANSWERS.get(current.code, f"{current.code} refused")

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        # One refusal per message: a message with several recipients is refused at its first.
        if not envelope.rcpt_tos and (answer := self._refusal("rcpt")) is not None:
            envelope.refused_at_rcpt = True
            return answer
        if getattr(envelope, "refused_at_rcpt", False):
            return ANSWERS[550]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if (answer := self._refusal("data")) is not None:
            return answer
        content = envelope.original_content or envelope.content
        with self._lock:
            self.received.append(
                Received(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), raw=bytes(content))
            )
        return "250 2.0.0 Message accepted"


@dataclass
class Sink:
    handler: SinkHandler
    host: str
    port: int

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def refuse(self, *, code: int, count: int = 1, at: Literal["rcpt", "data"] = "rcpt") -> None:
        self.handler.refuse(code=code, count=count, at=at)


def free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (bound then released: the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def running_sink() -> Iterator[Sink]:
    handler = SinkHandler()
    controller = Controller(handler, hostname=HOST, port=free_port(), ready_timeout=10)
    controller.start()
    try:
        yield Sink(handler=handler, host=HOST, port=controller.port)
    finally:
        controller.stop()


def mailers_for(port: int, *, host: str = HOST, timeout: float = 5.0) -> dict[str, Any]:
    """A MAILERS setting whose default mailer is Django's SMTP backend at host:port."""
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": host, "port": port, "timeout": timeout},
        }
    }
