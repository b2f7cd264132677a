"""Black-box tests of the simulator's manual capture, captures, voids and refunds (SPEC §8):
`capture: false`, the action endpoints and their signed callbacks, the two declining cards,
the per-payment balances (422 to what a gateway should never send), the request log and the
fault injection of the new endpoints, and the `idempotency: off` mode for actions.

The simulator runs as a subprocess on a free port, as in test_bank_simulator.py (whose
helpers these tests reuse); its callbacks go to a receiver in the test process that checks
every signature with its own HMAC code. Its action callbacks go to `/bank/action-updates`
next to the payment updates' URL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared_kernel.contracts import validate
from tests.simulator.test_bank_simulator import (
    PAID_CARD,
    PROCESSING_THEN_PAID_CARD,
    CallbackReceiver,
    ReceivedCallback,
    Simulator,
    free_port,
    marker_delivered,
    payment_body,
    simulator_with_receiver,
    start_simulator,
    stop_simulator,
    wait_for,
)

pytestmark = pytest.mark.simulator

DECLINED_CARD = "4000000000000002"
CAPTURE_DECLINED_CARD = "4000000000000341"
REFUND_DECLINED_CARD = "4000000000005126"
AMOUNT = 1000


@dataclass
class Bank:
    """The module's simulator and the receiver of its callbacks."""

    sim: Simulator
    receiver: CallbackReceiver

    def pay(self, card: str = PAID_CARD, *, capture: bool = True) -> str:
        """A payment the bank has decided (PAID, AUTHORIZED or declined): its id."""
        extra = {} if capture else {"capture": False}
        body = payment_body(card, amount=AMOUNT, **extra)
        assert 202 == self.sim.post_payment(body).status_code
        payment_id: str = body["payment_request_id"]
        assert wait_for(lambda: self.payment_status(payment_id) != "PROCESSING")
        return payment_id

    def authorise(self, card: str = PAID_CARD) -> str:
        """An AUTHORIZED `capture: false` payment: its id."""
        payment_id = self.pay(card, capture=False)
        assert "AUTHORIZED" == self.payment_status(payment_id)
        return payment_id

    def payment_status(self, payment_id: str) -> str:
        """The bank's status of a payment (GET /payments/{id})."""
        answer = self.sim.client.get(f"/payments/{payment_id}", headers=self.sim.auth())
        assert 200 == answer.status_code, answer.text
        status: str = answer.json()["status"]
        return status

    def act(
        self,
        payment_id: str,
        segment: str,
        amount: int | None = None,
        *,
        action_id: str | None = None,
        key: str | None = "same",
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """POST /payments/{id}/<segment>; `key="same"` sends the action id as the key."""
        if body is None:
            body = {"action_id": action_id or str(uuid.uuid4())}
            if amount is not None:
                body["amount"] = amount
        headers = self.sim.auth()
        if key == "same":
            headers["Idempotency-Key"] = str(body.get("action_id"))
        elif key is not None:
            headers["Idempotency-Key"] = key
        return self.sim.client.post(f"/payments/{payment_id}/{segment}", json=body, headers=headers)

    def action_status(self, payment_id: str, action_id: str) -> httpx.Response:
        """GET /payments/{id}/actions/{action_id}."""
        url = f"/payments/{payment_id}/actions/{action_id}"
        return self.sim.client.get(url, headers=self.sim.auth())

    def settled(self, payment_id: str, action_id: str) -> str:
        """The action's status once the bank has decided it."""

        def decided() -> bool:
            return self.action_status(payment_id, action_id).json()["status"] != "PROCESSING"

        assert wait_for(decided)
        status: str = self.action_status(payment_id, action_id).json()["status"]
        return status

    def action_record(self, action_id: str) -> dict[str, Any]:
        """GET /_sim/actions/{action_id}."""
        answer = self.sim.client.get(f"/_sim/actions/{action_id}")
        assert 200 == answer.status_code, answer.text
        record: dict[str, Any] = answer.json()
        return record

    def action_callbacks(self, action_id: str) -> list[ReceivedCallback]:
        """The action updates received for `action_id`."""
        with self.receiver.lock:
            received = list(self.receiver.received)
        return [c for c in received if c.payload.get("action_id") == action_id]

    def log(self, **query: str | int) -> list[dict[str, Any]]:
        """The request log's entries (GET /_sim/requests with `query`)."""
        answer = self.sim.client.get("/_sim/requests", params=query)
        assert 200 == answer.status_code, answer.text
        entries: list[dict[str, Any]] = answer.json()["requests"]
        return entries


@pytest.fixture(scope="module")
def module_bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bank]:
    """A simulator of this module, its callbacks answered by a receiver."""
    tmp_dir = Path(tmp_path_factory.mktemp("money-movements"))
    with simulator_with_receiver(tmp_dir) as (simulator, receiver):
        yield Bank(simulator, receiver)


