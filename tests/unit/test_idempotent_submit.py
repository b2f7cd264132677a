"""The Idempotency-Key decisions: claim, replay, reuse, in progress, takeover, release, expiry."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import NamedTuple
from uuid import UUID

import pytest

from shared_kernel.application.errors import IdempotencyInProgress, IdempotencyKeyReused
from shared_kernel.application.idempotent_submit import (
    IdempotentAnswer,
    IdempotentSubmit,
    request_hash,
    scope_of,
)
from shared_kernel.application.ports import IdempotencyClaim
from shared_kernel.application.submit_payment import SubmitPayment

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


class Answer(NamedTuple):
    """A submission's answer as these tests give it (IdempotentSubmit is generic in it)."""

    status: int
    body: str
    headers: dict[str, str]


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


class Payments:
    """Stands in for the payments table: `submit` stores a numbered 201 under its submission
    id (counting its runs, recording the ids and resumed flags it was given); `replay` reads
    the answer back, None while nothing is stored under the id."""

    def __init__(self) -> None:
        self.runs = 0
        self.calls: list[tuple[UUID, bool]] = []
        self.stored: dict[UUID, Answer] = {}
        self.replayed: list[UUID] = []

    def submit(self, submission_id: UUID, resumed: bool) -> Answer:
        self.runs += 1
        self.calls.append((submission_id, resumed))
        body = json.dumps({"id": str(submission_id), "status": "pending"})
        answer = Answer(201, body, {"Location": f"/merchant/m/payment/{submission_id}"})
        return self.stored.setdefault(submission_id, answer)

    def replay(self, submission_id: UUID) -> Answer | None:
        self.replayed.append(submission_id)
        return self.stored.get(submission_id)


def claim_of(
    scope: str, owner: str, now: datetime, locked_until: datetime, body: dict[str, object] = BODY
) -> IdempotencyClaim:
    """Another request's claim on `scope` for `body`, under SUBMISSION, made at `now`."""
    return IdempotencyClaim(
        scope, request_hash(SECRET, body), owner, SUBMISSION, now, now + DAY, locked_until
    )


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


@pytest.fixture
def payments() -> Payments:
    """Nothing stored yet."""
    return Payments()


def test_first_request_runs_under_its_claim_and_stores_no_answer(
    idempotent: IdempotentSubmit,
    store: InMemoryIdempotencyStore,
    clock: FixedClock,
    payments: Payments,
) -> None:
    """The first request runs once under the claim's submission id; the claim (24 h, lock
    30 s) is the only record, with no answer in it."""
    result = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    [(submission_id, resumed)] = payments.calls
    assert (201, False, False) == (result.answer.status, result.replayed, resumed)
    record = store.records[scope_of(MERCHANT, KEY)]
    assert (submission_id, clock.now() + DAY, clock.now() + timedelta(seconds=30)) == (
        record.submission_id,
        record.expires_at,
        record.locked_until,
    )
    assert [] == payments.replayed


def test_repeat_with_same_body_replays_the_first_answer_without_running(
    idempotent: IdempotentSubmit, payments: Payments
) -> None:
    """A repeat answers what the payment under the claim's id rebuilds, marked replayed;
    nothing runs again."""
    first = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    reordered = dict(reversed(list(BODY.items())))
    again = idempotent(MERCHANT, KEY, reordered, payments.submit, payments.replay)

    assert IdempotentAnswer(first.answer, replayed=True) == again
    assert (1, [payments.calls[0][0]]) == (payments.runs, payments.replayed)


def test_same_key_with_a_different_body_is_key_reused(
    idempotent: IdempotentSubmit, payments: Payments
) -> None:
    """The same key with another body raises IdempotencyKeyReused; nothing runs or replays."""
    idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    with pytest.raises(IdempotencyKeyReused):
        idempotent(MERCHANT, KEY, {**BODY, "amount": 1051}, payments.submit, payments.replay)
    assert (1, []) == (payments.runs, payments.replayed)


def test_the_key_is_scoped_per_merchant(idempotent: IdempotentSubmit, payments: Payments) -> None:
    """Another merchant's identical key is a different scope: it runs on its own."""
    idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    other_merchant = UUID("0b7f3c52-1e0a-4c7e-8a51-6a1b2c3d4e5f")
    other = idempotent(other_merchant, KEY, BODY, payments.submit, payments.replay)

    assert (False, 2) == (other.replayed, payments.runs)


def test_repeat_while_the_first_runs_and_stored_nothing_is_in_progress(
    idempotent: IdempotentSubmit, clock: FixedClock, payments: Payments
) -> None:
    """While the first request runs (lock live) and no payment is stored under its id yet,
    a repeat raises IdempotencyInProgress."""
    seen: list[type[Exception]] = []

    def first(submission_id: UUID, resumed: bool) -> Answer:
        clock.advance(timedelta(seconds=5))
        try:
            idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)
        except IdempotencyInProgress as error:
            seen.append(type(error))
        return payments.submit(submission_id, resumed)

    result = idempotent(MERCHANT, KEY, BODY, first, payments.replay)

    assert ([IdempotencyInProgress], False, 1) == (seen, result.replayed, payments.runs)


