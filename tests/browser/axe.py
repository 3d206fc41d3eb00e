"""axe-core in the page: `assert_accessible(page)` fails with every violation, named."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

_AXE = Axe()


def assert_accessible(page: Any, *, context: str = "") -> None:
    results = _AXE.run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}
        },
    )
    violations = results.response.get("violations", [])
    if violations:
        lines = []
        for v in violations:
            targets = [", ".join(n.get("target", [])) for n in v.get("nodes", [])][:5]
            lines.append(f"{v['id']} ({v.get('impact')}): {v['help']} — {targets}")
        raise AssertionError(
            f"axe-core violations{' on ' + context if context else ''}:\n" + "\n".join(lines)
        )