@pytest.fixture
def bank(module_bank: Bank) -> Bank:
    """The module's simulator, reset (no records, requests, faults; idempotency on)."""
    assert 200 == module_bank.sim.client.post("/_sim/reset").status_code
    module_bank.receiver.clear()
    return module_bank


# -- capture: false --------------------------------------------------------------------------


def test_a_capture_false_payment_is_authorized_not_paid(bank: Bank) -> None:
    """A paying card sent with `capture: false` is AUTHORIZED, by signed callback and GET."""
    payment_id = bank.authorise()

    assert wait_for(lambda: ["AUTHORIZED"] == bank.receiver.statuses(payment_id))
    [callback] = bank.receiver.for_payment(payment_id)
    assert (True, "/bank/payment-updates") == (callback.signature_ok, callback.path)
    assert [] == validate("bank-payment-update", callback.payload)
    record = bank.sim.record(payment_id)
    assert (False, 0, 1) == (record["capture"], record["amount_captured"], record["charges"])


def test_a_declining_card_declines_without_capture_too(bank: Bank) -> None:
    """`capture: false` changes nothing for a declining card."""
    assert "DECLINED" == bank.payment_status(bank.pay(DECLINED_CARD, capture=False))


def test_the_processing_card_sends_processing_then_authorized(bank: Bank) -> None:
    """Card 4000000000000101 without capture: PROCESSING first, then AUTHORIZED."""
    payment_id = bank.pay(PROCESSING_THEN_PAID_CARD, capture=False)

    assert wait_for(lambda: 2 == len(bank.receiver.for_payment(payment_id)))
    assert ["PROCESSING", "AUTHORIZED"] == bank.receiver.statuses(payment_id)


def test_capture_must_be_a_boolean(bank: Bank) -> None:
    """`"capture": "no"` is a 400 naming the field."""
    answer = bank.sim.post_payment(payment_body(capture="no"))

    assert 400 == answer.status_code
    assert [{"field": "capture", "message": "must be true or false"}] == answer.json()["error"][
        "details"
    ]


# -- actions accepted and settled ------------------------------------------------------------


@pytest.mark.parametrize(
    ("capture", "segment", "amount", "action_type"),
    [
        (False, "captures", 600, "capture"),
        (False, "voids", None, "void"),
        (True, "refunds", 400, "refund"),
    ],
)
def test_an_action_is_accepted_then_succeeded_by_a_signed_callback(
    bank: Bank, capture: bool, segment: str, amount: int | None, action_type: str
) -> None:
    """202 {"action_id", "status": "PROCESSING"}, then one signed action update to
    /bank/action-updates with exactly the contract's fields, and GET says SUCCEEDED."""
    payment_id = bank.pay(capture=capture)
    action_id = str(uuid.uuid4())
    accepted = bank.act(payment_id, segment, amount, action_id=action_id)

    assert 202 == accepted.status_code
    assert {"action_id": action_id, "status": "PROCESSING"} == accepted.json()
    assert [] == validate("bank-action-accepted", accepted.json())
    assert wait_for(lambda: 1 == len(bank.action_callbacks(action_id)))
    [callback] = bank.action_callbacks(action_id)
    assert (True, "/bank/action-updates") == (callback.signature_ok, callback.path)
    assert "application/json" == callback.content_type
    assert [] == validate("bank-action-update", callback.payload)
    merchant_id = bank.sim.record(payment_id)["merchant_id"]
    expected = {
        "payment_request_id": payment_id,
        "merchant_id": merchant_id,
        "action_id": action_id,
        "type": action_type,
        "status": "SUCCEEDED",
    }
    assert expected == {k: v for k, v in callback.payload.items() if k != "occurred_at"}
    report = bank.action_status(payment_id, action_id)
    assert (200, {"action_id": action_id, "type": action_type, "status": "SUCCEEDED"}) == (
        report.status_code,
        report.json(),
    )
    assert [] == validate("bank-action-status", report.json())


