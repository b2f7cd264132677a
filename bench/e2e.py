"""Local end-to-end: the whole gateway (`local.stack.LocalStack` on free ports), a fixed
number of payments POSTed by a few concurrent clients, timed from the first POST until every
payment has a final status.

Completion is watched on the emulator, not by polling the API: the payments table's sparse
open-payments index is empty once every payment is final (one Query every 0.2 s). Each
payment's POST→final latency is its final `updated_at` (written by the gateway on the same
machine) minus the moment its POST was sent.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import median, percentile

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
        statuses: dict[str, int] = {}
        for payment_id, sent_at, _, _ in accepted:
            item = dynamodb.get_item(TableName=table, Key={"payment_id": {"S": payment_id}})["Item"]
            status = item["status"]["S"]
            statuses[status] = statuses.get(status, 0) + 1
            updated = datetime.fromisoformat(item["updated_at"]["S"]).astimezone(UTC)
            finals.append(updated.timestamp() - sent_at)
        post_s = [r[2] for r in results]
        return {
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
