"""The merchant's list (SPEC §9) on DynamoDB (moto server): the listing's indexes paged
through the ListPayments use case, one Query a page, never a Scan, full pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.dynamodb.models import PAYMENTS_BY_MERCHANT_INDEX
from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.api.merchant import payment_resource
from shared_kernel.application.list_payments import ListPayments, PaymentListing
from shared_kernel.application.ports import PaymentFilters, PaymentPage
from shared_kernel.domain.errors import ValidationError
from shared_kernel.domain.money_movements import request_capture, request_refund, settle_action
from shared_kernel.domain.payment import (
    CaptureMethod,
    DeclineReason,
    Outcome,
    PaymentRequest,
    PaymentStatus,
)

from .conftest import ClientFactory, DynamoRequests, Tables
from .test_dynamodb_payments import a_payment as stored_payment

pytestmark = pytest.mark.integration

MERCHANT = uuid4()
SECOND = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


def a_payment(created_at: datetime, **changes: Any) -> PaymentRequest:
    """A pending payment of MERCHANT created at `created_at`, with a sealed card."""
    changes = {"merchant_id": MERCHANT, "reference": None, **changes}
    return stored_payment(created_at=created_at, updated_at=created_at, **changes)


@pytest.fixture
def repository(tables: Tables) -> DynamoPaymentRepository:
    """A repository on this test's fresh payments table."""
    return DynamoPaymentRepository(tables.dynamodb(), tables.payments)


@pytest.fixture
def stored(repository: DynamoPaymentRepository) -> Callable[..., list[PaymentRequest]]:
    """Add payments created at the given moments; they come back newest first, as listed."""

    def add(*moments: datetime, **changes: Any) -> list[PaymentRequest]:
        payments = [a_payment(moment, **changes) for moment in moments]
        for payment in payments:
            repository.add(payment)
        return payments

    return add


def newest_first(payments: list[PaymentRequest]) -> list[UUID]:
    """The ids in the list's order: whole second, then id, both descending."""
    ordered = sorted(payments, key=lambda p: (p.created_at.replace(microsecond=0), str(p.id)))
    return [p.id for p in reversed(ordered)]


def ids(page: PaymentPage) -> list[UUID]:
    """The page's payment ids, in its order."""
    return [p.id for p in page.payments]


def queries(requests: DynamoRequests) -> list[str]:
    """The index of each Query made, in order."""
    return [params.get("IndexName", "") for op, params in requests.calls if op == "Query"]


def walk(
    list_payments: ListPayments, requests: DynamoRequests, limit: int, **start: UUID
) -> list[tuple[list[UUID], bool, list[str]]]:
    """Every page from `start`, following `starting_after` (or `ending_before` when started
    so): (ids, has_more, the Queries the page made) per page."""
    backwards = "ending_before" in start
    pages = []
    cursor = start
    while True:
        requests.calls.clear()
        page = list_payments(PaymentListing(MERCHANT, limit, **cursor))
        pages.append((ids(page), page.has_more, queries(requests)))
        if not page.has_more:
            return pages
        edge = page.payments[0] if backwards else page.payments[-1]
        cursor = {"ending_before" if backwards else "starting_after": edge.id}


def test_paging_down_with_starting_after_lists_every_payment_once_newest_first(
    repository: DynamoPaymentRepository,
    stored: Callable[..., list[PaymentRequest]],
    dynamodb_requests: DynamoRequests,
) -> None:
    """Five payments in one second and two in the next, paged two at a time: every payment
    once, by second then id descending, each page one Query of the merchant index, full
    while has_more, no Scan."""
    payments = stored(*[SECOND + timedelta(microseconds=i) for i in range(5)])
    payments += stored(
        SECOND + timedelta(seconds=1, microseconds=999), SECOND + timedelta(seconds=1)
    )

    pages = walk(ListPayments(repository), dynamodb_requests, 2)

    assert newest_first(payments) == [i for page, _, _ in pages for i in page]
    assert [2, 2, 2, 1] == [len(page) for page, _, _ in pages]
    assert [True, True, True, False] == [more for _, more, _ in pages]
    assert [[PAYMENTS_BY_MERCHANT_INDEX]] * 4 == [made for _, _, made in pages]
    assert "Scan" not in [op for op, _ in dynamodb_requests.calls]


