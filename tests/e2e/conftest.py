"""Starts the whole local gateway once for the e2e session, on free ports, and stops it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from local.stack import LocalStack, Ports


@dataclass
class Merchant:
    """A merchant registered in the running stack."""

    id: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        """Its Authorization header."""
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The gateway, every part running, reconciler every 5 s."""
    log_dir: Path = tmp_path_factory.mktemp("stack-logs")
    local = LocalStack(
        Ports.all_free(),
        log_dir=log_dir,
        reconcile_every_s=5,
        bank_callback_delay_ms=100,
        quiet=True,
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    """An HTTP client for the merchant API."""
    with httpx.Client(
        base_url=f"http://127.0.0.1:{stack.ports.merchant_api}", timeout=30
    ) as client:
        yield client


@pytest.fixture(scope="session")
def bank(stack: LocalStack) -> Iterator[httpx.Client]:
    """An HTTP client for the bank simulator (its test-only records)."""
    with httpx.Client(
        base_url=f"http://127.0.0.1:{stack.ports.bank_simulator}", timeout=10
    ) as client:
        yield client


@pytest.fixture(scope="session")
def callback_api(stack: LocalStack) -> Iterator[httpx.Client]:
    """An HTTP client for the bank callback API."""
    with httpx.Client(
        base_url=f"http://127.0.0.1:{stack.ports.callback_api}", timeout=10
    ) as client:
        yield client


@pytest.fixture(scope="session")
def merchant(stack: LocalStack) -> Merchant:
    """A merchant of the running stack."""
    created = stack.register_merchant("E2E merchant")
    return Merchant(created["merchant_id"], created["api_key"])


@pytest.fixture(scope="session")
def other_merchant(stack: LocalStack) -> Merchant:
    """A second merchant, for the cross-merchant cases."""
    created = stack.register_merchant("Another merchant")
    return Merchant(created["merchant_id"], created["api_key"])
