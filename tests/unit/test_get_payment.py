"""GetPayment: a merchant reads its own payments; anyone else's is not found."""

from __future__ import annotations

from uuid import UUID

import pytest

from shared_kernel.application.get_payment import GetPayment
from shared_kernel.domain.errors import PaymentNotFound

from .builders import MERCHANT_ID, OTHER_MERCHANT_ID, PAYMENT_ID, pending_payment
from .fakes import InMemoryPaymentRepository, ReversibleCipher

pytestmark = pytest.mark.unit


@pytest.fixture
def get_payment(repository: InMemoryPaymentRepository, cipher: ReversibleCipher) -> GetPayment:
    """The use case over a repository holding one payment of MERCHANT_ID."""
    repository.add(pending_payment(cipher))
    return GetPayment(repository)


def test_returns_the_merchants_own_payment(
    get_payment: GetPayment, repository: InMemoryPaymentRepository
) -> None:
    """A merchant reading its own payment gets it."""
    assert repository.get(PAYMENT_ID) == get_payment(MERCHANT_ID, PAYMENT_ID)


def test_another_merchants_payment_is_not_found(get_payment: GetPayment) -> None:
    """Reading another merchant's payment raises PaymentNotFound, not a permission error."""
    with pytest.raises(PaymentNotFound):
        get_payment(OTHER_MERCHANT_ID, PAYMENT_ID)


def test_an_unknown_payment_is_not_found(get_payment: GetPayment) -> None:
    """Reading an id that was never stored raises PaymentNotFound."""
    with pytest.raises(PaymentNotFound):
        get_payment(MERCHANT_ID, UUID("00000000-0000-4000-8000-000000000000"))
