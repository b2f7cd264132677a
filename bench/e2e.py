"""Local end-to-end: the whole gateway (`local.stack.LocalStack` on free ports), a fixed
number of payments POSTed by a few concurrent clients, timed from the first POST until every
payment has a final status.

Completion is watched on the emulator, not by polling the API: the payments table's sparse
open-payments index is empty once every payment is final (one Query every 0.2 s). Each
payment's POST→final latency is its final `updated_at` (written by the gateway on the same
machine) minus the moment its POST was sent.

Webhooks: an endpoint of the merchant, registered through the API before the run, points at
a receiver of the bench's own (127.0.0.1, answering 200 at once). A payment's status change
-> first delivery attempt latency is the first arrival of its `payment.succeeded` event
minus that payment's final `updated_at`: the stream's event source, the recorder, the
fan-out, the sender and the POST, as the local stack runs them. Measured twice: for the
loaded run (where the local pipeline, one stream batch at a time against the serialising
emulator, falls behind), and for CALM_PAYMENTS payments sent one at a time afterwards.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import median, percentile
from bench.harness import WEBHOOK_PATH, BankStub

# After the loaded run, payments one at a time (a status change -> first attempt latency the
# local pipeline is not behind on).
CALM_PAYMENTS = 30
CALM_GAP_S = 1.0

CARD = {
    "card_number": "4242424242424242",
    "expiry_month": 12,
    "expiry_year": 2030,
    "cvv": "123",
    "amount": 1050,
    "currency": "GBP",
}


def _open_count(dynamodb: Any, table: str) -> int:
    answer = dynamodb.query(
        TableName=table,
        IndexName="open-payments-by-next-check",
        KeyConditionExpression="open_shard = :o",
        ExpressionAttributeValues={":o": {"S": "open"}},
        Select="COUNT",
    )
    return int(answer["Count"])


def run(
    log_dir: Path, payments: int = 200, clients: int = 4, timeout_s: float = 180
) -> dict[str, Any]:
    """Start the local stack, run `payments` payments through it, stop it; the figures."""
    import boto3
    import httpx

    from local.stack import LocalStack, Ports

    stack = LocalStack(
        Ports.all_free(), quiet=True, log_dir=log_dir / "stack", reconcile_every_s=600
    )
    started = time.perf_counter()
    stack.start()
    startup_s = time.perf_counter() - started
    try:
        merchant = stack.register_merchant("Bench e2e merchant")
        env = stack.settings_env()
        dynamodb = boto3.session.Session(region_name=env["AWS_REGION"]).client(
            "dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"]
        )
        table = env["PAYMENTS_TABLE"]
        base = f"http://127.0.0.1:{stack.ports.merchant_api}"
        headers = {"Authorization": f"Bearer {merchant['api_key']}"}
        path = f"/merchant/{merchant['merchant_id']}/payments"
        local = threading.local()
        receiver = BankStub().start()  # only its webhook receiver is used
        endpoint = httpx.post(
            f"{base}/merchant/{merchant['merchant_id']}/webhook-endpoints",
            json={"url": receiver.url + WEBHOOK_PATH, "enabled_events": ["payment.succeeded"]},
            headers=headers,
            timeout=30,
        )
        assert endpoint.status_code == 201, endpoint.text

        def post(i: int) -> tuple[str, float, float, int]:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(base_url=base, timeout=30)
            sent_at = time.time()
            t0 = time.perf_counter()
            answer = client.post(
                path,
                json={**CARD, "reference": f"bench-{i}"},
                headers={**headers, "Idempotency-Key": f"bench-e2e-{i}-{sent_at}"},
            )
            elapsed = time.perf_counter() - t0
            payment_id = answer.json().get("id", "") if answer.status_code == 201 else ""
            return payment_id, sent_at, elapsed, answer.status_code

        # Warm the functions (serverless-offline starts each handler's process on first use).
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, range(-clients, 0)))
        deadline = time.monotonic() + 60
        while _open_count(dynamodb, table) and time.monotonic() < deadline:
            time.sleep(0.2)

        first_post = time.time()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(post, range(payments)))
        posted_at = time.time()
        deadline = time.monotonic() + timeout_s
        while _open_count(dynamodb, table):
            if time.monotonic() > deadline:
                raise TimeoutError("payments did not all reach a final status")
            time.sleep(0.2)
        all_final = time.time()
        accepted = [r for r in results if r[3] == 201]
        finals: list[float] = []
        final_at: dict[str, float] = {}
        statuses: dict[str, int] = {}
        for payment_id, sent_at, _, _ in accepted:
            item = dynamodb.get_item(TableName=table, Key={"payment_id": {"S": payment_id}})["Item"]
            status = item["status"]["S"]
            statuses[status] = statuses.get(status, 0) + 1
            final_at[payment_id] = _updated_at(item)
            finals.append(final_at[payment_id] - sent_at)
        post_s = [r[2] for r in results]
        delivered = first_arrivals(receiver, set(final_at), timeout_s=120)
        loaded = [delivered[i] - final_at[i] for i in delivered]
        # The same at rest: payments one at a time, CALM_GAP_S apart, after the backlog.
        calm_at: dict[str, float] = {}
        for i in range(CALM_PAYMENTS):
            payment_id, *_ = post(payments + i)
            time.sleep(CALM_GAP_S)
            if payment_id:
                calm_at[payment_id] = 0.0
        deadline = time.monotonic() + timeout_s
        while _open_count(dynamodb, table) and time.monotonic() < deadline:
            time.sleep(0.2)
        for payment_id in calm_at:
            item = dynamodb.get_item(TableName=table, Key={"payment_id": {"S": payment_id}})["Item"]
            calm_at[payment_id] = _updated_at(item)
        calm_delivered = first_arrivals(receiver, set(calm_at), timeout_s=60)
        calm = [calm_delivered[i] - calm_at[i] for i in calm_delivered]
        receiver.stop()
        return {
            "webhook_first_attempts": len(loaded),
            "webhook_expected": len(final_at),
            "change_to_first_attempt_p50_ms": median(loaded) * 1000,
            "change_to_first_attempt_p99_ms": percentile(loaded, 99) * 1000,
            "calm_first_attempts": len(calm),
            "calm_expected": len(calm_at),
            "calm_gap_s": CALM_GAP_S,
            "calm_change_to_first_attempt_p50_ms": median(calm) * 1000,
            "calm_change_to_first_attempt_p99_ms": percentile(calm, 99) * 1000,
            "payments": payments,
            "clients": clients,
            "accepted": len(accepted),
            "statuses": statuses,
            "stack_startup_s": startup_s,
            "post_phase_s": posted_at - first_post,
            "total_s": all_final - first_post,
            "payments_per_second": len(accepted) / (all_final - first_post),
            "post_p50_ms": median(post_s) * 1000,
            "post_p99_ms": percentile(post_s, 99) * 1000,
            "post_to_final_p50_ms": median(finals) * 1000,
            "post_to_final_p99_ms": percentile(finals, 99) * 1000,
        }
    finally:
        stack.stop()


def first_arrivals(receiver: BankStub, payments: set[str], timeout_s: float) -> dict[str, float]:
    """When each of `payments` first had its `payment.succeeded` event delivered (waiting up
    to `timeout_s` for them all)."""
    deadline = time.monotonic() + timeout_s
    while True:
        first: dict[str, float] = {}
        for arrived, raw in list(receiver.webhooks):
            event = json.loads(raw)
            data = event["data"]
            payment_id = str(data.get("object", data).get("id"))
            if event["type"] == "payment.succeeded" and payment_id in payments:
                first[payment_id] = min(arrived, first.get(payment_id, arrived))
        if len(first) == len(payments) or time.monotonic() > deadline:
            return first
        time.sleep(0.5)


def _updated_at(item: dict[str, Any]) -> float:
    """A stored payment's `updated_at` (written by the gateway on this machine), epoch s."""
    return datetime.fromisoformat(item["updated_at"]["S"]).astimezone(UTC).timestamp()
