"""Fixtures of the reliability battery, and the table of figures it prints at the end.

The battery runs against the session's one local stack (tests/conftest.py). Each test adds
a row to FIGURES (payments, faults injected, lost, charged twice, time to settle); the
`pytest_terminal_summary` hook prints them whatever the output capture, so a run states how
hard the gateway was pushed, not only that nothing failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

FIGURES: list[dict[str, Any]] = []
_COLUMNS = (
    ("test", "test", 26),
    ("payments", "payments", 9),
    ("faults", "faults injected", 48),
    ("lost", "lost", 5),
    ("double_charged", "charged twice", 14),
    ("submit_s", "submit s", 9),
    ("settle_s", "then settle s", 13),
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the battery's figures when any reliability test ran."""
    if not FIGURES:
        return
    terminalreporter.section("reliability battery figures")
    terminalreporter.write_line("  ".join(f"{label:<{width}}" for _, label, width in _COLUMNS))
    for row in FIGURES:
        terminalreporter.write_line(
            "  ".join(f"{row.get(key, '')!s:<{width}}" for key, _, width in _COLUMNS)
        )


@pytest.fixture(autouse=True)
def _faults_cleared_after(bank: httpx.Client) -> Iterator[None]:
    """Every test leaves the simulator without faults, whatever happened."""
    yield
    bank.put("/_sim/faults", json={})


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """This test's row of figures (printed at the end of the run; also in the JUnit XML)."""
    row: dict[str, Any] = {"test": request.node.name.removeprefix("test_")[:26]}
    yield row
    FIGURES.append(row)
    for key, value in row.items():
        request.node.user_properties.append((key, value))