def test_captures_and_refunds_move_the_balances(bank: Bank) -> None:
    """A partial capture sets the captured amount; refunds add up to the refunded amount."""
    payment_id = bank.authorise()
    capture_id = str(uuid.uuid4())
    assert 202 == bank.act(payment_id, "captures", 700, action_id=capture_id).status_code
    assert "SUCCEEDED" == bank.settled(payment_id, capture_id)
    refunds = [str(uuid.uuid4()), str(uuid.uuid4())]
    for refund_id, amount in zip(refunds, (300, 400), strict=True):
        assert 202 == bank.act(payment_id, "refunds", amount, action_id=refund_id).status_code

    assert ["SUCCEEDED", "SUCCEEDED"] == [bank.settled(payment_id, r) for r in refunds]
    record = bank.sim.record(payment_id)
    assert (700, 700) == (record["amount_captured"], record["amount_refunded"])
    assert [("capture", 700), ("refund", 300), ("refund", 400)] == [
        (a["type"], a["amount"]) for a in record["actions"]
    ]


def test_a_repeat_with_the_same_key_gets_the_same_answer_and_is_applied_once(
    bank: Bank,
) -> None:
    """The same action again: the same 202, received twice, applied once, one callback."""
    payment_id = bank.pay()
    action_id = str(uuid.uuid4())
    first = bank.act(payment_id, "refunds", 500, action_id=action_id)
    again = bank.act(payment_id, "refunds", 500, action_id=action_id)

    assert (202, 202) == (first.status_code, again.status_code)
    assert first.json() == again.json()
    assert marker_delivered(bank.sim, bank.receiver)
    assert 1 == len(bank.action_callbacks(action_id))
    record = bank.action_record(action_id)
    assert (2, 1) == (record["received"], record["applied"])
    assert 500 == bank.sim.record(payment_id)["amount_refunded"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"amount": 501}, id="other-amount"),
        pytest.param({"segment": "captures"}, id="other-type"),
    ],
)
def test_the_same_key_with_another_request_is_422(bank: Bank, change: dict[str, Any]) -> None:
    """An action id reused for another amount or action type: 422 idempotency_key_reused,
    nothing applied again."""
    payment_id = bank.pay()
    action_id = str(uuid.uuid4())
    assert 202 == bank.act(payment_id, "refunds", 500, action_id=action_id).status_code

    reused = bank.act(
        payment_id, change.get("segment", "refunds"), change.get("amount", 500), action_id=action_id
    )

    assert 422 == reused.status_code
    assert "idempotency_key_reused" == reused.json()["error"]["code"]
    assert 1 == bank.action_record(action_id)["applied"]


def test_a_refund_of_the_refund_declining_card_is_declined_and_gives_its_amount_back(
    bank: Bank,
) -> None:
    """Card 4000000000005126 pays, its refund is DECLINED (by callback and GET), and the
    declined amount is refundable again."""
    payment_id = bank.pay(REFUND_DECLINED_CARD)
    action_id = str(uuid.uuid4())
    assert 202 == bank.act(payment_id, "refunds", AMOUNT, action_id=action_id).status_code

    assert "DECLINED" == bank.settled(payment_id, action_id)
    assert wait_for(lambda: 1 == len(bank.action_callbacks(action_id)))
    assert "DECLINED" == bank.action_callbacks(action_id)[0].payload["status"]
    assert 202 == bank.act(payment_id, "refunds", AMOUNT).status_code


def test_a_capture_of_the_capture_declining_card_is_declined_and_may_be_retried(
    bank: Bank,
) -> None:
    """Card 4000000000000341 authorises, its capture is DECLINED, the payment stays
    authorised: another capture (or a void) is accepted."""
    payment_id = bank.authorise(CAPTURE_DECLINED_CARD)
    action_id = str(uuid.uuid4())
    assert 202 == bank.act(payment_id, "captures", AMOUNT, action_id=action_id).status_code

    assert "DECLINED" == bank.settled(payment_id, action_id)
    assert 0 == bank.sim.record(payment_id)["amount_captured"]
    assert 202 == bank.act(payment_id, "voids").status_code


# -- the balances: 422 to what the gateway should never send ---------------------------------


