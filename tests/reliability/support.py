"""What the reliability battery does to the running gateway and how it reads the outcome.

Payments go in through the merchant API; their statuses are read straight from the payments
table (one BatchGetItem per 100 ids, far cheaper than a GET each while thousands are polled);
what the bank did is read from the simulator's test API (`/_sim/payments/{id}`, `/_sim/stats`),
and what the gateway asked of it from the simulator's request log (`/_sim/requests`, judged
by tests/reliability/oracle.py).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import httpx

from local.event_sources import InvokeFailure, SqsEventSource
from local.stack import REGION, STAGE, LocalStack
from tests.conftest import TEST_TUNING, Merchant
from tests.reliability.oracle import Window

T = TypeVar("T")

FINAL = frozenset({"succeeded", "declined", "failed"})
RANK = {"pending": 0, "processing": 1, "succeeded": 2, "declined": 2, "failed": 2}

# SPEC §5's card table: card number -> (status, decline_reason).
CARD_OUTCOMES: dict[str, tuple[str, str | None]] = {
    "4242424242424242": ("succeeded", None),
    "4000000000009995": ("declined", "insufficient_funds"),
    "4100000000000019": ("declined", "fraud_suspected"),
    "4000000000000002": ("declined", "do_not_honor"),
    "4000000000000119": ("succeeded", None),
    "4000000000000101": ("succeeded", None),
    "5555555555554444": ("succeeded", None),
}
CARDS = tuple(CARD_OUTCOMES)
UNAVAILABLE_FIRST_CARD = "4000000000000119"

# The gateway's bank read timeout and forwarding attempts in the test stack.
READ_TIMEOUT_S = float(TEST_TUNING["BANK_READ_TIMEOUT_S"])
FORWARD_ATTEMPTS = int(TEST_TUNING["FORWARD_MAX_ATTEMPTS"])
# The soonest a retry of one message can reach the bank again: the first back-off with
# equal jitter ([1/2, 1] of the base). A resend sooner than that came from another delivery.
LEAST_RETRY_S = float(TEST_TUNING["FORWARD_BACKOFF_BASE_S"]) / 2


# The flaky bank of the battery: 30% of POSTs answer 503, 10% are executed but answered 3 s
# late (past the read timeout), every call +20 ms.
FLAKY_BANK = {"error_rate": 0.3, "timeout_rate": 0.1, "timeout_ms": 3000, "latency_ms": 20}


def scale() -> int:
    """RELIABILITY_SCALE (1 in CI; `make soak` runs ten times larger)."""
    return max(1, int(os.environ.get("RELIABILITY_SCALE", "1")))


def scaled(count: int) -> int:
    """A CI-sized count times the scale."""
    return count * scale()


@dataclass
class Submitted:
    """What a burst of submissions gave: the accepted payments (id -> card) and refusals."""

    cards: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    seconds: float = 0.0


def submit_many(
    api: httpx.Client, merchant: Merchant, count: int, workers: int = 8, offset: int = 0
) -> Submitted:
    """POST `count` payments (cards of the table, round robin), `workers` at a time."""

    def one(index: int) -> tuple[str, httpx.Response | Exception]:
        card = CARDS[(index + offset) % len(CARDS)]
        body = {
            "card_number": card,
            "expiry_month": 12,
            "expiry_year": 2030,
            "cvv": "123",
            "amount": 100 + index,
            "currency": "GBP",
            "reference": f"rel-{offset + index}",
        }
        try:
            answer = api.post(f"/merchant/{merchant.id}/payments", json=body, headers=merchant.auth)
        except httpx.HTTPError as error:
            return card, error
        return card, answer

    result = Submitted()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for card, answer in pool.map(one, range(count)):
            if isinstance(answer, httpx.Response) and answer.status_code == 201:
                result.cards[answer.json()["id"]] = card
            else:
                text = answer.text[:200] if isinstance(answer, httpx.Response) else repr(answer)
                result.refused.append(text)
    result.seconds = time.monotonic() - started
    return result


class PaymentsTable:
    """Reads payments' stored status straight from the payments table of the stack."""

    def __init__(self, stack: LocalStack) -> None:
        self.name = f"gateway-{STAGE}-payments"
        self.client: Any = boto3.session.Session(
            region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
        ).client("dynamodb", endpoint_url=stack.endpoint)

    def created_for(self, merchant_id: str) -> set[str]:
        """The ids of every payment stored for this merchant (a Scan: the table has no
        merchant index, and the battery's tables hold a few thousand items)."""
        ids: set[str] = set()
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.name,
            ConsistentRead=True,
            ProjectionExpression="payment_id",
            FilterExpression="merchant_id = :m",
            ExpressionAttributeValues={":m": {"S": merchant_id}},
        )
        for page in pages:
            ids.update(item["payment_id"]["S"] for item in page["Items"])
        return ids

    def read(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """id -> {status, decline_reason, version} for every stored id among `ids`."""
        wanted = list(ids)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            keys: list[dict[str, Any]] = [
                {"payment_id": {"S": i}} for i in wanted[start : start + 100]
            ]
            request: dict[str, Any] = {
                self.name: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "payment_id, #s, decline_reason, version",
                    "ExpressionAttributeNames": {"#s": "status"},
                }
            }
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.name, []):
                    found[item["payment_id"]["S"]] = {
                        "status": item["status"]["S"],
                        "decline_reason": item.get("decline_reason", {}).get("S"),
                        "version": int(item["version"]["N"]),
                    }
                request = answer.get("UnprocessedKeys") or {}
        return found


