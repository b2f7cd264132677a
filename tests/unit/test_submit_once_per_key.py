"""SubmitOncePerKey: without an Idempotency-Key every request is a new payment; with one, the
first request's payment is stored once and every repeat replays it."""

from __future__ import annotations

import logging

import pytest

from shared_kernel.application.errors import IdempotencyKeyReused
from shared_kernel.application.idempotent_submit import scope_of
from shared_kernel.application.submit_once_per_key import (
    Submission,
    Submitted,
)
from shared_kernel.domain.errors import ValidationError

from .builders import MERCHANT_ID, OTHER_MERCHANT_ID, SPEC_BODY, body
from .fakes import SubmitWiring

pytestmark = pytest.mark.unit

KEY = "order-1234-attempt-1"


@pytest.fixture
def wiring() -> SubmitWiring:
    """Nothing stored yet."""
    return SubmitWiring()


def request(key: str | None = KEY, fields: dict[str, object] = SPEC_BODY) -> Submission:
    """The SPEC's example submission by its merchant."""
    return Submission(MERCHANT_ID, fields, "corr-1", key)


def test_without_a_key_every_request_is_a_new_payment(wiring: SubmitWiring) -> None:
    """Two requests without a key: two payments, two queue messages, no replay, and the
    idempotency use case (a secret read, a table) is never built."""
    first = wiring.submit_once_per_key(request(key=None))
    second = wiring.submit_once_per_key(request(key=None))

    assert (False, False) == (first.replayed, second.replayed)
    assert 2 == len({first.payment.id, second.payment.id}) == len(wiring.repository.items)
    assert (2, 0, {}) == (len(wiring.queue.messages), wiring.built, wiring.store.records)


def test_with_a_key_the_repeat_replays_the_payment_the_first_stored(wiring: SubmitWiring) -> None:
    """The first request stores the payment under its claim's submission id; the repeat is
    that payment, replayed, and nothing is stored or queued again."""
    first = wiring.submit_once_per_key(request())
    again = wiring.submit_once_per_key(request())

    submission_id = wiring.store.records[scope_of(MERCHANT_ID, KEY)].submission_id
    assert (Submitted(first.payment, replayed=True), submission_id) == (again, first.payment.id)
    assert (False, 1, 1) == (
        first.replayed,
        len(wiring.repository.items),
        len(wiring.queue.messages),
    )


def test_the_same_key_of_another_merchant_is_its_own_submission(wiring: SubmitWiring) -> None:
    """Keys are scoped per merchant: another merchant's request with the key is fresh."""
    first = wiring.submit_once_per_key(request())
    other = wiring.submit_once_per_key(Submission(OTHER_MERCHANT_ID, SPEC_BODY, "corr-2", KEY))

    assert (False, OTHER_MERCHANT_ID) == (other.replayed, other.payment.merchant_id)
    assert first.payment.id != other.payment.id


def test_the_key_with_another_body_is_refused(wiring: SubmitWiring) -> None:
    """The key reused with a different body raises IdempotencyKeyReused; nothing new stored."""
    wiring.submit_once_per_key(request())

    with pytest.raises(IdempotencyKeyReused):
        wiring.submit_once_per_key(request(fields=body(amount=999)))
    assert 1 == len(wiring.repository.items)


def test_an_invalid_submission_with_a_key_releases_its_claim(wiring: SubmitWiring) -> None:
    """A submission the domain refuses raises ValidationError and lets a retry run at once
    (its claim's lock released)."""
    with pytest.raises(ValidationError):
        wiring.submit_once_per_key(request(fields=body(expiry_year=2020)))

    record = wiring.store.records[scope_of(MERCHANT_ID, KEY)]
    assert (wiring.clock.now(), {}) == (record.locked_until, wiring.repository.items)


def test_each_fresh_payment_is_logged_once_and_a_replay_is_not(
    wiring: SubmitWiring, caplog: pytest.LogCaptureFixture
) -> None:
    """ "payment accepted" with the payment id, for the first request only."""
    with caplog.at_level(logging.INFO):
        first = wiring.submit_once_per_key(request())
        wiring.submit_once_per_key(request())

    accepted = [r for r in caplog.records if r.getMessage() == "payment accepted"]
    assert [str(first.payment.id)] == [r.__dict__["payment_id"] for r in accepted]
