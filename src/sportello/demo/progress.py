"""A one-line progress printer with a rate and an ETA, for long loads on a terminal or a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Call `advance()` as work is done and `done()` at the end. On a TTY the line is rewritten
    in place (at most ten times a second); otherwise a line is printed at every 10%."""

    def __init__(self, total: int, *, label: str, unit: str = "items", stream: TextIO | None = None) -> None:
        self.total = max(1, total)
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.count = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._next_decile = 1

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.count) / rate if rate > 0 else 0.0
        pct = 100 * self.count / self.total
        return (
            f"{self.label}: {self.count:,}/{self.total:,} {self.unit} ({pct:5.1f}%) "
            f"{rate:,.0f} {self.unit}/s, elapsed {_duration(elapsed)}, ETA {_duration(left)}"
        )

    def advance(self, n: int = 1) -> None:
        self.count += n
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or self.count >= self.total:
                self._last_draw = now
                self.stream.write("\r\x1b[K" + self.line())
                self.stream.flush()
        else:
            crossed = False
            while self._next_decile <= 10 and self.count * 10 >= self._next_decile * self.total:
                self._next_decile += 1
                crossed = True
            if crossed:
                self.stream.write(self.line() + "\n")
                self.stream.flush()

    def done(self) -> float:
        """Finish the line; return the elapsed seconds."""
        elapsed = time.monotonic() - self.started
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line() + "\n")
            self.stream.flush()
        elif self._next_decile <= 10:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
        return elapsed
