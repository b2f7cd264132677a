"""The Idempotency-Key decisions: claim, replay, reuse, in progress, takeover, release, expiry."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.idempotent_submit import (
    IdempotentAnswer,
    IdempotentSubmit,
    request_hash,
    scope_of,
)
from shared_kernel.application.ports import IdempotencyState, StoredAnswer
from shared_kernel.application.submit_payment import SubmitPayment
from shared_kernel.domain.errors import IdempotencyInProgress, IdempotencyKeyReused

from .builders import MERCHANT_ID, SPEC_BODY
from .fakes import (
    FixedClock,
    InMemoryIdempotencyStore,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    SequentialIds,
)

pytestmark = pytest.mark.unit

MERCHANT = UUID("6f1c1c38-5d5e-4b8e-9d6c-3f0a7a1e2b11")
KEY = "order-1234-attempt-1"
SECRET = b"pepper-for-tests"
SUBMISSION = UUID("3d2f1e0c-9b8a-4c7d-8e6f-5a4b3c2d1e0f")
DAY = timedelta(hours=24)
BODY: dict[str, object] = {
    "card_number": "4242424242424242",
    "expiry_month": 12,
    "expiry_year": 2030,
    "cvv": "123",
    "amount": 1050,
    "currency": "GBP",
    "reference": "order-1234",
}


class CountingSubmission:
    """A submission that counts its runs and answers 201 with a numbered payment; it records
    the submission ids and resumed flags it was given."""

    def __init__(self) -> None:
        self.runs = 0
        self.calls: list[tuple[UUID, bool]] = []

    def __call__(self, submission_id: UUID = SUBMISSION, resumed: bool = False) -> StoredAnswer:
        self.runs += 1
        self.calls.append((submission_id, resumed))
        body = json.dumps({"id": f"payment-{self.runs}", "status": "pending"})
        return StoredAnswer(201, body, {"Location": f"/merchant/m/payment/payment-{self.runs}"})


class Boom(Exception):
    """The submission failed."""


@pytest.fixture
def store() -> InMemoryIdempotencyStore:
    """An empty idempotency store."""
    return InMemoryIdempotencyStore()


@pytest.fixture
def idempotent(store: InMemoryIdempotencyStore, clock: FixedClock) -> IdempotentSubmit:
    """The use case on the fake store and the fixed clock."""
    return IdempotentSubmit(store, clock, SequentialIds(), SECRET)


def test_first_request_runs_and_stores_its_answer(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """The first request with a key runs once and its answer is stored COMPLETED for 24 h."""
    submission = CountingSubmission()

    result = idempotent(MERCHANT, KEY, BODY, submission)

    assert (201, False, 1) == (result.answer.status, result.replayed, submission.runs)
    record = store.records[scope_of(MERCHANT, KEY)]
    assert IdempotencyState.COMPLETED == record.state
    assert result.answer == record.answer
    assert clock.now() + timedelta(hours=24) == record.expires_at


def test_repeat_with_same_body_replays_the_first_answer_without_running(
    idempotent: IdempotentSubmit,
) -> None:
    """A repeat returns the stored status, body and headers, marked replayed; nothing runs."""
    submission = CountingSubmission()
    first = idempotent(MERCHANT, KEY, BODY, submission)

    again = idempotent(MERCHANT, KEY, dict(reversed(list(BODY.items()))), submission)

    assert IdempotentAnswer(first.answer, replayed=True) == again
    assert 1 == submission.runs


def test_same_key_with_a_different_body_is_key_reused(idempotent: IdempotentSubmit) -> None:
    """The same key with another body raises IdempotencyKeyReused and runs nothing."""
    submission = CountingSubmission()
    idempotent(MERCHANT, KEY, BODY, submission)

    with pytest.raises(IdempotencyKeyReused):
        idempotent(MERCHANT, KEY, {**BODY, "amount": 1051}, submission)
    assert 1 == submission.runs


def test_the_key_is_scoped_per_merchant(idempotent: IdempotentSubmit) -> None:
    """Another merchant's identical key is a different scope: it runs on its own."""
    submission = CountingSubmission()
    idempotent(MERCHANT, KEY, BODY, submission)

    other = idempotent(UUID("0b7f3c52-1e0a-4c7e-8a51-6a1b2c3d4e5f"), KEY, BODY, submission)

    assert (False, 2) == (other.replayed, submission.runs)


