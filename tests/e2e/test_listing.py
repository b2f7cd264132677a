"""End to end over HTTP: GET /merchant/{merchant_id}/payments (SPEC §9) through the edge, the
authorizer and the listing indexes of the running stack."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from shared_kernel import contracts
from tests.e2e.conftest import Merchant
from tests.e2e.test_payment_flow import payment_body, submit, wait_final

pytestmark = pytest.mark.e2e

DECLINED_CARD = "4000000000009995"


@pytest.fixture
def new_merchant(stack: LocalStack) -> Callable[[], Merchant]:
    """Register a merchant of its own for a test, so no other test's payments are listed."""

    def register() -> Merchant:
        created = stack.register_merchant("Listing merchant")
        return Merchant(created["merchant_id"], created["api_key"])

    return register


def listed(api: httpx.Client, merchant: Merchant, **params: Any) -> dict[str, Any]:
    """One page of `merchant`'s payments (200, checked against its contract)."""
    response = api.get(f"/merchant/{merchant.id}/payments", params=params, headers=merchant.auth)
    assert 200 == response.status_code, response.text
    page: dict[str, Any] = response.json()
    contracts.assert_valid("payment-list", page)
    return page


def submitted_together(api: httpx.Client, merchant: Merchant, count: int) -> list[dict[str, Any]]:
    """`count` payments submitted at once (threads): their 201 resources."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(lambda _: submit(api, merchant, payment_body()), range(count)))
    assert [201] * count == [a.status_code for a in answers]
    return [a.json() for a in answers]


def walk(api: httpx.Client, merchant: Merchant, cursor: str, start: str | None) -> list[list[str]]:
    """Every page of two, following `cursor` (starting_after or ending_before) from `start`:
    the ids of each page; each page but the last holds two (has_more)."""
    pages: list[list[str]] = []
    params: dict[str, Any] = {"limit": 2} if start is None else {"limit": 2, cursor: start}
    while True:
        page = listed(api, merchant, **params)
        ids = [p["id"] for p in page["data"]]
        pages.append(ids)
        if not page["has_more"]:
            return pages
        assert 2 == len(ids)
        params[cursor] = ids[-1] if cursor == "starting_after" else ids[0]


def test_pages_of_two_list_every_payment_once_both_ways_when_several_share_a_second(
    api: httpx.Client, new_merchant: Callable[[], Merchant]
) -> None:
    """Seven payments submitted at once (several in one second): paging down with
    starting_after and back up with ending_before lists each once, newest first (second,
    then id, descending), with no repeat and no skip."""
    merchant = new_merchant()
    created = submitted_together(api, merchant, 7)
    expected = [
        p["id"] for p in sorted(created, key=lambda p: (p["created_at"], p["id"]), reverse=True)
    ]
    time.sleep(1)  # the index is eventually consistent (in AWS; moto's is immediate)

    down = walk(api, merchant, "starting_after", None)
    up = walk(api, merchant, "ending_before", expected[-1])

    assert len({p["created_at"] for p in created}) < len(created)  # a second is shared
    assert expected == [i for page in down for i in page]
    assert [2, 2, 2, 1] == [len(page) for page in down]
    assert [expected[4:6], expected[2:4], expected[0:2]] == up


def test_status_and_reference_filters_list_only_their_payments(
    api: httpx.Client, new_merchant: Callable[[], Merchant]
) -> None:
    """Declined and succeeded payments under two references: `status`, `reference` and both
    list exactly the matching ones, newest first."""
    merchant = new_merchant()
    made = []
    for card, reference in [
        ("4242424242424242", "ref-a"),
        (DECLINED_CARD, "ref-a"),
        ("4242424242424242", "ref-b"),
        (DECLINED_CARD, "ref-b"),
    ]:
        answer = submit(api, merchant, payment_body(card, reference=reference))
        assert 201 == answer.status_code, answer.text
        made.append(wait_final(api, merchant, answer.json()["id"])[0])

    def ids(**params: Any) -> list[str]:
        return [p["id"] for p in listed(api, merchant, **params)["data"]]

    def expected(**match: str) -> list[str]:
        chosen = [p for p in made if all(p[k] == v for k, v in match.items())]
        return [p["id"] for p in sorted(chosen, key=lambda p: (p["created_at"], p["id"]))][::-1]

    assert ["succeeded", "declined"] * 2 == [p["status"] for p in made]
    assert expected(status="declined") == ids(status="declined")
    assert expected(reference="ref-b") == ids(reference="ref-b")
    assert expected(status="succeeded", reference="ref-a") == ids(
        status="succeeded", reference="ref-a"
    )


def test_a_payment_is_listed_within_two_seconds_of_its_201(
    api: httpx.Client, new_merchant: Callable[[], Merchant]
) -> None:
    """The first page shows a new payment less than 2 s after its 201."""
    merchant = new_merchant()
    answer = submit(api, merchant, payment_body())
    accepted_at = time.monotonic()
    assert 201 == answer.status_code, answer.text
    while answer.json()["id"] not in [p["id"] for p in listed(api, merchant)["data"]]:
        assert time.monotonic() - accepted_at < 2
        time.sleep(0.1)

    assert time.monotonic() - accepted_at < 2


def test_another_merchants_cursor_is_400_and_keys_are_checked(
    api: httpx.Client, new_merchant: Callable[[], Merchant]
) -> None:
    """Another merchant's payment as a cursor is 400 naming it; no key is 401, another
    merchant's key 403."""
    merchant, other = new_merchant(), new_merchant()
    theirs = submit(api, other, payment_body()).json()["id"]
    path = f"/merchant/{merchant.id}/payments"

    foreign = api.get(path, params={"starting_after": theirs}, headers=merchant.auth)
    no_key = api.get(path)
    wrong_key = api.get(path, headers=other.auth)

    assert (400, "validation_error", ["starting_after"]) == (
        foreign.status_code,
        foreign.json()["error"]["code"],
        [d["field"] for d in foreign.json()["error"]["details"]],
    )
    assert [(401, "unauthorized"), (403, "forbidden")] == [
        (r.status_code, r.json()["error"]["code"]) for r in (no_key, wrong_key)
    ]