def capture_settled(bank: Bank, payment_id: str, amount: int = AMOUNT) -> None:
    """Capture `amount` of the payment and wait until it succeeded."""
    action_id = str(uuid.uuid4())
    assert 202 == bank.act(payment_id, "captures", amount, action_id=action_id).status_code
    assert "SUCCEEDED" == bank.settled(payment_id, action_id)


@pytest.mark.parametrize(
    ("kind", "prepare", "segment", "amount", "code"),
    [
        ("capture", "authorised", "captures", AMOUNT + 1, "amount_too_large"),
        ("capture", "paid", "captures", 100, "payment_not_authorized"),
        ("capture", "declined", "captures", 100, "payment_not_authorized"),
        ("capture", "capture pending", "captures", 100, "already_captured"),
        ("capture", "voided", "captures", 100, "payment_not_authorized"),
        ("void", "captured", "voids", None, "already_captured"),
        ("void", "capture pending", "voids", None, "already_captured"),
        ("void", "paid", "voids", None, "payment_not_authorized"),
        ("refund", "authorised", "refunds", 100, "payment_not_captured"),
        ("refund", "paid", "refunds", AMOUNT + 1, "amount_too_large"),
        ("refund", "refund pending", "refunds", AMOUNT - 599, "amount_too_large"),
        ("refund", "captured", "refunds", AMOUNT + 1, "amount_too_large"),
    ],
)
def test_the_balances_refuse_what_a_gateway_should_never_send(
    bank: Bank, kind: str, prepare: str, segment: str, amount: int | None, code: str
) -> None:
    """A capture above the authorised amount or of a payment not authorised, a second
    capture, a void of a captured payment, a refund above captured less refunds (pending
    ones included): 422 with its code, nothing applied, and the log and stats show it."""
    payment_id = prepare_payment(bank, prepare)
    action_id = str(uuid.uuid4())

    refused = bank.act(payment_id, segment, amount, action_id=action_id)

    assert (422, code) == (refused.status_code, refused.json()["error"]["code"])
    assert 404 == bank.sim.client.get(f"/_sim/actions/{action_id}").status_code
    [entry] = [e for e in bank.log() if e["action_id"] == action_id]
    expected = (kind, payment_id, 422, "refused", code)
    assert expected == (
        entry["kind"],
        entry["payment_request_id"],
        entry["status"],
        entry["outcome"],
        entry["error_code"],
    )
    assert 1 == bank.sim.stats()["action_refusals"]


def prepare_payment(bank: Bank, state: str) -> str:
    """A payment in `state`, as the parametrised balance test names it."""
    if state == "paid":
        return bank.pay()
    if state == "declined":
        return bank.pay(DECLINED_CARD, capture=False)
    payment_id = bank.authorise()
    if state == "capture pending":
        # A capture decided one callback delay later: pending for the next request.
        assert 202 == bank.act(payment_id, "captures", AMOUNT).status_code
    elif state == "captured":
        capture_settled(bank, payment_id)
    elif state == "voided":
        assert 202 == bank.act(payment_id, "voids").status_code
    elif state == "refund pending":
        capture_settled(bank, payment_id)
        assert 202 == bank.act(payment_id, "refunds", 600).status_code
    return payment_id


def test_an_action_on_a_payment_the_bank_never_received_is_404(bank: Bank) -> None:
    """A capture, void or refund of an unknown payment: 404 not_found."""
    unknown = str(uuid.uuid4())

    answers = [bank.act(unknown, "captures", 100), bank.act(unknown, "voids")]
    answers.append(bank.act(unknown, "refunds", 100))

    assert [404] * 3 == [a.status_code for a in answers]
    assert {"not_found"} == {a.json()["error"]["code"] for a in answers}


def test_an_invalid_action_request_is_400_listing_every_bad_field(bank: Bank) -> None:
    """Bad path id, missing and extra fields, a bad amount and a missing key: every one
    reported; a mismatched key too."""
    payment_id = bank.pay()
    body = {"amount": 0, "note": "x"}

    invalid = bank.act("not-a-uuid", "refunds", body=body, key=None)
    mismatched = bank.act(payment_id, "voids", body={"action_id": str(uuid.uuid4())}, key="k-1")

    assert (400, 400) == (invalid.status_code, mismatched.status_code)
    assert [
        {"field": "payment_request_id", "message": "must be a UUID"},
        {"field": "action_id", "message": "is required"},
        {"field": "amount", "message": "must be an integer from 1 to 100000000"},
        {"field": "note", "message": "is not allowed"},
        {"field": "Idempotency-Key", "message": "header is required"},
    ] == invalid.json()["error"]["details"]
    assert [{"field": "Idempotency-Key", "message": "must equal action_id"}] == mismatched.json()[
        "error"
    ]["details"]


