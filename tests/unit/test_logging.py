"""The structured logger writes each line once: through its own handler, not the root's too."""

from __future__ import annotations

import logging

import pytest

from shared_kernel.observability.logging import get_logger

pytestmark = pytest.mark.unit


def test_a_services_log_line_is_written_once_and_not_passed_to_the_root(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """get_logger's lines go to stdout through its own handler, and none reaches the root
    logger's handlers (pytest's capture among them), which would print it a second time."""
    logger = get_logger("written-once-test")

    with caplog.at_level(logging.INFO):
        logger.info("settled payment")

    lines = [line for line in capsys.readouterr().out.splitlines() if "settled payment" in line]
    assert (1, []) == (len(lines), [r for r in caplog.records if r.name == logger.name])


def test_library_records_leave_on_stdout_with_the_services_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A root handler on stderr (what serverless-offline's runner installs) is moved to stdout:
    one stream keeps an invocation's lines in order, and the runner read stderr apart and lost
    its late lines."""
    import sys

    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    root.addHandler(handler)
    try:
        get_logger("stdout-routing-test-" + str(id(handler)))
        logging.getLogger("shared_kernel.some_use_case").warning("bank update applied")
    finally:
        root.removeHandler(handler)

    captured = capsys.readouterr()
    assert (sys.stdout, True, False) == (
        handler.stream,
        "bank update applied" in captured.out,
        "bank update applied" in captured.err,
    )
