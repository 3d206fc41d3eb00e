"""The corpus cache under concurrency: several processes asking for the corpora at once, from
an empty cache, against a local fake source (no network). One of them extracts, every one of
them gets every file, nothing another may read is ever deleted."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import corpora

HERE = Path(__file__).parent
SRC = HERE.parent.parent / "src"
PROCESSES = 4

# Run in each process: wait for the common start, load the corpora, read every file.
SCRIPT = """
import json, sys, time
import corpora
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
c = corpora.load_corpora()
print(json.dumps({f: sum(len(p.read_bytes()) > 0 for p in paths) for f, paths in sorted(c.files.items())}))
"""


def _tar(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _source(tmp: Path) -> Path:
    """Archives named and laid out like the pinned sdists, with made-up samples."""
    source = tmp / "source"
    source.mkdir()
    flufl = "flufl_bounce-6.0.0"
    _tar(
        source / f"{flufl}.tar.gz",
        {
            **{
                f"{flufl}/tests/data/sample_{i:03}.txt": f"From: a@b\n\nbounce {i}\n".encode()
                for i in range(117)
            },
            f"{flufl}/tests/test_detectors.py": b"DETECTORS = []\n",
            f"{flufl}/README.rst": b"not extracted\n",
        },
    )
    _tar(
        source / "mail_parser-4.8.0.tar.gz",
        {f"mail_parser-4.8.0/tests/mails/mail_test_{i}": b"Subject: x\n\nbody\n" for i in range(12)},
    )
    return source


def _run_at_once(cache: Path, source: Path) -> list[dict[str, int]]:
    env = {
        **os.environ,
        "SPORTELLO_CORPORA": str(cache),
        "SPORTELLO_CORPORA_SOURCE": str(source),
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(SRC)]),
    }
    start = time.time() + 1.5  # after every interpreter has started
    processes = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", SCRIPT, str(start)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    for p in processes:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        results.append(json.loads(out))
    return results


EXPECTED = {"flufl_bounce": 117, "flufl_expectations": 1, "mail_parser": 12}


def test_processes_fetching_an_empty_cache_at_once_all_get_every_file(tmp_path: Path) -> None:
    # given an empty cache and a local source of archives
    cache, source = tmp_path / "cache", _source(tmp_path)
    # when four processes ask for the corpora at the same instant
    results = _run_at_once(cache, source)
    # then each sees every file of every family the source provides
    assert results == [EXPECTED] * PROCESSES
    # and the files were extracted once, into one folder renamed into place, with no leftovers
    assert len([p for p in cache.iterdir() if p.is_dir() and p.name.startswith(corpora.EXTRACTED)]) == 1
    assert [p.name for p in cache.iterdir() if p.name.startswith(".extract-")] == []
    manifest = json.loads((cache / corpora.MANIFEST).read_text())
    assert manifest["missing"]["stdlib"] == "archive not downloaded"
    assert sorted(manifest["archives"]) == ["flufl_bounce-6.0.0.tar.gz", "mail_parser-4.8.0.tar.gz"]


def test_a_damaged_cache_is_extracted_again_beside_the_old_files_never_over_them(tmp_path: Path) -> None:
    # given a complete cache from which someone removed a file
    cache, source = tmp_path / "cache", _source(tmp_path)
    _run_at_once(cache, source)
    (old,) = [p for p in cache.iterdir() if p.is_dir() and p.name.startswith(corpora.EXTRACTED)]
    removed = next(old.rglob("sample_000.txt"))
    removed.unlink()
    kept = sorted(p.relative_to(old) for p in old.rglob("*") if p.is_file())
    # when processes ask for the corpora again at once
    results = _run_at_once(cache, source)
    # then they get every file, from one new folder, and the old folder is left as it was
    assert results == [EXPECTED] * PROCESSES
    trees = [p for p in cache.iterdir() if p.is_dir() and p.name.startswith(corpora.EXTRACTED)]
    assert len(trees) == 2
    assert sorted(p.relative_to(old) for p in old.rglob("*") if p.is_file()) == kept
