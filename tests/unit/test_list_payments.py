"""ListPayments over the in-memory repository: the order, both cursors, has_more, filters
that leave few matches, and cursors that are not the merchant's."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.list_payments import ListPayments, PaymentListing
from shared_kernel.application.ports import PaymentFilters
from shared_kernel.domain.errors import ValidationError
from shared_kernel.domain.payment import PaymentRequest, PaymentStatus

from .builders import CREATED_AT, DO_NOT_HONOR, MERCHANT_ID, OTHER_MERCHANT_ID, pending_payment
from .fakes import InMemoryPaymentRepository, ReversibleCipher

pytestmark = pytest.mark.unit

# Ids whose text sorts as numbered: within one second the list runs from 9 down to 1.
IDS = [UUID(f"00000000-0000-4000-8000-00000000000{n}") for n in range(10)]


@pytest.fixture
def list_payments(repository: InMemoryPaymentRepository) -> ListPayments:
    """The use case over the test's repository."""
    return ListPayments(repository)


def store(
    repository: InMemoryPaymentRepository,
    cipher: ReversibleCipher,
    number: int,
    *,
    microseconds: int = 0,
    seconds: int = 0,
    **overrides: object,
) -> PaymentRequest:
    """Add payment IDS[number], created `seconds` and `microseconds` after CREATED_AT."""
    at = CREATED_AT + timedelta(seconds=seconds, microseconds=microseconds)
    payment = pending_payment(cipher, payment_id=IDS[number], at=at, **overrides)
    repository.add(payment)
    return payment


def listed(list_payments: ListPayments, **request: object) -> tuple[list[int], bool]:
    """(the page's payment numbers in order, has_more) for MERCHANT_ID."""
    page = list_payments(PaymentListing(MERCHANT_ID, **request))  # type: ignore[arg-type]
    return [IDS.index(p.id) for p in page.payments], page.has_more


def test_one_seconds_payments_are_ordered_by_id_whatever_their_microseconds(
    list_payments: ListPayments, repository: InMemoryPaymentRepository, cipher: ReversibleCipher
) -> None:
    """Payments of one second list by id descending, not by their sub-second times; a later
    second comes first."""
    for number, micro in [(1, 900), (2, 100), (3, 500)]:
        store(repository, cipher, number, microseconds=micro)
    store(repository, cipher, 0, seconds=1)

    assert ([0, 3, 2, 1], False) == listed(list_payments)


def test_starting_after_pages_down_and_ending_before_pages_up_with_has_more(
    list_payments: ListPayments, repository: InMemoryPaymentRepository, cipher: ReversibleCipher
) -> None:
    """starting_after gives the older neighbours, ending_before the newer ones (newest first);
    has_more says whether more lie in that direction."""
    for number in range(1, 8):
        store(repository, cipher, number, microseconds=number)

    assert ([7, 6], True) == listed(list_payments, limit=2)
    assert ([5, 4], True) == listed(list_payments, limit=2, starting_after=IDS[6])
    assert ([1], False) == listed(list_payments, limit=2, starting_after=IDS[2])
    assert ([5, 4], True) == listed(list_payments, limit=2, ending_before=IDS[3])
    assert ([7, 6], False) == listed(list_payments, limit=2, ending_before=IDS[5])
    assert ([], False) == listed(list_payments, limit=2, ending_before=IDS[7])


def test_a_filter_leaving_few_matches_still_fills_every_page_with_more(
    list_payments: ListPayments, repository: InMemoryPaymentRepository, cipher: ReversibleCipher
) -> None:
    """Three declined payments among nine: pages of two hold two while has_more."""
    for number in range(1, 10):
        payment = store(repository, cipher, number, seconds=number)
        if number in (2, 5, 8):
            payment.apply(DO_NOT_HONOR, CREATED_AT + timedelta(seconds=20))
            repository.save(payment)
    declined = PaymentFilters(status=PaymentStatus.DECLINED)

    assert ([8, 5], True) == listed(list_payments, limit=2, filters=declined)
    assert ([2], False) == listed(list_payments, limit=2, filters=declined, starting_after=IDS[5])


def test_filters_combine_and_a_cursor_outside_them_is_still_a_position(
    list_payments: ListPayments, repository: InMemoryPaymentRepository, cipher: ReversibleCipher
) -> None:
    """Reference, status and created bounds apply together; the cursor, another reference's
    payment, still places the page."""
    for number in range(1, 7):
        store(repository, cipher, number, seconds=number, reference=f"order-{number % 2}")
    filters = PaymentFilters(
        status=PaymentStatus.PENDING,
        reference="order-1",
        created_gte=CREATED_AT + timedelta(seconds=2),
        created_lt=CREATED_AT + timedelta(seconds=6),
    )

    assert ([5, 3], False) == listed(list_payments, filters=filters)
    assert ([3], False) == listed(list_payments, filters=filters, starting_after=IDS[4])


@pytest.mark.parametrize("cursor", ["starting_after", "ending_before"])
def test_another_merchants_or_an_unknown_payment_is_not_a_cursor(
    list_payments: ListPayments,
    repository: InMemoryPaymentRepository,
    cipher: ReversibleCipher,
    cursor: str,
) -> None:
    """A cursor naming another merchant's payment, or no payment, is a validation error on
    that parameter, whichever direction it pages."""
    store(repository, cipher, 1, merchant_id=OTHER_MERCHANT_ID)

    for unknown_or_foreign in (IDS[1], IDS[2]):
        with pytest.raises(ValidationError) as raised:
            listed(list_payments, **{cursor: unknown_or_foreign})
        assert [cursor] == [d.field for d in raised.value.details]