def test_the_action_endpoints_need_the_bank_key(bank: Bank) -> None:
    """Without the bearer key an action POST and GET are 401, nothing applied."""
    payment_id = bank.pay()
    action_id = str(uuid.uuid4())
    body = {"action_id": action_id, "amount": 100}
    headers = {"Idempotency-Key": action_id, **bank.sim.auth("wrong")}

    posted = bank.sim.client.post(f"/payments/{payment_id}/refunds", json=body, headers=headers)
    queried = bank.sim.client.get(f"/payments/{payment_id}/actions/{action_id}")

    assert (401, 401) == (posted.status_code, queried.status_code)
    assert 0 == bank.sim.record(payment_id)["amount_refunded"]
    assert 404 == bank.sim.client.get(f"/_sim/actions/{action_id}").status_code


def test_an_action_status_is_404_unless_the_bank_accepted_it_for_that_payment(
    bank: Bank,
) -> None:
    """GET of an action never accepted, or asked under another payment: 404; a bad id: 400."""
    payment_id, other_id = bank.pay(), bank.pay()
    action_id = str(uuid.uuid4())
    assert 202 == bank.act(payment_id, "refunds", 100, action_id=action_id).status_code

    never = bank.action_status(payment_id, str(uuid.uuid4()))
    elsewhere = bank.action_status(other_id, action_id)
    bad = bank.action_status(payment_id, "x")

    assert (404, 404, 400) == (never.status_code, elsewhere.status_code, bad.status_code)


# -- request log, faults, idempotency off ----------------------------------------------------


def test_action_requests_are_logged_with_their_ids_and_filtered_by_kind(bank: Bank) -> None:
    """An applied refund and its repeat are logged as kind refund with the payment id from
    the path, the payment's merchant and the action id; ?kind= reads one kind."""
    payment_id = bank.pay()
    action_id = str(uuid.uuid4())
    for _ in range(2):
        assert 202 == bank.act(payment_id, "refunds", 100, action_id=action_id).status_code
    merchant_id = bank.sim.record(payment_id)["merchant_id"]

    refunds = bank.log(kind="refund")

    assert [
        ("refund", payment_id, merchant_id, action_id, action_id, 202, "applied"),
        ("refund", payment_id, merchant_id, action_id, action_id, 202, "repeat"),
    ] == [
        (
            e["kind"],
            e["payment_request_id"],
            e["merchant_id"],
            e["action_id"],
            e["idempotency_key"],
            e["status"],
            e["outcome"],
        )
        for e in refunds
    ]
    assert ["payment"] == [e["kind"] for e in bank.log(kind="payment")]
    assert 3 == len(bank.log())
    bad = bank.sim.client.get("/_sim/requests", params={"kind": "chargeback"})
    assert (400, "kind") == (bad.status_code, bad.json()["error"]["details"][0]["field"])


def test_an_injected_outage_answers_503_and_applies_nothing(bank: Bank) -> None:
    """error_rate=1 answers every action POST 503 (logged unavailable), nothing applied."""
    payment_id = bank.pay()
    bank.sim.set_faults(error_rate=1)
    action_id = str(uuid.uuid4())

    answer = bank.act(payment_id, "refunds", 100, action_id=action_id)

    assert 503 == answer.status_code
    assert 404 == bank.sim.client.get(f"/_sim/actions/{action_id}").status_code
    assert ["unavailable"] == [e["outcome"] for e in bank.log(kind="refund")]


def test_an_accepted_then_timed_out_action_is_applied_once_and_its_retry_answered_at_once(
    bank: Bank,
) -> None:
    """timeout_rate=1: the first 202 is held past the client's timeout (logged held_ms); the
    retry with the same key gets 202 at once, and the action is applied once."""
    payment_id = bank.pay()
    bank.sim.set_faults(timeout_rate=1, timeout_ms=600)
    action_id = str(uuid.uuid4())

    with pytest.raises(httpx.ReadTimeout):
        bank.sim.client.post(
            f"/payments/{payment_id}/refunds",
            json={"action_id": action_id, "amount": 100},
            headers={"Idempotency-Key": action_id, **bank.sim.auth()},
            timeout=0.2,
        )
    started = time.monotonic()
    retry = bank.act(payment_id, "refunds", 100, action_id=action_id)

    assert 202 == retry.status_code
    assert time.monotonic() - started < 0.5
    assert (2, 1) == tuple(bank.action_record(action_id)[k] for k in ("received", "applied"))
    assert wait_for(lambda: all(e["answered_at"] for e in bank.log(kind="refund")))
    assert [(600, "applied"), (0, "repeat")] == [
        (e["held_ms"], e["outcome"]) for e in bank.log(kind="refund")
    ]


