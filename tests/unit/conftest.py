"""Fixtures shared by the unit tests: one fresh fake per port."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared_kernel.application.forward_payment import ForwardPayment

from .builders import pending_payment
from .fakes import (
    FixedClock,
    InMemoryMerchantDirectory,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    ScriptedBank,
    SequentialIds,
)


@pytest.fixture
def clock() -> FixedClock:
    """A clock stopped at 2026-11-26T10:00:00Z."""
    return FixedClock()


@pytest.fixture
def repository() -> InMemoryPaymentRepository:
    """An empty payment repository."""
    return InMemoryPaymentRepository()


@pytest.fixture
def queue() -> InMemoryPaymentQueue:
    """A working, empty payment queue."""
    return InMemoryPaymentQueue()


@pytest.fixture
def bank() -> ScriptedBank:
    """A bank that accepts everything until scripted otherwise."""
    return ScriptedBank()


@pytest.fixture
def cipher() -> ReversibleCipher:
    """A card cipher bound to payment and merchant ids."""
    return ReversibleCipher()


@pytest.fixture
def ids() -> SequentialIds:
    """Predictable payment and merchant ids."""
    return SequentialIds()


@pytest.fixture
def directory() -> InMemoryMerchantDirectory:
    """An empty merchant directory."""
    return InMemoryMerchantDirectory()


@pytest.fixture
def forward(
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> ForwardPayment:
    """The forwarding use case over a repository holding one pending payment (the SPEC
    example), two seconds after it was accepted."""
    repository.add(pending_payment(cipher))
    clock.advance(timedelta(seconds=2))
    return ForwardPayment(repository, bank, cipher, clock)
