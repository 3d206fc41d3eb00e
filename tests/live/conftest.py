"""The `live` fixture: one real server per test session (see `server.py` and `README.md`).

Tests that use it carry `pytestmark = LIVE` so xdist (`--dist loadgroup`) runs them all in one
worker, which starts the server once. Its log is appended to the report of a failed test."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from live.server import LiveDesk, LiveServer


def pytest_configure(config: pytest.Config) -> None:
    # Known without xdist too (`-p no:xdist`), where `--strict-markers` would refuse it.
    config.addinivalue_line("markers", "xdist_group(name): run the group's tests in one xdist worker")


@pytest.fixture(scope="session")
def sportello_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(Path(tmp_path_factory.mktemp("live")))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def live(sportello_server: LiveServer) -> LiveDesk:
    """The live desk: base URL, seeded ids, tokens per role, `get/post/patch/put`, `race`."""
    return LiveDesk(sportello_server)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
    server = getattr(item, "funcargs", {}).get("sportello_server")
    if report.failed and isinstance(server, LiveServer):
        report.sections.append(("live server log (tail)", server.log_tail()))
    return report