@dataclass
class Settlement:
    """How a set of payments ended: their last stored rows, what was seen on the way."""

    rows: dict[str, dict[str, Any]]
    seconds: float
    backward_moves: list[str]
    changed_after_final: list[str]

    def open_or_missing(self, ids: Iterable[str]) -> list[str]:
        """The ids not stored, or stored but not final."""
        return [i for i in ids if self.rows.get(i, {}).get("status") not in FINAL]


def wait_all_final(
    table: PaymentsTable,
    ids: Sequence[str],
    timeout: float,
    while_waiting: Callable[[], object] | None = None,
) -> Settlement:
    """Poll the table until every id is final (or `timeout`), watching every status change:
    a move to a lower rank, or any change of a final status, is recorded."""
    started = time.monotonic()
    seen: dict[str, dict[str, Any]] = {}
    backward: list[str] = []
    changed_final: list[str] = []
    while True:
        rows = table.read(ids)
        for payment_id, row in rows.items():
            before = seen.get(payment_id)
            if before is not None:
                if RANK[row["status"]] < RANK[before["status"]]:
                    backward.append(f"{payment_id}: {before['status']} -> {row['status']}")
                if before["status"] in FINAL and (
                    (row["status"], row["decline_reason"])
                    != (before["status"], before["decline_reason"])
                ):
                    changed_final.append(f"{payment_id}: {before['status']} -> {row['status']}")
            seen[payment_id] = row
        settled = Settlement(seen, time.monotonic() - started, backward, changed_final)
        if not settled.open_or_missing(ids) or time.monotonic() - started > timeout:
            return settled
        if while_waiting is not None:
            while_waiting()
        time.sleep(1.0)


def bank_records(bank: httpx.Client, ids: Iterable[str], workers: int = 8) -> dict[str, Any]:
    """id -> the simulator's record of it (None when the bank never saw it)."""

    def one(payment_id: str) -> tuple[str, Any]:
        answer = bank.get(f"/_sim/payments/{payment_id}")
        return payment_id, answer.json() if answer.status_code == 200 else None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(one, list(ids)))


def set_faults(bank: httpx.Client, **faults: Any) -> None:
    """Replace the simulator's fault settings (a field left out goes back to no fault)."""
    answer = bank.put("/_sim/faults", json=faults)
    assert 200 == answer.status_code, answer.text


def unexpected_outcomes(
    cards: dict[str, str], rows: dict[str, dict[str, Any]], records: dict[str, Any]
) -> list[str]:
    """Payments whose final status is not their card's outcome. The one other acceptable end
    is `failed` for a payment the bank never charged (forwarding gave up, SPEC §3)."""
    wrong = []
    for payment_id, card in cards.items():
        row = rows.get(payment_id) or {}
        got = (row.get("status"), row.get("decline_reason"))
        record = records.get(payment_id)
        charged = bool(record and record["charges"])
        if got == CARD_OUTCOMES[card] or (got == ("failed", None) and not charged):
            continue
        wrong.append(f"{payment_id} card {card[-4:]}: {got}, charged={charged}")
    return wrong


