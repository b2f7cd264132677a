"""DeliveryLog's contract, against InMemoryDeliveryLog and DynamoDeliveryLog."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.adapters.dynamodb.deliveries import DynamoDeliveryLog
from shared_kernel.application.webhook_ports import DeliveryAttempt, DeliveryLog
from tests.unit.webhook_fakes import NOW, InMemoryDeliveryLog

from .conftest import BOTH, FAKE, moto_tables

EVENT = UUID(int=1, version=4)
OTHER_EVENT = UUID(int=2, version=4)
ENDPOINT_A = UUID(int=11, version=4)
ENDPOINT_B = UUID(int=12, version=4)


@pytest.fixture(params=BOTH)
def log(request: pytest.FixtureRequest) -> DeliveryLog:
    """An empty log: the fake, or the adapter on a fresh deliveries table."""
    if request.param == FAKE:
        return InMemoryDeliveryLog()
    tables = moto_tables(request)
    return DynamoDeliveryLog(tables.dynamodb(), tables.deliveries)


def attempt(
    n: int, endpoint: UUID = ENDPOINT_A, minutes: int = 0, **changes: object
) -> DeliveryAttempt:
    """Attempt `n` of EVENT at `endpoint`, `minutes` after NOW, failed with a 503."""
    fields: dict[str, object] = {
        "event_id": EVENT,
        "endpoint_id": endpoint,
        "attempt": n,
        "at": NOW + timedelta(minutes=minutes),
        "status_code": 503,
        "error": None,
        "duration_ms": 41,
    }
    return DeliveryAttempt(**{**fields, **changes})  # type: ignore[arg-type]


def test_attempts_come_back_oldest_first_across_endpoints(log: DeliveryLog) -> None:
    """Recorded out of order over two endpoints, they read back by time."""
    later, first = attempt(2, minutes=1), attempt(1)
    middle = attempt(1, ENDPOINT_B, at=NOW + timedelta(seconds=30))
    for a in (later, first, middle):
        log.record(a)

    assert [first, middle, later] == list(log.attempts(EVENT))


def test_every_field_is_kept_including_null_status_and_an_error(log: DeliveryLog) -> None:
    """A timed-out attempt: no status, its error, duration, and the failed mark."""
    timed_out = attempt(
        9, status_code=None, error="timeout", duration_ms=10002, delivery_failed=True
    )
    log.record(timed_out)

    assert [timed_out] == list(log.attempts(EVENT))


def test_a_repeat_of_a_scheduled_attempt_overwrites_it(log: DeliveryLog) -> None:
    """SQS's repeat of attempt 1 (a later try of the same message) leaves one record."""
    log.record(attempt(1))
    repeat = attempt(1, minutes=3, status_code=200)
    log.record(repeat)

    assert [repeat] == list(log.attempts(EVENT))


def test_a_resend_never_overwrites_a_scheduled_attempt_or_another_resend(log: DeliveryLog) -> None:
    """A resend numbered like a scheduled attempt, and a second resend, are three records."""
    scheduled = attempt(2)
    resends = [attempt(2, minutes=1, resend=True), attempt(2, minutes=2, resend=True)]
    for a in (scheduled, *resends):
        log.record(a)

    assert [scheduled, *resends] == list(log.attempts(EVENT))


def test_another_events_attempts_are_not_listed(log: DeliveryLog) -> None:
    """The log is per event; an event with none has an empty list."""
    log.record(attempt(1))

    assert ([], 1) == (list(log.attempts(OTHER_EVENT)), len(log.attempts(EVENT)))
