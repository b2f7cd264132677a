"""Fixtures of the reliability battery, and the table of figures it prints at the end.

The battery runs against the session's one local stack (tests/conftest.py). Each test adds
a row to FIGURES (payments, bank POSTs, resends after a known 202, extra charges a bank
without idempotency takes against their bound, failed payments against theirs, lost, charged
twice, the money movements asked, accepted and refused, over-refunds at the bank, time
to settle, and each fault's proof); the `pytest_terminal_summary` hook prints
them whatever the output capture, so a run states how hard the gateway was pushed, not only
that nothing failed. Column meanings: tests/reliability/oracle.py and test_exactly_once.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

FIGURES: list[dict[str, Any]] = []
_COLUMNS = (
    ("test", "test", 26),
    ("idempotency", "bank idem.", 10),
    ("payments", "payments", 8),
    ("posts", "bank POSTs", 10),
    ("resends", "resent after 202", 26),
    ("extra", "extra if no idem.", 17),
    ("failed", "failed <= bound", 20),
    ("lost", "lost", 4),
    ("double_charged", "charged twice", 13),
    ("actions", "actions asked/202/409", 21),
    ("over_refunded", "over-refunded", 13),
    ("submit_s", "submit s", 8),
    ("settle_s", "settle s", 8),
    ("faults", "faults injected, and proof", 0),
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
    """Every test leaves the simulator without faults and idempotent, whatever happened."""
    yield
    bank.put("/_sim/faults", json={})
    bank.put("/_sim/mode", json={})


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """This test's row of figures (printed at the end of the run; also in the JUnit XML)."""
    row: dict[str, Any] = {"test": request.node.name.removeprefix("test_")[:26]}
    yield row
    FIGURES.append(row)
    for key, value in row.items():
        request.node.user_properties.append((key, value))
