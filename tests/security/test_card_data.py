"""Card data never leaves in plain text: a sentinel card number and CVV, sent through every
path of the gateway, are searched for in every answer, log line, stored item and queue
message of the run (PCI DSS 3.3.1, 3.3.2, 3.4.1; SPEC §3 and §6)."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest

from local.stack import REGION, LocalStack
from tests.security.support import (
    FIGURES,
    SETTLED_OR_PROCESSING,
    auth,
    card_pattern,
    cvv_pattern,
    forwarder_paused,
    item_text,
    payment_body,
    post_callback,
    response_text,
    scan_all_tables,
    sentinel_card,
    sentinel_cvv,
    sign,
    update_for,
    wait_status,
)

pytestmark = pytest.mark.security


@dataclass
class SentinelRun:
    """Everything one pass of the sentinel through the gateway produced."""

    card: str
    cvv: str
    payment_ids: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    replayed: bool = False
    final: dict[str, Any] = field(default_factory=dict)
    # The events of the sentinel's payments (SPEC §10), as the events API answers them.
    events: list[dict[str, Any]] = field(default_factory=list)
    action_ids: list[str] = field(default_factory=list)

    def hits(self, texts: list[str]) -> tuple[list[str], list[str]]:
        """(texts holding the card number, texts holding the CVV)."""
        card, cvv = card_pattern(self.card), cvv_pattern(self.cvv)
        return [t for t in texts if card.search(t)], [t for t in texts if cvv.search(t)]


def _peek_queues(stack: LocalStack, wanted: set[str]) -> list[str]:
    """Every message on every queue (the payment queue and its dead-letter queue), read
    without consuming it (VisibilityTimeout=0), until the messages of `wanted` payments were
    all seen (a few rounds at most)."""
    sqs = boto3.session.Session(region_name=REGION).client("sqs", endpoint_url=stack.endpoint)
    seen: dict[str, str] = {}
    for _ in range(5):
        for queue_url in sqs.list_queues().get("QueueUrls") or []:
            answer = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            for message in answer.get("Messages") or []:
                seen[message["MessageId"]] = json.dumps(message, default=str)
        if all(any(pid in text for text in seen.values()) for pid in wanted):
            break
        time.sleep(0.5)
    return list(seen.values())


def _events_of(api: httpx.Client, merchant: Any, final: dict[str, Any]) -> list[dict[str, Any]]:
    """The merchant's events about the payments of `final`, once each payment's event of its
    final status is listed (within 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        page = api.get(
            f"/merchant/{merchant.id}/events", params={"limit": 100}, headers=auth(merchant.api_key)
        ).json()
        found = [e for e in page["data"] if e["data"]["object"]["id"] in final]
        finals = {(e["data"]["object"]["id"], e["type"]) for e in found}
        if all((pid, f"payment.{p['status']}") in finals for pid, p in final.items()):
            return found
        assert time.monotonic() < deadline, f"events not recorded: {finals}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def sentinel(
    stack: LocalStack,
    api: httpx.Client,
    callback_api: httpx.Client,
    merchant: Any,
    other_merchant: Any,
    in_process_log: list[str],
) -> SentinelRun:
    """Send the sentinel through every path, let its payment settle, keep every answer
    (`in_process_log` is asked for first so that this process's records are kept too)."""
    run = SentinelRun(sentinel_card(), sentinel_cvv())
    body = payment_body(run.card, run.cvv)
    raw = json.dumps(body).encode()
    path = f"/merchant/{merchant.id}/payments"
    key = {"Idempotency-Key": f"security-{uuid.uuid4()}"}

    def record(response: httpx.Response) -> httpx.Response:
        run.responses.append(response_text(response))
        FIGURES["sentinel_submissions"] += 1
        return response

    with forwarder_paused(stack):
        first = record(api.post(path, json=body, headers={**auth(merchant.api_key), **key}))
        assert 201 == first.status_code, first.text
        run.payment_ids.append(first.json()["id"])
        # The idempotent replay (a second payment when the gateway has no idempotency yet).
        again = record(api.post(path, json=body, headers={**auth(merchant.api_key), **key}))
        assert again.status_code in (200, 201), again.text
        run.replayed = again.headers.get("Idempotent-Replayed") == "true"
        if again.json()["id"] not in run.payment_ids:
            run.payment_ids.append(again.json()["id"])
        invalid = [
            # Several bad fields beside the sentinel, and the card as a property name.
            json.dumps({**body, "amount": 0, "currency": "XXX", run.card: run.cvv}).encode(),
            # Valid card, bad CVV position: the CVV in a field that must not exist.
            json.dumps({**body, "cvv": run.cvv + "0", "security_code": run.cvv}).encode(),
            # Malformed JSON holding both.
            raw[:-1] + b",",
            # Not an object.
            json.dumps([run.card, run.cvv]).encode(),
        ]
        for content in invalid:
            response = record(
                api.post(
                    path,
                    content=content,
                    headers={**auth(merchant.api_key), "Content-Type": "application/json"},
                )
            )
            assert 400 == response.status_code, response.text
        mine = {**auth(merchant.api_key), "Content-Type": "application/json"}
        theirs = {**auth(other_merchant.api_key), "Content-Type": "application/json"}
        for content, headers, status in (
            (raw, {**mine, "Content-Type": "text/plain"}, 415),
            (raw + b" " * 17000, mine, 413),
            (raw, theirs, 403),
            (raw, {"Content-Type": "application/json"}, 401),
        ):
            # Each refusal twice: without and with an Idempotency-Key (a refused request
            # must not reach the idempotency record with the card in it either).
            for extra in ({}, {"Idempotency-Key": f"security-{uuid.uuid4()}"}):
                response = record(api.post(path, content=content, headers={**headers, **extra}))
                assert status == response.status_code, response.text
        run.messages = _peek_queues(stack, set(run.payment_ids))

    for payment_id in run.payment_ids:
        run.final[payment_id] = wait_status(api, merchant.id, merchant.api_key, payment_id)
    run.events = _events_of(api, merchant, run.final)
    run.responses += [json.dumps(event) for event in run.events]
    # The action routes: card data smuggled into refund, capture and void bodies (400), a
    # refund accepted and replayed (its queue message peeked), the payment's actions read.
    actions = f"/merchant/{merchant.id}/payment/{run.payment_ids[0]}"
    with forwarder_paused(stack):
        for route, smuggling in (
            ("refunds", {"amount": 1, "reason": run.cvv, run.card: run.cvv}),
            ("capture", {"amount": 1, "card_number": run.card}),
            ("void", {"cvv": run.cvv}),
        ):
            response = record(api.post(f"{actions}/{route}", json=smuggling, headers=mine))
            assert 400 == response.status_code, response.text
        refund_key = {**mine, "Idempotency-Key": f"security-{uuid.uuid4()}"}
        for _ in range(2):
            response = record(
                api.post(f"{actions}/refunds", json={"amount": 1}, headers=refund_key)
            )
            assert 202 == response.status_code, response.text
        run.action_ids.append(response.json()["id"])
        run.messages += _peek_queues(stack, set(run.action_ids))
    for read in (f"{actions}/actions", f"{actions}/actions/{run.action_ids[0]}"):
        response = record(api.get(read, headers=auth(merchant.api_key)))
        assert 200 == response.status_code, response.text
    # The callback path: a signed update smuggling card data (400), an unsigned one (401).
    settled = run.final[run.payment_ids[0]]
    smuggled = json.dumps(update_for(settled, "PAID", card_number=run.card, cvv=run.cvv)).encode()
    for signature, status in ((sign(stack.callback_secret, smuggled), 400), (None, 401)):
        response = record(post_callback(callback_api, smuggled, signature))
        assert status == response.status_code, response.text
    time.sleep(1.0)  # let the processes flush their last log lines
    return run


