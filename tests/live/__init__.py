"""Tests against a live server (`sportello serve`) on both databases; see README.md."""

import pytest

# Every live test module sets `pytestmark = LIVE`: one xdist worker runs them, sharing one server.
LIVE = [pytest.mark.xdist_group("live")]
