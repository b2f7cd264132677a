"""Reliability: 50 concurrent POSTs with one Idempotency-Key create one payment, charged once.

Each round fires 50 identical requests with a fresh key at the same moment (threads behind
a barrier). At most one answer may be a fresh 201; every other is a replay of it (201 with
`Idempotent-Replayed: true`) or `409` while it runs, and one more request with the key
afterwards must replay the round's one payment. After the payments settle, the payments
table and the bank simulator must hold exactly one payment per round for this merchant,
each charged once. The figures are printed at the end.

Emulation overload: serverless-offline runs every concurrent invocation as a Python process
on this machine's few CPUs (AWS gives each its own sandbox), so under load a function may
outlive its 10 s timeout, which the local API answers as 504 (or 401 for the authorizer).
Such an answer is an unknown outcome, and the test does what a client does with one: retry
with the same key. Retries are counted and printed; they must never create a payment.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3
import httpx
import pytest

from local.stack import REGION, LocalStack
from tests.conftest import Merchant
from tests.e2e.test_payment_flow import payment_body, wait_final

pytestmark = pytest.mark.reliability

ROUNDS = 20
CONCURRENCY = 50
# Answers of the local emulation when a Lambda exceeds its timeout (see the module docstring).
OVERLOAD = frozenset({401, 502, 503, 504})
OVERLOAD_RETRIES = 5


@dataclass(frozen=True)
class Answer:
    """One request's final answer: status, payment id (201s), replayed or not, and how many
    overload answers it was retried after."""

    status: int
    payment_id: str | None
    replayed: bool
    retries: int = 0


class Poster:
    """POSTs one submit body with one Idempotency-Key for a merchant."""

    def __init__(self, client: httpx.Client, merchant: Merchant, key: str) -> None:
        self.client = client
        self.path = f"/merchant/{merchant.id}/payments"
        self.headers = {**merchant.auth, "Idempotency-Key": key, "Content-Type": "application/json"}
        self.content = json.dumps(payment_body(reference=key[:64]))

    def post(self) -> Answer:
        """One POST, retried (same key, same body) after an overload answer."""
        retries = 0
        while True:
            response = self.client.post(self.path, content=self.content, headers=self.headers)
            if response.status_code not in OVERLOAD or retries == OVERLOAD_RETRIES:
                break
            retries += 1
            time.sleep(0.5 * retries)
        payment_id = response.json().get("id") if response.status_code == 201 else None
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return Answer(response.status_code, payment_id, replayed, retries)


def fire_round(
    client: httpx.Client, merchant: Merchant, key: str, concurrency: int = CONCURRENCY
) -> list[Answer]:
    """`concurrency` identical POSTs with `key`, released together by a barrier."""
    poster = Poster(client, merchant, key)
    barrier = threading.Barrier(concurrency)

    def one(_: int) -> Answer:
        barrier.wait()
        return poster.post()

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, range(concurrency)))


def replay_after_round(client: httpx.Client, merchant: Merchant, key: str) -> Answer:
    """One more POST with the round's key once the first has finished: must be a replay."""
    deadline = time.monotonic() + 30
    while True:
        answer = Poster(client, merchant, key).post()
        if answer.status != 409 or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def warm_up(client: httpx.Client, merchant: Merchant) -> None:
    """Start CONCURRENCY warm Lambda workers of the authorizer and submit, a few at a time.

    50 cold Python starts at once on a few CPUs outlast the functions' 10 s timeout; this
    test is about idempotency, not cold starts, so the workers are warmed first (another
    merchant, not counted), ramping up.
    """
    for concurrency in range(10, CONCURRENCY + 1, 10):
        fire_round(client, merchant, f"warm-up-{uuid.uuid4()}", concurrency)


def simulator_payments(bank: httpx.Client, merchant: Merchant) -> list[dict[str, object]]:
    """Every payment the bank simulator received for `merchant`."""
    records = bank.get("/_sim/payments").json()["payments"]
    return [r for r in records if r["merchant_id"] == merchant.id]


def stored_payment_ids(stack: LocalStack, merchant: Merchant) -> list[str]:
    """The ids of every payment stored for `merchant` (a test-only scan of the emulator)."""
    dynamodb = boto3.session.Session(region_name=REGION).client(
        "dynamodb", endpoint_url=stack.endpoint
    )
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=stack.settings_env()["PAYMENTS_TABLE"],
        FilterExpression="merchant_id = :m",
        ExpressionAttributeValues={":m": {"S": merchant.id}},
        ProjectionExpression="payment_id",
    )
    return [item["payment_id"]["S"] for page in pages for item in page["Items"]]


def test_fifty_concurrent_posts_with_one_key_create_one_payment_charged_once(
    stack: LocalStack,
    api: httpx.Client,
    bank: httpx.Client,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Per round: one payment, every 201 is it, the rest are 409s; one charge at the bank."""
    created = stack.register_merchant("Reliability: concurrent idempotency")
    merchant = Merchant(created["merchant_id"], created["api_key"])
    figures: Counter[str] = Counter()
    payment_ids: list[str] = []
    violations: list[str] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    with httpx.Client(base_url=api.base_url, timeout=60, limits=limits) as client:
        warming = stack.register_merchant("Reliability: warm-up")
        warm_up(client, Merchant(warming["merchant_id"], warming["api_key"]))
        started = time.monotonic()
        for round_number in range(ROUNDS):
            key = f"reliability-{round_number}-{uuid.uuid4()}"
            answers = fire_round(client, merchant, key)
            after = replay_after_round(client, merchant, key)
            statuses = Counter(a.status for a in answers)
            ids = {a.payment_id for a in answers if a.status == 201}
            fresh = sum(a.status == 201 and not a.replayed for a in answers)
            figures.update(
                requests=len(answers),
                created_201=fresh,
                replays=sum(a.replayed for a in answers),
                in_progress_409=statuses[409],
                other=sum(n for s, n in statuses.items() if s not in (201, 409)),
                overload_retries=sum(a.retries for a in answers),
            )
            if (
                not {201, 409} >= set(statuses)
                or fresh > 1
                or not (after.status == 201 and after.replayed)
                or not ids <= {after.payment_id}
            ):
                violations.append(
                    f"round {round_number}: {dict(statuses)}, fresh {fresh}, ids {ids}, "
                    f"then {after}"
                )
            if after.payment_id is not None:
                payment_ids.append(after.payment_id)

    for payment_id in payment_ids:
        final, _ = wait_final(api, merchant, payment_id)
        assert "succeeded" == final["status"], final
    stored = stored_payment_ids(stack, merchant)
    received = simulator_payments(bank, merchant)
    charges = sum(int(str(r["charges"])) for r in received)
    elapsed = time.monotonic() - started

    with capsys.disabled():
        print(
            "\nconcurrent idempotency: "
            f"rounds={ROUNDS} requests={figures['requests']} "
            f"fresh_201s={figures['created_201']} replay_201s={figures['replays']} "
            f"409s={figures['in_progress_409']} other={figures['other']} "
            f"overload_retries={figures['overload_retries']} "
            f"payments_created={len(stored)} at_bank={len(received)} charges={charges} "
            f"elapsed={elapsed:.1f}s"
        )

    assert [] == violations
    assert ROUNDS == len(payment_ids)
    assert sorted(payment_ids) == sorted(stored)
    assert sorted(payment_ids) == sorted(str(r["payment_request_id"]) for r in received)
    assert [1] * ROUNDS == [r["charges"] for r in received]
