"""`make demo` (local/demo.py) against the running gateway: it walks every payment it says it
walks, and the receiver verified webhooks for them (SPEC §8 and §10's demo)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from local.stack import LocalStack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_walks_a_manual_payment_and_shows_verified_webhooks(stack: LocalStack) -> None:
    """The demo's output: the two automatic payments end succeeded and declined; the manual
    one is authorised, captured 800 of 1050 and refunded 300 then 200 (each action
    succeeded); and the local receiver verified at least one event per payment."""
    p = stack.ports
    env = {
        **os.environ,
        "MERCHANT_API_PORT": str(p.merchant_api),
        "CALLBACK_API_PORT": str(p.callback_api),
        "BANK_SIMULATOR_PORT": str(p.bank_simulator),
        "AWS_EMULATOR_PORT": str(p.aws_emulator),
        "WEBHOOK_SINK_PORT": str(p.webhook_sink),
    }
    run = subprocess.run(
        [sys.executable, "-m", "local.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = run.stdout

    assert 0 == run.returncode, run.stderr[-2000:]
    assert "status=succeeded" in out and "status=declined" in out, out
    assert re.search(r"status=authorized captured=0 refunded=0 refundable=0", out), out
    assert [("capture", "succeeded"), ("refund", "succeeded"), ("refund", "succeeded")] == (
        re.findall(r"(capture|refund) [0-9a-f-]{36} -> (\w+)", out)
    ), out
    assert "payment -> status=succeeded captured=800 refunded=500 refundable=300" in out, out
    verified = re.search(r"webhooks verified by the receiver: (\d+)", out)
    assert verified is not None and int(verified.group(1)) >= 3, out
