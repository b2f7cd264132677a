"""The list request (GET /merchant/{merchant_id}/payments) parsed from its proxy event in one
call: path, caller, then every query parameter checked together; and its 200 answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared_kernel.adapters.apigateway import HttpError
from shared_kernel.api.merchant import payment_listing, payment_page_response, payment_resource
from shared_kernel.application.list_payments import PaymentListing
from shared_kernel.application.ports import PaymentFilters, PaymentPage
from shared_kernel.domain.errors import ValidationError
from shared_kernel.domain.payment import PaymentStatus

from .builders import MERCHANT_ID, OTHER_MERCHANT_ID, PAYMENT_ID, pending_payment
from .fakes import ReversibleCipher

pytestmark = pytest.mark.unit


def get(query: dict[str, str] | None, caller: object = MERCHANT_ID) -> dict[str, Any]:
    """A GET of MERCHANT_ID's payments by `caller` with the query string `query`."""
    return {
        "pathParameters": {"merchant_id": str(MERCHANT_ID)},
        "requestContext": {"requestId": "r-1", "authorizer": {"merchant_id": str(caller)}},
        "headers": {},
        "queryStringParameters": query,
    }


def test_no_query_string_is_the_first_page_of_ten() -> None:
    """Without parameters: limit 10, no filter, no cursor."""
    assert PaymentListing(MERCHANT_ID) == payment_listing(get(None))


def test_every_parameter_is_parsed_into_one_listing() -> None:
    """limit, a cursor and the four filters, typed (the instants in UTC)."""
    query = {
        "limit": "100",
        "ending_before": str(PAYMENT_ID),
        "status": "declined",
        "reference": "order-1234",
        "created_gte": "2026-11-26T11:00:00.5+01:00",
        "created_lt": "2026-11-27t00:00:00z",
        "unknown": "ignored",
    }
    filters = PaymentFilters(
        PaymentStatus.DECLINED,
        "order-1234",
        datetime(2026, 11, 26, 10, 0, 0, 500000, tzinfo=UTC),
        datetime(2026, 11, 27, tzinfo=UTC),
    )

    assert PaymentListing(MERCHANT_ID, 100, filters, ending_before=PAYMENT_ID) == payment_listing(
        get(query)
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"limit": "0010"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"starting_after": "pay_1"}, "starting_after"),
        ({"ending_before": ""}, "ending_before"),
        ({"status": "PENDING"}, "status"),
        ({"status": "refunded"}, "status"),
        ({"reference": ""}, "reference"),
        ({"reference": "x" * 65}, "reference"),
        ({"created_gte": "2026-11-26"}, "created_gte"),
        ({"created_gte": "2026-11-26T10:00:00"}, "created_gte"),
        ({"created_lt": "2026-13-01T00:00:00Z"}, "created_lt"),
        ({"created_lt": "yesterday"}, "created_lt"),
        ({"created_lt": "0001-01-01T00:30:00+01:00"}, "created_lt"),
    ],
)
def test_a_bad_parameter_is_a_validation_error_naming_it(query: dict[str, str], field: str) -> None:
    """Each bad value of each parameter is 400 validation_error on that parameter."""
    with pytest.raises(ValidationError) as raised:
        payment_listing(get(query))

    assert [field] == [d.field for d in raised.value.details]


def test_every_bad_parameter_is_named_at_once_and_both_cursors_are_refused() -> None:
    """Several bad parameters, both cursors among them: one error listing each."""
    query = {
        "limit": "1000",
        "starting_after": str(PAYMENT_ID),
        "ending_before": str(OTHER_MERCHANT_ID),
        "status": "nope",
        "created_lt": "soon",
    }
    with pytest.raises(ValidationError) as raised:
        payment_listing(get(query))

    assert ["limit", "ending_before", "status", "created_lt"] == [
        d.field for d in raised.value.details
    ]


@pytest.mark.parametrize(
    ("event", "status"),
    [
        pytest.param(
            {**get({"limit": "0"}), "pathParameters": {"merchant_id": "x"}}, 400, id="path"
        ),
        pytest.param({**get({"limit": "0"}), "requestContext": {}}, 401, id="no-caller"),
        pytest.param(get({"limit": "0"}, caller=OTHER_MERCHANT_ID), 403, id="another-merchant"),
    ],
)
def test_the_path_and_the_caller_are_checked_before_the_query(
    event: dict[str, Any], status: int
) -> None:
    """A bad path is 400, no caller 401, another merchant's key 403, before the bad limit."""
    with pytest.raises(HttpError) as raised:
        payment_listing(event)

    assert status == raised.value.status


def test_a_page_answers_200_with_its_resources_and_has_more(cipher: ReversibleCipher) -> None:
    """The page's payments as resources, in its order, and has_more."""
    payment = pending_payment(cipher)
    answer = payment_page_response(PaymentPage([payment], True))

    assert (200, {"data": [payment_resource(payment)], "has_more": True}) == (
        answer["statusCode"],
        json.loads(answer["body"]),
    )