def test_paging_up_with_ending_before_lists_the_newer_payments_newest_first(
    repository: DynamoPaymentRepository,
    stored: Callable[..., list[PaymentRequest]],
    dynamodb_requests: DynamoRequests,
) -> None:
    """From the oldest payment, `ending_before` pages hold the next newer ones, newest first,
    and say has_more while newer ones remain; together they are every other payment once."""
    payments = stored(*[SECOND + timedelta(microseconds=i) for i in range(6)])
    order = newest_first(payments)

    pages = walk(ListPayments(repository), dynamodb_requests, 2, ending_before=order[-1])

    assert [order[3:5], order[1:3], order[0:1]] == [page for page, _, _ in pages]
    assert [True, True, False] == [more for _, more, _ in pages]
    assert [[PAYMENTS_BY_MERCHANT_INDEX]] * 3 == [made for _, _, made in pages]


def test_a_status_filter_leaving_few_matches_fills_its_pages_from_one_query_each(
    repository: DynamoPaymentRepository,
    stored: Callable[..., list[PaymentRequest]],
    dynamodb_requests: DynamoRequests,
) -> None:
    """Three declined payments among twelve: pages of one hold one each while has_more, each
    from one Query of the status index (no filter after Limit)."""
    payments = stored(*[SECOND + timedelta(seconds=i) for i in range(12)])
    declined = payments[1::4]
    for payment in declined:
        payment.apply(Outcome(PaymentStatus.DECLINED, DeclineReason.DO_NOT_HONOR), SECOND)
        repository.save(payment)
    use_case = ListPayments(repository)
    filters = PaymentFilters(status=PaymentStatus.DECLINED)

    listed, made, cursor = [], [], None
    while True:
        dynamodb_requests.calls.clear()
        page = use_case(PaymentListing(MERCHANT, 1, filters, starting_after=cursor))
        listed.append((ids(page), page.has_more))
        made.append(queries(dynamodb_requests))
        if not page.has_more:
            break
        cursor = page.payments[-1].id

    expected = newest_first(declined)
    assert [([expected[0]], True), ([expected[1]], True), ([expected[2]], False)] == listed
    assert [["payments-by-merchant-status"]] * 3 == made


def test_reference_and_status_together_read_on_until_the_page_is_full(
    repository: DynamoPaymentRepository,
    stored: Callable[..., list[PaymentRequest]],
    dynamodb_requests: DynamoRequests,
) -> None:
    """Of six payments with one reference only the two oldest succeeded: a page of two with
    both filters holds both (the reference index, read on past the filtered-out entries)."""
    payments = stored(*[SECOND + timedelta(seconds=i) for i in range(6)], reference="order-7")
    stored(SECOND, reference="order-8")
    for payment in payments[:2]:
        payment.apply(Outcome(PaymentStatus.SUCCEEDED), SECOND)
        repository.save(payment)
    dynamodb_requests.calls.clear()

    filters = PaymentFilters(status=PaymentStatus.SUCCEEDED, reference="order-7")
    page = ListPayments(repository)(PaymentListing(MERCHANT, 2, filters))

    assert (newest_first(payments[:2]), False) == (ids(page), page.has_more)
    made = queries(dynamodb_requests)
    assert {"payments-by-merchant-reference"} == set(made)
    assert "Scan" not in [op for op, _ in dynamodb_requests.calls]