def test_the_sentinel_payment_was_paid_and_its_messages_were_seen(sentinel: SentinelRun) -> None:
    """The sentinel went all the way (so every place below really saw it)."""
    statuses = {p["status"] for p in sentinel.final.values()}

    assert {"succeeded"} == statuses
    assert sentinel.replayed, "the idempotent replay path was not exercised"
    for payment_id in sentinel.payment_ids:
        assert any(payment_id in m for m in sentinel.messages), "queue message not peeked"
    for action_id in sentinel.action_ids:
        assert any(action_id in m for m in sentinel.messages), "action message not peeked"


def test_no_answer_holds_the_card_number_or_cvv(sentinel: SentinelRun) -> None:
    """Neither the 201, the replay, the 4xx answers nor the callback answers echo them."""
    card_hits, cvv_hits = sentinel.hits(sentinel.responses)
    FIGURES["sentinel_places_scanned"] += len(sentinel.responses)
    FIGURES["sentinel_card_hits"] += len(card_hits)
    FIGURES["sentinel_cvv_hits"] += len(cvv_hits)

    assert ([], []) == (card_hits, cvv_hits)


def test_no_event_holds_card_data_beyond_the_resources_card_block(sentinel: SentinelRun) -> None:
    """The sentinel payment's events (each its final status at least) hold neither the card
    number nor the CVV, and their only card data is the card block: last4, brand, expiry."""
    texts = [json.dumps(event) for event in sentinel.events]
    FIGURES["sentinel_places_scanned"] += len(texts)
    cards = [event["data"]["object"]["card"] for event in sentinel.events]
    expected_card = {
        "last4": sentinel.card[-4:],
        "brand": cards[0]["brand"],
        "expiry_month": payment_body(sentinel.card, sentinel.cvv)["expiry_month"],
        "expiry_year": payment_body(sentinel.card, sentinel.cvv)["expiry_year"],
    }

    assert ([], []) == sentinel.hits(texts)
    assert [expected_card] * len(cards) == cards and cards