def test_repeat_once_the_first_stored_its_payment_replays_it_even_before_it_returns(
    idempotent: IdempotentSubmit, payments: Payments
) -> None:
    """A stored payment is the first answer: a repeat replays it even while the first
    request (lock live) has not returned yet."""
    seen: list[IdempotentAnswer] = []

    def first(submission_id: UUID, resumed: bool) -> Answer:
        answer = payments.submit(submission_id, resumed)
        seen.append(idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay))
        return answer

    result = idempotent(MERCHANT, KEY, BODY, first, payments.replay)

    assert ([IdempotentAnswer(result.answer, replayed=True)], 1) == (seen, payments.runs)


def test_different_body_while_the_first_runs_is_key_reused(
    idempotent: IdempotentSubmit, payments: Payments
) -> None:
    """A different body is 422 even while the first request with the key still runs."""
    seen: list[type[Exception]] = []

    def first(submission_id: UUID, resumed: bool) -> Answer:
        try:
            idempotent(MERCHANT, KEY, {**BODY, "cvv": "999"}, payments.submit, payments.replay)
        except IdempotencyKeyReused as error:
            seen.append(type(error))
        return payments.submit(submission_id, resumed)

    idempotent(MERCHANT, KEY, BODY, first, payments.replay)

    assert [IdempotencyKeyReused] == seen


def test_claim_without_payment_and_live_lock_is_in_progress(
    idempotent: IdempotentSubmit,
    store: InMemoryIdempotencyStore,
    clock: FixedClock,
    payments: Payments,
) -> None:
    """A claim with no payment under its id and a lock not yet passed is in progress: it is
    neither run again nor taken over."""
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    store.claim(claim_of(scope, "alive", now, now + timedelta(seconds=30)))
    clock.advance(timedelta(seconds=29))

    with pytest.raises(IdempotencyInProgress):
        idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)
    assert ([SUBMISSION], 0, "alive") == (
        payments.replayed,
        payments.runs,
        store.records[scope].owner,
    )


def test_claim_without_payment_past_its_lock_is_taken_over_and_resumes_its_id(
    idempotent: IdempotentSubmit,
    store: InMemoryIdempotencyStore,
    clock: FixedClock,
    payments: Payments,
) -> None:
    """A claim with no payment under its id whose lock has passed (its function died) is
    taken over: the submission runs resumed, with the claim's submission id."""
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    store.claim(claim_of(scope, "dead", now, now))
    clock.advance(timedelta(seconds=31))

    result = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    assert (False, [(SUBMISSION, True)]) == (result.replayed, payments.calls)
    record = store.records[scope]
    assert (SUBMISSION, clock.now() + timedelta(seconds=30)) == (
        record.submission_id,
        record.locked_until,
    )
    assert "dead" != record.owner


def test_claim_past_its_lock_whose_payment_was_stored_is_replayed(
    idempotent: IdempotentSubmit,
    store: InMemoryIdempotencyStore,
    clock: FixedClock,
    payments: Payments,
) -> None:
    """If the dead request had stored its payment, the repeat replays it: nothing runs and
    the claim is not taken over."""
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    store.claim(claim_of(scope, "dead", now, now))
    stored = payments.submit(SUBMISSION, False)
    clock.advance(timedelta(seconds=31))

    result = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    assert (IdempotentAnswer(stored, replayed=True), 1) == (result, payments.runs)
    assert "dead" == store.records[scope].owner


def test_only_one_of_two_racing_takeovers_wins(
    idempotent: IdempotentSubmit,
    store: InMemoryIdempotencyStore,
    clock: FixedClock,
    payments: Payments,
) -> None:
    """When another request takes the abandoned claim first, ours is in progress, not run."""
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    store.claim(claim_of(scope, "dead", now, now))
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

    with pytest.raises(IdempotencyInProgress):
        idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)
    assert (0, "rival") == (payments.runs, store.records[scope].owner)


def test_failed_submission_releases_the_key_for_a_retry(
    idempotent: IdempotentSubmit,
    store: InMemoryIdempotencyStore,
    clock: FixedClock,
    payments: Payments,
) -> None:
    """A submission that raises before storing ends its lock at once: the error propagates,
    and a retry runs straight away, resuming the same submission id."""
    given: list[UUID] = []

    def failing(submission_id: UUID, resumed: bool) -> Answer:
        given.append(submission_id)
        raise Boom

    with pytest.raises(Boom):
        idempotent(MERCHANT, KEY, BODY, failing, payments.replay)
    record = store.records[scope_of(MERCHANT, KEY)]
    assert (given[0], clock.now()) == (record.submission_id, record.locked_until)
    clock.advance(timedelta(milliseconds=1))

    answer = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    assert (False, [(given[0], True)]) == (answer.replayed, payments.calls)


