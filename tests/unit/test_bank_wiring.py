"""The composition root's bank: one HTTP client serves both bank ports."""

from __future__ import annotations

import pytest

from shared_kernel.adapters.bank.client import HttpAcquiringBank
from shared_kernel.bootstrap import build_gateway
from shared_kernel.settings import Settings

pytestmark = pytest.mark.unit


def test_bank_actions_and_bank_are_one_http_client() -> None:
    """`bank_actions` (captures, voids, refunds) is the same client as `bank`: one pool,
    one key, the same timeouts."""
    gateway = build_gateway(
        Settings.from_env(
            {"PAYMENTS_TABLE": "p", "MERCHANTS_TABLE": "m", "BANK_URL": "http://127.0.0.1:1/"}
        )
    )

    assert isinstance(gateway.bank_actions, HttpAcquiringBank)
    assert gateway.bank is gateway.bank_actions
