"""ForwardPayment tells the bank whether to capture: only automatic payments are captured."""

from __future__ import annotations

import pytest

from shared_kernel.application.forward_payment import ForwardPayment
from shared_kernel.application.ports import QueuedPayment

from .builders import MERCHANT_ID, PAYMENT_ID, pending_payment
from .fakes import FixedClock, InMemoryPaymentRepository, ReversibleCipher, ScriptedBank

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("capture_method", "capture"), [("automatic", True), ("manual", False)])
def test_the_bank_is_asked_to_capture_only_automatic_payments(
    capture_method: str,
    capture: bool,
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """A manual payment is sent with capture false (authorise only), an automatic one true."""
    payment = pending_payment(cipher, capture_method=capture_method)
    repository.add(payment)

    ForwardPayment(repository, bank, cipher, clock)(
        QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1")
    )

    assert [capture] == [request.capture for request in bank.requests]