def test_latency_delays_the_action_endpoints(bank: Bank) -> None:
    """latency_ms is added to action POSTs and GETs."""
    payment_id = bank.pay()
    bank.sim.set_faults(latency_ms=300)
    action_id = str(uuid.uuid4())
    started = time.monotonic()

    assert 202 == bank.act(payment_id, "refunds", 100, action_id=action_id).status_code
    assert 200 == bank.action_status(payment_id, action_id).status_code

    assert time.monotonic() - started >= 0.6


def test_dropped_action_callbacks_are_not_sent_but_the_status_turns_final(bank: Bank) -> None:
    """drop_callback_rate=1: no action update, and GET still says SUCCEEDED."""
    payment_id = bank.pay()
    bank.sim.set_faults(drop_callback_rate=1)
    action_id = str(uuid.uuid4())
    assert 202 == bank.act(payment_id, "refunds", 100, action_id=action_id).status_code

    assert "SUCCEEDED" == bank.settled(payment_id, action_id)
    bank.sim.set_faults()
    assert marker_delivered(bank.sim, bank.receiver)
    assert [] == bank.action_callbacks(action_id)
    assert True is bank.action_record(action_id)["callbacks_dropped"]


def test_duplicate_action_callbacks_are_each_sent_that_many_times(bank: Bank) -> None:
    """duplicate_callbacks=3 sends the action update three times, each counted."""
    payment_id = bank.pay()
    bank.sim.set_faults(duplicate_callbacks=3)
    action_id = str(uuid.uuid4())
    assert 202 == bank.act(payment_id, "refunds", 100, action_id=action_id).status_code

    assert wait_for(lambda: 3 == len(bank.action_callbacks(action_id)))
    assert wait_for(lambda: 3 == bank.action_record(action_id)["callbacks_sent"])


def test_with_idempotency_off_every_accepted_repeat_is_applied_again(bank: Bank) -> None:
    """`idempotency: off`: each repeat of a refund is 202 and applied again (applied 3, the
    stats count it), with the one callback of the first."""
    payment_id = bank.pay()
    assert 200 == bank.sim.client.put("/_sim/mode", json={"idempotency": "off"}).status_code
    action_id = str(uuid.uuid4())

    answers = [bank.act(payment_id, "refunds", 400, action_id=action_id) for _ in range(3)]

    assert [202] * 3 == [a.status_code for a in answers]
    assert ["applied"] * 3 == [e["outcome"] for e in bank.log(kind="refund")]
    assert 3 == bank.action_record(action_id)["applied"]
    stats = bank.sim.stats()
    assert (1, 3, 1) == (stats["actions"], stats["actions_applied"], stats["applied_twice"])
    assert marker_delivered(bank.sim, bank.receiver)
    assert 1 == len(bank.action_callbacks(action_id))


def test_an_action_is_processing_until_the_bank_decides(tmp_path: Path) -> None:
    """With a long callback delay, GET says PROCESSING until the delay has passed."""
    receiver_port = free_port()  # nobody listens: the callback fails, which is fine here
    sim = start_simulator(
        tmp_path,
        f"http://127.0.0.1:{receiver_port}/bank/payment-updates",
        BANK_CALLBACK_DELAY_MS="700",
        BANK_CALLBACK_MAX_ATTEMPTS="1",
    )
    try:
        bank = Bank(sim, CallbackReceiver(receiver_port))
        payment_id = bank.pay()
        action_id = str(uuid.uuid4())
        assert 202 == bank.act(payment_id, "refunds", 100, action_id=action_id).status_code

        assert "PROCESSING" == bank.action_status(payment_id, action_id).json()["status"]
        assert "SUCCEEDED" == bank.settled(payment_id, action_id)
    finally:
        stop_simulator(sim)