def test_repeat_while_the_first_runs_is_in_progress(
    idempotent: IdempotentSubmit, clock: FixedClock
) -> None:
    """While the first request runs (its lock live), a repeat raises IdempotencyInProgress."""
    seen: list[type[Exception]] = []

    def first(submission_id: UUID, resumed: bool) -> StoredAnswer:
        clock.advance(timedelta(seconds=5))
        try:
            idempotent(MERCHANT, KEY, BODY, CountingSubmission())
        except IdempotencyInProgress as error:
            seen.append(type(error))
        return CountingSubmission()()

    result = idempotent(MERCHANT, KEY, BODY, first)

    assert [IdempotencyInProgress] == seen
    assert not result.replayed


def test_different_body_while_the_first_runs_is_key_reused(
    idempotent: IdempotentSubmit,
) -> None:
    """A different body is 422 even while the first request with the key still runs."""
    seen: list[type[Exception]] = []

    def first(submission_id: UUID, resumed: bool) -> StoredAnswer:
        try:
            idempotent(MERCHANT, KEY, {**BODY, "cvv": "999"}, CountingSubmission())
        except IdempotencyKeyReused as error:
            seen.append(type(error))
        return CountingSubmission()()

    idempotent(MERCHANT, KEY, BODY, first)

    assert [IdempotencyKeyReused] == seen


