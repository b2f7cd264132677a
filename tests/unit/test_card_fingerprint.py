"""Card fingerprints: a keyed HMAC of the card number, stored on the payment for duplicate
detection, never the number or a reversible form of it."""

from __future__ import annotations

import re

import pytest

from shared_kernel.adapters.fingerprint import HmacCardFingerprinter
from shared_kernel.application.submit_payment import SubmitPayment

from .builders import MERCHANT_ID, body
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    SequentialIds,
)

pytestmark = pytest.mark.unit

CARD = "4242424242424242"


def test_a_fingerprint_is_a_versioned_hex_hmac() -> None:
    """`fp1:` and 64 hex digits; the same card and key give the same fingerprint."""
    fingerprint = HmacCardFingerprinter(lambda: "key-1")

    assert re.fullmatch(r"fp1:[0-9a-f]{64}", fingerprint(CARD))
    assert fingerprint(CARD) == fingerprint(CARD)


def test_fingerprints_depend_on_the_key_and_the_card() -> None:
    """Another key or another card: another fingerprint (a plain hash could be enumerated)."""
    one, other = HmacCardFingerprinter(lambda: "key-1"), HmacCardFingerprinter(lambda: "key-2")

    assert len({one(CARD), other(CARD), one("4000000000000002")}) == 3


def test_submit_stores_the_fingerprint_and_two_payments_of_one_card_share_it(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    cipher: ReversibleCipher,
    clock: FixedClock,
    ids: SequentialIds,
) -> None:
    """The use case fingerprints the card it accepts; the number is not in the fingerprint."""
    fingerprint = HmacCardFingerprinter(lambda: "key-1")
    submit = SubmitPayment(repository, queue, cipher, clock, ids, fingerprint)

    first = submit(MERCHANT_ID, body(card_number=CARD), "corr-1")
    second = submit(MERCHANT_ID, body(card_number=CARD), "corr-2")
    stored = [repository.get(first.id).card_fingerprint, repository.get(second.id).card_fingerprint]

    assert [fingerprint(CARD)] * 2 == stored
    assert CARD not in str(stored) and CARD[:6] not in str(stored)
