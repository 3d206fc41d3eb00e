"""A real IMAP server on loopback for tests: pymap's in-memory backend in a subprocess, with one
user, and a few client-side helpers (create a folder, append, read flags, expunge) that talk to
it over IMAP like another mail client would."""

from __future__ import annotations

import imaplib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

HOST = "127.0.0.1"
USER = "desk"
PASSWORD = "imap-secret-42"
STARTUP_TIMEOUT = 20.0  # seconds
_APPENDUID = re.compile(rb"APPENDUID (\d+) (\d+)")
_FLAGS = re.compile(rb"UID (\d+)|FLAGS \(([^)]*)\)")


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _pymap_command() -> list[str]:
    found = shutil.which("pymap", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "pymap.main"]


class ImapServer:
    """`pymap --no-tls dict` on 127.0.0.1 and a free port, user `USER` / `PASSWORD`."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = 0
        self.user = USER
        self.password = PASSWORD
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ImapServer:
        self.port = free_port()
        command = [
            *_pymap_command(),
            "--host", self.host, "--port", str(self.port), "--no-tls",
            "dict", "--demo-user", self.user, "--demo-password", self.password,
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"pymap exited with {self._process.returncode}: {self._output()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"pymap did not listen on port {self.port}: {self._output()}"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._log.close()

    def _output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-2000:]

    # -- another mail client ---------------------------------------------------------------

    @contextmanager
    def client(self, folder: str | None = None) -> Iterator[imaplib.IMAP4]:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(self.user, self.password)
            if folder is not None:
                typ, data = client.select(folder)
                assert typ == "OK", data
            yield client
        finally:
            try:
                client.logout()
            except (imaplib.IMAP4.error, OSError):
                client.shutdown()

    def create_folder(self, folder: str) -> int:
        """A new empty folder; its UIDVALIDITY."""
        with self.client() as c:
            typ, data = c.create(folder)
            assert typ == "OK", data
            return self.uidvalidity(folder, client=c)

    def delete_folder(self, folder: str) -> None:
        with self.client() as c:
            typ, data = c.delete(folder)
            assert typ == "OK", data

    def uidvalidity(self, folder: str, *, client: imaplib.IMAP4 | None = None) -> int:
        if client is None:
            with self.client() as c:
                return self.uidvalidity(folder, client=c)
        typ, data = client.status(folder, "(UIDVALIDITY)")
        assert typ == "OK", data
        found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
        assert found is not None, data
        return int(found.group(1))

    def append(self, folder: str, *messages: bytes) -> list[int]:
        """Append the messages (unread); their UIDs."""
        uids = []
        with self.client() as c:
            for raw in messages:
                typ, data = c.append(folder, None, None, raw)
                assert typ == "OK", data
                found = _APPENDUID.search(data[0] or b"")
                assert found is not None, data
                uids.append(int(found.group(2)))
        return uids

    def flags(self, folder: str) -> dict[int, set[str]]:
        """Every message's flags (without `\\Recent`), by UID."""
        with self.client(folder) as c:
            typ, data = c.uid("FETCH", "1:*", "(UID FLAGS)")
            assert typ == "OK", data
        out: dict[int, set[str]] = {}
        for item in data:
            if not isinstance(item, bytes):
                continue
            uid: int | None = None
            flags: set[str] = set()
            for m in _FLAGS.finditer(item):
                if m.group(1) is not None:
                    uid = int(m.group(1))
                else:
                    flags = {f.decode() for f in m.group(2).split()} - {"\\Recent"}
            if uid is not None:
                out[uid] = flags
        return out

    def expunge(self, folder: str, *uids: int) -> None:
        """Delete messages for good, as another client would."""
        with self.client(folder) as c:
            for uid in uids:
                typ, data = c.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
                assert typ == "OK", data
            typ, data = c.expunge()
            assert typ == "OK", data
