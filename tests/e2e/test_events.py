"""End to end over HTTP: a payment's events (SPEC §10) recorded from the payments table's
stream by the events service and read through GET /merchant/{merchant_id}/events."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from shared_kernel import contracts
from tests.e2e.conftest import Merchant
from tests.e2e.test_payment_flow import payment_body, submit, wait_final

pytestmark = pytest.mark.e2e

DECLINED_CARD = "4000000000009995"
# SPEC §10 asks for no bound; a few seconds covers the stream's poll and the recorder's run.
LISTED_WITHIN_S = 10.0


@pytest.fixture
def new_merchant(stack: LocalStack) -> Callable[[], Merchant]:
    """Register a merchant of its own for a test, so no other test's events are listed."""

    def register() -> Merchant:
        created = stack.register_merchant("Events merchant")
        return Merchant(created["merchant_id"], created["api_key"])

    return register


def events_page(api: httpx.Client, merchant: Merchant, **params: Any) -> dict[str, Any]:
    """One page of the merchant's events (200, checked against its contract)."""
    response = api.get(f"/merchant/{merchant.id}/events", params=params, headers=merchant.auth)
    assert 200 == response.status_code, response.text
    page: dict[str, Any] = response.json()
    contracts.assert_valid("event-list", page)
    return page


def types_until(
    api: httpx.Client, merchant: Merchant, expected: list[str], **params: Any
) -> tuple[list[dict[str, Any]], float]:
    """Poll the first page until its types are `expected` (newest first): the events, and
    how many seconds that took."""
    started = time.monotonic()
    while True:
        events = events_page(api, merchant, limit=100, **params)["data"]
        if [e["type"] for e in events] == expected:
            return events, time.monotonic() - started
        assert time.monotonic() - started < LISTED_WITHIN_S, [e["type"] for e in events]
        time.sleep(0.2)


def paid_payment(api: httpx.Client, merchant: Merchant, card: str = "4242424242424242") -> str:
    """Submit a payment and wait until it is final; its id."""
    created = submit(api, merchant, payment_body(card))
    assert 201 == created.status_code, created.text
    payment_id: str = created.json()["id"]
    wait_final(api, merchant, payment_id)
    return payment_id


def test_a_payments_events_appear_in_order_with_the_resource_after_each_change(
    api: httpx.Client, new_merchant: Callable[[], Merchant]
) -> None:
    """A paid payment records payment.processing then payment.succeeded within seconds; the
    newest holds the payment resource GET answers; GET of each event answers the same."""
    merchant = new_merchant()
    payment_id = paid_payment(api, merchant)

    events, took = types_until(api, merchant, ["payment.succeeded", "payment.processing"])

    current = api.get(f"/merchant/{merchant.id}/payment/{payment_id}", headers=merchant.auth)
    print(f"events listed {took:.2f} s after the payment was final")
    assert current.json() == events[0]["data"]["object"]
    assert ["processing", "succeeded"] == [e["data"]["object"]["status"] for e in events[::-1]]
    assert {merchant.id} == {e["merchant_id"] for e in events}
    for event in events:
        one = api.get(f"/merchant/{merchant.id}/events/{event['id']}", headers=merchant.auth)
        assert (200, event) == (one.status_code, one.json())
        contracts.assert_valid("event", one.json())


def test_a_declined_payment_records_payment_declined(
    api: httpx.Client, new_merchant: Callable[[], Merchant]
) -> None:
    """A card the bank declines records payment.declined with its decline reason."""
    merchant = new_merchant()
    paid_payment(api, merchant, DECLINED_CARD)

    events, _ = types_until(api, merchant, ["payment.declined", "payment.processing"])

    assert events[0]["data"]["object"]["decline_reason"] is not None


def test_pages_of_events_cover_each_once_both_ways_and_the_type_filter(
    api: httpx.Client, new_merchant: Callable[[], Merchant]
) -> None:
    """Three paid payments (six events): pages of two down with starting_after and back
    with ending_before list each once, newest first; type=payment.succeeded lists three."""
    merchant = new_merchant()
    for _ in range(3):
        paid_payment(api, merchant)
    expected = ["payment.succeeded", "payment.processing"] * 3
    everything = [e["id"] for e in types_until(api, merchant, expected)[0]]

    down: list[str] = []
    page = events_page(api, merchant, limit=2)
    down += [e["id"] for e in page["data"]]
    while page["has_more"]:
        page = events_page(api, merchant, limit=2, starting_after=down[-1])
        down += [e["id"] for e in page["data"]]
    back = events_page(api, merchant, limit=2, ending_before=down[-2])
    succeeded = events_page(api, merchant, type="payment.succeeded")

    assert sorted(everything) == sorted(down) and 6 == len(set(down))
    assert (down[-4:-2], True) == ([e["id"] for e in back["data"]], back["has_more"])
    assert ["payment.succeeded"] * 3 == [e["type"] for e in succeeded["data"]]


def test_another_merchants_event_is_404_and_its_cursor_400(
    api: httpx.Client, new_merchant: Callable[[], Merchant]
) -> None:
    """Merchant B cannot read A's event (404, as if unknown) nor page from it (400); an
    unknown type is 400."""
    owner, other = new_merchant(), new_merchant()
    paid_payment(api, owner)
    events, _ = types_until(api, owner, ["payment.succeeded", "payment.processing"])
    theirs = events[0]["id"]

    read = api.get(f"/merchant/{other.id}/events/{theirs}", headers=other.auth)
    cursor = api.get(
        f"/merchant/{other.id}/events", params={"starting_after": theirs}, headers=other.auth
    )
    unknown_type = api.get(
        f"/merchant/{owner.id}/events", params={"type": "payment.pending"}, headers=owner.auth
    )

    assert (404, "not_found") == (read.status_code, read.json()["error"]["code"])
    assert (400, ["starting_after"]) == (
        cursor.status_code,
        [d["field"] for d in cursor.json()["error"]["details"]],
    )
    assert (400, ["type"]) == (
        unknown_type.status_code,
        [d["field"] for d in unknown_type.json()["error"]["details"]],
    )