def test_retry_after_a_submission_failed_once_its_payment_was_stored_replays_it(
    idempotent: IdempotentSubmit, clock: FixedClock, payments: Payments
) -> None:
    """A submission that raises after storing its payment (a lost PutItem answer) still
    releases its claim; the retry replays that payment instead of running again."""

    def failing_after_store(submission_id: UUID, resumed: bool) -> Answer:
        payments.submit(submission_id, resumed)
        raise Boom

    with pytest.raises(Boom):
        idempotent(MERCHANT, KEY, BODY, failing_after_store, payments.replay)
    clock.advance(timedelta(milliseconds=1))

    answer = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    [(submission_id, _)] = payments.calls
    assert (IdempotentAnswer(payments.stored[submission_id], replayed=True), 1) == (
        answer,
        payments.runs,
    )


def test_expired_record_is_reused_as_new(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """After 24 h the key is free again: even a different body runs, and is stored anew."""
    payments = Payments()
    idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)
    clock.advance(timedelta(hours=24, seconds=1))

    changed = {**BODY, "amount": 999}
    again = idempotent(MERCHANT, KEY, changed, payments.submit, payments.replay)

    assert (False, 2) == (again.replayed, payments.runs)
    assert request_hash(SECRET, changed) == store.records[scope_of(MERCHANT, KEY)].request_hash


def test_record_released_between_claim_and_read_is_claimed_again(
    idempotent: IdempotentSubmit,
    store: InMemoryIdempotencyStore,
    clock: FixedClock,
    payments: Payments,
) -> None:
    """If the record in the way vanishes before it is read, the request claims and runs."""
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    store.claim(claim_of(scope, "other", now, now + timedelta(seconds=30)))
    original_get = store.get

    def get_after_release(wanted: str) -> object:
        del store.records[wanted]  # as when DynamoDB's TTL removes it
        store.get = original_get  # type: ignore[method-assign]
        return original_get(wanted)

    store.get = get_after_release  # type: ignore[method-assign,assignment]

    result = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    assert (False, 1) == (result.replayed, payments.runs)


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
    idempotent: IdempotentSubmit,
    store: InMemoryIdempotencyStore,
    clock: FixedClock,
    payments: Payments,
) -> None:
    """A first claim runs with a new submission id, not resumed; a takeover of an abandoned
    claim runs with that claim's id, resumed, so the dead attempt's payment is not doubled."""
    idempotent(MERCHANT, "fresh-key", BODY, payments.submit, payments.replay)
    scope = scope_of(MERCHANT, KEY)
    now = clock.now()
    store.claim(claim_of(scope, "dead", now, now))
    clock.advance(timedelta(seconds=31))

    idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)

    fresh_id = store.records[scope_of(MERCHANT, "fresh-key")].submission_id
    assert [(fresh_id, False), (SUBMISSION, True)] == payments.calls
    assert SUBMISSION != fresh_id


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


class Refused(Exception):
    """The submission was refused (a 4xx decided after the claim) and stored nothing."""


ROUTE = "payment/3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a/refunds"


def test_the_key_is_scoped_per_route(idempotent: IdempotentSubmit, payments: Payments) -> None:
    """The same merchant's key on another route is another scope: each runs on its own, and
    a repeat on a route replays that route's answer."""
    submitted = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay)
    refunded = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay, route=ROUTE)
    again = idempotent(MERCHANT, KEY, BODY, payments.submit, payments.replay, route=ROUTE)

    assert (2, False, IdempotentAnswer(refunded.answer, replayed=True)) == (
        payments.runs,
        refunded.replayed,
        again,
    )
    assert submitted.answer != refunded.answer


def test_no_key_of_the_submit_route_names_another_routes_scope() -> None:
    """A submit key spelling `<route>#<key>` cannot reach that route's scope, and a route
    holding `#` is refused."""
    assert scope_of(MERCHANT, f"{ROUTE}#{KEY}") != scope_of(MERCHANT, KEY, ROUTE)
    with pytest.raises(ValueError):
        scope_of(MERCHANT, KEY, "payment#x")


def test_a_refused_submission_forgets_its_claim(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, payments: Payments
) -> None:
    """A refusal propagates and leaves no record under the key: a retry with another body is
    judged afresh (no key-reused error) and runs."""

    def refusing(submission_id: UUID, resumed: bool) -> Answer:
        raise Refused

    with pytest.raises(Refused):
        idempotent(MERCHANT, KEY, BODY, refusing, payments.replay, route=ROUTE, refusals=(Refused,))
    assert {} == store.records

    other_body = {**BODY, "amount": 1}
    answer = idempotent(MERCHANT, KEY, other_body, payments.submit, payments.replay, route=ROUTE)
    assert (False, 1) == (answer.replayed, payments.runs)


def test_an_error_that_is_no_refusal_still_releases_the_claim(
    idempotent: IdempotentSubmit, store: InMemoryIdempotencyStore, clock: FixedClock
) -> None:
    """Only the named refusals forget: another error keeps the record (lock ended), since
    the submission may have stored its answer before failing."""

    def failing(submission_id: UUID, resumed: bool) -> Answer:
        raise Boom

    with pytest.raises(Boom):
        idempotent(
            MERCHANT, KEY, BODY, failing, Payments().replay, route=ROUTE, refusals=(Refused,)
        )
    record = store.records[scope_of(MERCHANT, KEY, ROUTE)]
    assert clock.now() == record.locked_until