def test_abandoned_claim_is_taken_over_after_its_lock(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """An IN_PROGRESS record whose lock has passed (its function died) is taken over and run."""
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    fingerprint = request_hash(SECRET, BODY)
    assert store.claim(scope, fingerprint, "dead", SUBMISSION, now, now + timedelta(hours=24), now)
    clock.advance(timedelta(seconds=31))
    submission = CountingSubmission()

    result = idempotent(MERCHANT, KEY, BODY, submission)

    assert (False, 1) == (result.replayed, submission.runs)
    record = store.records[scope]
    assert (IdempotencyState.COMPLETED, result.answer) == (record.state, record.answer)
    assert "dead" != record.owner


def test_live_lock_is_not_taken_over(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """Before its lock passes, an IN_PROGRESS record is in progress, not taken over."""
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    lock = now + timedelta(seconds=30)
    store.claim(
        scope, request_hash(SECRET, BODY), "alive", SUBMISSION, now, now + timedelta(hours=24), lock
    )
    clock.advance(timedelta(seconds=29))

    with pytest.raises(IdempotencyInProgress):
        idempotent(MERCHANT, KEY, BODY, CountingSubmission())
    assert "alive" == store.records[scope].owner


def test_only_one_of_two_racing_takeovers_wins(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """When another request takes the abandoned claim first, ours is in progress, not run."""
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    store.claim(
        scope, request_hash(SECRET, BODY), "dead", SUBMISSION, now, now + timedelta(hours=24), now
    )
    clock.advance(timedelta(seconds=31))
    later = clock.now() + timedelta(seconds=30)
    rival_claims = ["claim fails", "takeover races"]

    def rival() -> None:
        rival_claims.pop()
        if rival_claims:
            store.before_write = rival
        else:
            assert store.take_over(scope, "dead", "rival", later)

    store.before_write = rival
    submission = CountingSubmission()

    with pytest.raises(IdempotencyInProgress):
        idempotent(MERCHANT, KEY, BODY, submission)
    assert (0, "rival") == (submission.runs, store.records[scope].owner)


def test_failed_submission_releases_the_key_for_a_retry(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """A submission that raises ends its lock at once: the error propagates, and a retry runs
    straight away, resuming the same submission id (the failure may follow a stored payment)."""
    given: list[UUID] = []

    def failing(submission_id: UUID, resumed: bool) -> StoredAnswer:
        given.append(submission_id)
        raise Boom

    with pytest.raises(Boom):
        idempotent(MERCHANT, KEY, BODY, failing)
    record = store.records[scope_of(MERCHANT, KEY)]
    assert (IdempotencyState.IN_PROGRESS, clock.now()) == (record.state, record.locked_until)
    clock.advance(timedelta(milliseconds=1))
    retry = CountingSubmission()

    answer = idempotent(MERCHANT, KEY, BODY, retry)

    assert (False, [(given[0], True)]) == (answer.replayed, retry.calls)


def test_expired_record_is_reused_as_new(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """After 24 h the key is free again: even a different body runs, and is stored anew."""
    submission = CountingSubmission()
    idempotent(MERCHANT, KEY, BODY, submission)
    clock.advance(timedelta(hours=24, seconds=1))

    again = idempotent(MERCHANT, KEY, {**BODY, "amount": 999}, submission)

    assert (False, 2) == (again.replayed, submission.runs)
    assert (
        request_hash(SECRET, {**BODY, "amount": 999})
        == store.records[scope_of(MERCHANT, KEY)].request_hash
    )


def test_record_released_between_claim_and_read_is_claimed_again(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """If the record in the way vanishes before it is read, the request claims and runs."""
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    lock = now + timedelta(seconds=30)
    store.claim(
        scope, request_hash(SECRET, BODY), "other", SUBMISSION, now, now + timedelta(hours=24), lock
    )
    original_get = store.get

    def get_after_release(wanted: str) -> object:
        del store.records[wanted]  # as when DynamoDB's TTL removes it
        store.get = original_get  # type: ignore[method-assign]
        return original_get(wanted)

    store.get = get_after_release  # type: ignore[method-assign,assignment]
    submission = CountingSubmission()

    result = idempotent(MERCHANT, KEY, BODY, submission)

    assert (False, 1) == (result.replayed, submission.runs)


def test_lost_claim_still_answers_the_submission(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore
) -> None:
    """If the claim was taken over meanwhile, the finished submission's answer is still given."""
    scope = scope_of(MERCHANT, KEY)

    def submission(submission_id: UUID, resumed: bool) -> StoredAnswer:
        store.records[scope] = replace(store.records[scope], owner="usurper")
        return CountingSubmission()()

    result = idempotent(MERCHANT, KEY, BODY, submission)

    assert (201, False) == (result.answer.status, result.replayed)
    assert IdempotencyState.IN_PROGRESS == store.records[scope].state


def test_request_hash_is_keyed_canonical_and_never_the_plain_card_hash() -> None:
    """Key order and spacing do not change the hash; the secret does; no unkeyed SHA-256."""
    import hashlib

    canonical = json.dumps(BODY, sort_keys=True, separators=(",", ":"))
    reordered = dict(reversed(list(BODY.items())))

    assert request_hash(SECRET, BODY) == request_hash(SECRET, reordered)
    assert request_hash(SECRET, BODY) != request_hash(b"another secret", BODY)
    assert hashlib.sha256(canonical.encode()).hexdigest() != request_hash(SECRET, BODY)
    assert 64 == len(request_hash(SECRET, BODY))


def test_fresh_claim_submits_under_a_new_id_and_a_takeover_resumes_it(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """A first claim runs with a new submission id, not resumed; a takeover of an abandoned
    claim runs with that claim's id, resumed, so the dead attempt's payment is not doubled."""
    fresh = CountingSubmission()
    idempotent(MERCHANT, "fresh-key", BODY, fresh)
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    store.claim(scope, request_hash(SECRET, BODY), "dead", SUBMISSION, now, now + DAY, now)
    clock.advance(timedelta(seconds=31))
    resumed = CountingSubmission()

    idempotent(MERCHANT, KEY, BODY, resumed)

    [(fresh_id, fresh_resumed)] = fresh.calls
    assert (False, fresh_id) == (
        fresh_resumed,
        store.records[scope_of(MERCHANT, "fresh-key")].submission_id,
    )
    assert [(SUBMISSION, True)] == resumed.calls


def test_submit_payment_resuming_returns_the_payment_already_stored(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    cipher: ReversibleCipher,
    clock: FixedClock,
    ids: SequentialIds,
) -> None:
    """SubmitPayment resumed under an id whose payment exists stores and queues nothing new."""
    submit = SubmitPayment(repository, queue, cipher, clock, ids)
    first = submit(MERCHANT_ID, SPEC_BODY, "corr-1", payment_id=SUBMISSION)

    again = submit(MERCHANT_ID, SPEC_BODY, "corr-2", payment_id=SUBMISSION, resume=True)

    assert (first.id, SUBMISSION) == (again.id, first.id)
    assert ([SUBMISSION], 1) == (list(repository.items), len(queue.messages))


def test_submit_payment_resuming_an_id_never_stored_stores_it(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    cipher: ReversibleCipher,
    clock: FixedClock,
    ids: SequentialIds,
) -> None:
    """If the dead attempt stored nothing, the resumed one stores the payment under the id."""
    submit = SubmitPayment(repository, queue, cipher, clock, ids)

    payment = submit(MERCHANT_ID, SPEC_BODY, "corr-1", payment_id=SUBMISSION, resume=True)

    assert (SUBMISSION, [SUBMISSION]) == (payment.id, [m.payment_id for m in queue.messages])
