"""Fixtures of the security battery, and the figures it prints at the end of the run.

The battery runs against the one local stack of the session (the `stack` fixture and its
HTTP clients). Every test adds what it tried and what it found to `support.FIGURES`; the
`pytest_terminal_summary` hook prints them, so a run states how much was attacked, not
only that nothing failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from tests.security.support import FIGURES

_FIGURE_LABELS = {
    "sentinel_submissions": "sentinel requests sent (submit, invalid, replay, callback, actions)",
    "sentinel_places_scanned": "places searched (answers, log lines, items, queue messages)",
    "sentinel_card_hits": "plain-text hits of the sentinel card number",
    "sentinel_cvv_hits": "hits of the sentinel CVV",
    "sealed_card_on_settled_payments": "settled/processing payments still holding sealed_card",
    "bola_pairs": "BOLA pairs tried (route x another merchant's key or payment)",
    "bola_failures": "BOLA pairs NOT refused with 403/404",
    "bad_key_cases": "missing/malformed/unknown/revoked key cases tried",
    "forged_callbacks": "forged callbacks tried",
    "forged_callbacks_accepted": "forged callbacks NOT refused with 401",
    "hygiene_cases": "request-hygiene cases tried (413/415/400)",
    "schemathesis_cases": "Schemathesis test cases generated",
    "schemathesis_failures": "Schemathesis failures (server errors, schema violations, ...)",
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the battery's figures when any security test ran."""
    if not FIGURES:
        return
    terminalreporter.section("security battery figures")
    for key, label in _FIGURE_LABELS.items():
        if key in FIGURES:
            terminalreporter.write_line(f"{FIGURES[key]:>8}  {label}")


class _Recorder(logging.Handler):
    """Keeps every record this process logs (the edge proxies, the event source)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
        with self._guard:
            self.lines.append(text)


@pytest.fixture(scope="session")
def in_process_log() -> Iterator[list[str]]:
    """The log lines of the test process itself (edge proxies, SQS event source)."""
    recorder = _Recorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    try:
        yield recorder.lines
    finally:
        root.removeHandler(recorder)