def test_created_bounds_are_whole_seconds_at_or_after_gte_and_before_lt(
    repository: DynamoPaymentRepository, stored: Callable[..., list[PaymentRequest]]
) -> None:
    """created_gte keeps the second it names, created_lt drops it; a bound inside a second
    compares that second as the resource shows it (whole seconds), up to the last instant."""
    payments = stored(*[SECOND + timedelta(seconds=i, microseconds=500) for i in range(5)])
    use_case = ListPayments(repository)

    def listed(gte: datetime | None, lt: datetime | None) -> list[UUID]:
        filters = PaymentFilters(created_gte=gte, created_lt=lt)
        return ids(use_case(PaymentListing(MERCHANT, 10, filters)))

    assert newest_first(payments[1:4]) == listed(
        SECOND + timedelta(seconds=1), SECOND + timedelta(seconds=4)
    )
    assert newest_first(payments[2:]) == listed(SECOND + timedelta(seconds=1, microseconds=1), None)
    assert newest_first(payments[:4]) == listed(None, SECOND + timedelta(seconds=3, microseconds=1))
    assert [] == listed(SECOND + timedelta(seconds=4), SECOND + timedelta(seconds=2))
    last_instant = datetime(9999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    assert ([], newest_first(payments)) == (listed(last_instant, None), listed(None, last_instant))


def test_a_cursor_that_no_longer_matches_the_filters_is_still_a_position(
    repository: DynamoPaymentRepository, stored: Callable[..., list[PaymentRequest]]
) -> None:
    """A pending filter paged after a payment that has since succeeded: the page holds the
    pending payments older than it, none newer."""
    payments = stored(*[SECOND + timedelta(seconds=i) for i in range(4)])
    moved = payments[2]
    moved.apply(Outcome(PaymentStatus.SUCCEEDED), SECOND)
    repository.save(moved)

    filters = PaymentFilters(status=PaymentStatus.PENDING)
    page = ListPayments(repository)(PaymentListing(MERCHANT, 10, filters, starting_after=moved.id))

    assert (newest_first(payments[:2]), False) == (ids(page), page.has_more)


def test_another_merchants_payment_is_not_a_cursor_nor_listed(
    repository: DynamoPaymentRepository, stored: Callable[..., list[PaymentRequest]]
) -> None:
    """Another merchant's payments never appear in the list, and one of them as a cursor is
    a validation error naming the cursor."""
    mine = stored(SECOND)
    theirs = stored(SECOND, merchant_id=uuid4())
    use_case = ListPayments(repository)

    assert [p.id for p in mine] == ids(use_case(PaymentListing(MERCHANT)))
    with pytest.raises(ValidationError) as raised:
        use_case(PaymentListing(MERCHANT, ending_before=theirs[0].id))
    assert ["ending_before"] == [d.field for d in raised.value.details]


def test_the_listing_indexes_hold_the_resource_but_never_the_sealed_card(
    tables: Tables,
    aws_client: ClientFactory,
    repository: DynamoPaymentRepository,
    stored: Callable[..., list[PaymentRequest]],
) -> None:
    """The index entries carry the resource's attributes and no sealed card; a listed
    payment equals the stored one in everything the resource shows."""
    (payment,) = stored(SECOND, reference="order-1")
    entries = aws_client("dynamodb").query(
        TableName=tables.payments,
        IndexName=PAYMENTS_BY_MERCHANT_INDEX,
        KeyConditionExpression="merchant_id = :m",
        ExpressionAttributeValues={":m": {"S": str(MERCHANT)}},
    )["Items"]
    (listed,) = ListPayments(repository)(PaymentListing(MERCHANT)).payments

    assert ["sealed_card" in entry for entry in entries] == [False]
    shown = (
        "id",
        "merchant_id",
        "money",
        "card",
        "reference",
        "status",
        "created_at",
        "updated_at",
    )
    assert [getattr(payment, f) for f in shown] == [getattr(listed, f) for f in shown]


@pytest.mark.parametrize("filters", [PaymentFilters(), PaymentFilters(PaymentStatus.SUCCEEDED)])
def test_a_listed_payment_shows_its_money_movements_as_read_alone(
    repository: DynamoPaymentRepository,
    stored: Callable[..., list[PaymentRequest]],
    filters: PaymentFilters,
) -> None:
    """A manual payment captured in part with a refund pending is listed (from either
    index) with the same resource as its own read: captured, refunded, refundable."""
    (payment,) = stored(SECOND, capture_method=CaptureMethod.MANUAL)
    payment = repository.get(payment.id)
    payment.apply(Outcome(PaymentStatus.AUTHORIZED), SECOND + timedelta(seconds=1))
    capture = request_capture(payment, 800, SECOND + timedelta(seconds=2), action_id=uuid4())
    repository.save(payment, [capture.action])
    payment = repository.get(payment.id)
    settle_action(payment, capture.action, True, SECOND + timedelta(seconds=3))
    refund = request_refund(payment, 300, None, SECOND + timedelta(seconds=4), action_id=uuid4())
    repository.save(payment, [capture.action, refund.action])

    (listed,) = ListPayments(repository)(PaymentListing(MERCHANT, filters=filters)).payments

    expected = payment_resource(repository.get(payment.id))
    assert (800, 500) == (expected["amount_captured"], expected["amount_refundable"])
    assert expected == payment_resource(listed)