def test_no_log_line_holds_the_card_number_or_cvv(
    sentinel: SentinelRun, stack: LocalStack, in_process_log: list[str]
) -> None:
    """Every log line every process wrote during the run (and this process's own)."""
    lines: list[str] = list(in_process_log)
    for log in sorted(stack.log_dir.glob("*.log")):
        lines += [f"{log.name}: {line}" for line in log.read_text(errors="replace").splitlines()]
    card_hits, cvv_hits = sentinel.hits(lines)
    FIGURES["sentinel_places_scanned"] += len(lines)
    FIGURES["sentinel_card_hits"] += len(card_hits)
    FIGURES["sentinel_cvv_hits"] += len(cvv_hits)

    assert lines, "no log line captured"
    assert ([], []) == (card_hits[:5], cvv_hits[:5])


def test_no_stored_item_holds_the_card_number_or_cvv(
    sentinel: SentinelRun, stack: LocalStack
) -> None:
    """A full scan of every table: no item holds them in plain text."""
    dynamodb = boto3.session.Session(region_name=REGION).client(
        "dynamodb", endpoint_url=stack.endpoint
    )
    texts = [f"{table}: {item_text(item)}" for table, item in scan_all_tables(dynamodb)]
    card_hits, cvv_hits = sentinel.hits(texts)
    FIGURES["sentinel_places_scanned"] += len(texts)
    FIGURES["sentinel_card_hits"] += len(card_hits)
    FIGURES["sentinel_cvv_hits"] += len(cvv_hits)

    assert any(sentinel.payment_ids[0] in t for t in texts)
    assert ([], []) == (card_hits, cvv_hits)


def test_no_queue_message_holds_the_card_number_or_cvv(sentinel: SentinelRun) -> None:
    """The messages of the sentinel's payments, peeked before the forwarder took them."""
    card_hits, cvv_hits = sentinel.hits(sentinel.messages)
    FIGURES["sentinel_places_scanned"] += len(sentinel.messages)
    FIGURES["sentinel_card_hits"] += len(card_hits)
    FIGURES["sentinel_cvv_hits"] += len(cvv_hits)

    assert sentinel.messages
    assert ([], []) == (card_hits, cvv_hits)


def test_no_processing_or_settled_payment_holds_a_sealed_card(
    sentinel: SentinelRun, stack: LocalStack
) -> None:
    """Once the bank has a payment (or it is final) its sealed card (and CVV) are gone."""
    dynamodb = boto3.session.Session(region_name=REGION).client(
        "dynamodb", endpoint_url=stack.endpoint
    )
    payments = [
        item
        for table, item in scan_all_tables(dynamodb)
        if table.endswith("-payments") and "status" in item
    ]
    holding = [
        item["payment_id"]["S"]
        for item in payments
        if item["status"]["S"] in SETTLED_OR_PROCESSING and "sealed_card" in item
    ]
    FIGURES["sealed_card_on_settled_payments"] += len(holding)

    assert {p for p in sentinel.payment_ids} <= {i["payment_id"]["S"] for i in payments}
    assert [] == holding


def test_the_hit_patterns_do_find_the_sentinel(sentinel: SentinelRun) -> None:
    """The search itself works: the patterns find the sentinel where it is."""
    probe = [f'{{"card_number": "{sentinel.card}"}}', f'{{"cvv": "{sentinel.cvv}"}}']

    assert (probe[:1], probe[1:]) == sentinel.hits(probe)
    assert not re.search(cvv_pattern(sentinel.cvv), f"{uuid.uuid4()}-{sentinel.cvv}-x")


def test_the_sentinel_payment_keeps_a_keyed_fingerprint_and_no_more_than_last4(
    sentinel: SentinelRun, stack: LocalStack
) -> None:
    """The stored item has an HMAC fingerprint of the card (fp1: + 64 hex), its last4, and no
    longer run of the card's digits anywhere (never the BIN with more than the last four)."""
    dynamodb = boto3.session.Session(region_name=REGION).client(
        "dynamodb", endpoint_url=stack.endpoint
    )
    item = dynamodb.get_item(
        TableName="gateway-local-payments",
        Key={"payment_id": {"S": sentinel.payment_ids[0]}},
        ConsistentRead=True,
    )["Item"]
    text = item_text(item)
    fingerprint = item["card_fingerprint"]["S"]
    runs = {sentinel.card[i : i + 7] for i in range(len(sentinel.card) - 6)}

    assert re.fullmatch(r"fp1:[0-9a-f]{64}", fingerprint)
    assert sentinel.card[-4:] == item["card_last4"]["S"]
    assert [] == sorted(run for run in runs if run in text)