def set_mode(bank: httpx.Client, idempotency: str) -> None:
    """Turn the simulator's idempotency on or off (PUT /_sim/mode)."""
    answer = bank.put("/_sim/mode", json={"idempotency": idempotency})
    assert 200 == answer.status_code, answer.text


class BankLog:
    """The simulator's request log from the moment this was made (a scenario's POSTs)."""

    def __init__(self, bank: httpx.Client) -> None:
        self.bank = bank
        self.mark = self._read(limit=0)["last_seq"]
        self.stats_before = bank.get("/_sim/stats").json()

    def _read(self, **query: int | str) -> dict[str, Any]:
        answer = self.bank.get("/_sim/requests", params=query)
        assert 200 == answer.status_code, answer.text
        read: dict[str, Any] = answer.json()
        return read

    def posts(self) -> list[dict[str, Any]]:
        """Every POST /payments received since the mark (none lost to the log's cap); the
        log's capture, void and refund requests are left out."""
        read = self._read(after=self.mark, kind="payment")
        assert 0 == read["dropped"], "the request log dropped entries"
        posts: list[dict[str, Any]] = read["requests"]
        return posts

    def action_posts(self) -> list[dict[str, Any]]:
        """Every capture, void and refund request received since the mark (none lost)."""
        read = self._read(after=self.mark)
        assert 0 == read["dropped"], "the request log dropped entries"
        return [p for p in read["requests"] if p["kind"] != "payment"]

    def double_charged_since(self) -> int:
        """Payments the bank charged twice since the mark (its own count)."""
        now = int(self.bank.get("/_sim/stats").json()["double_charged"])
        return now - int(self.stats_before["double_charged"])


@dataclass
class Kill:
    """One SIGKILL of the forwarder: the span of the restart and the invocations it failed."""

    started: float
    ended: float
    downtime: float
    failed: list[InvokeFailure] = field(default_factory=list)

    @property
    def windows(self) -> list[Window]:
        """The spans of the batches in flight that this kill made fail."""
        return [Window(f.started, f.ended) for f in self.failed]


def wait_in_flight(source: SqsEventSource, timeout: float = 10.0) -> bool:
    """Wait until the forwarder is processing a batch; False if none came in `timeout`."""
    deadline = time.monotonic() + timeout
    while source.in_flight() == 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def kill_forwarder_while(
    work: Callable[[], T], stack: LocalStack, kills: int, seed: int
) -> tuple[T, list[Kill]]:
    """Run `work` in a thread while the forwarder is SIGKILLed `kills` times, each at a
    random moment (0.5-3 s apart) when a batch is in flight, and started again."""
    source: SqsEventSource = stack.forwarder_source
    results: list[T] = []
    worker = threading.Thread(target=lambda: results.append(work()), name="reliability-work")
    chaos = random.Random(seed)
    worker.start()
    done: list[Kill] = []
    for _ in range(kills):
        time.sleep(chaos.uniform(0.5, 3.0))
        wait_in_flight(source)
        started = time.monotonic()
        downtime = stack.restart("bank-forwarder")
        done.append(Kill(started, time.monotonic(), downtime))
    worker.join()
    failures = source.invoke_failures()
    for kill in done:
        # In flight at the kill: started before it and failed during the restart (a poller
        # may also invoke the dead function before the restart pauses it: not counted).
        kill.failed = [f for f in failures if f.started < kill.started <= f.ended <= kill.ended]
    assert results, "the work run during the kills raised"
    return results[0], done


def kill_forwarder_while_submitting(
    api: httpx.Client,
    merchant: Merchant,
    stack: LocalStack,
    count: int,
    kills: int,
    seed: int,
) -> tuple[Submitted, list[Kill]]:
    """Submit `count` payments while the forwarder is SIGKILLed `kills` times, each at a
    random moment (0.5-3 s apart) when a batch is in flight, and started again."""
    return kill_forwarder_while(
        lambda: submit_many(api, merchant, count, offset=1), stack, kills, seed
    )
