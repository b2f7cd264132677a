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
