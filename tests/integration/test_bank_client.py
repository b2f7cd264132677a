"""HttpAcquiringBank against a scripted HTTP server, and the bank status mapping: the payment
calls (SPEC §4), and the captures, voids, refunds and action queries of BankActions (§8)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.bank.client import HttpAcquiringBank
from shared_kernel.adapters.bank.transformers import BankStatus, outcome_of
from shared_kernel.application.errors import BankRejected, BankUnavailable, BankUnknownPayment
from shared_kernel.application.ports import (
    BankAcceptance,
    BankActionReport,
    BankActionRequest,
    BankActionStatus,
    BankPaymentRequest,
    BankStatusReport,
)
from shared_kernel.contracts import load_schema, validate
from shared_kernel.domain.action import ActionType
from shared_kernel.domain.card import CardSecrets, Expiry
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import DeclineReason, Outcome, PaymentStatus
from tests.unit.fakes import RecordingMetrics

from .conftest import free_port

pytestmark = pytest.mark.integration

BANK_KEY = "bank-secret-key"
READ_TIMEOUT_S = 0.3
PAYMENT_ID = UUID("3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a")
MERCHANT_ID = UUID("6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b")
REQUEST = BankPaymentRequest(
    payment_id=PAYMENT_ID,
    merchant_id=MERCHANT_ID,
    card=CardSecrets("4242424242424242", "123"),
    expiry=Expiry(12, 2030),
    money=Money(1050, "GBP"),
)


ACTION_ID = UUID("5b2e7f10-8c4d-4a6b-9e1f-3d2c1b0a9f8e")
CAPTURE = BankActionRequest(PAYMENT_ID, MERCHANT_ID, ACTION_ID, ActionType.CAPTURE, amount=800)
VOID = BankActionRequest(PAYMENT_ID, MERCHANT_ID, ACTION_ID, ActionType.VOID)
REFUND = BankActionRequest(PAYMENT_ID, MERCHANT_ID, ACTION_ID, ActionType.REFUND, amount=300)
ERROR = {"error": {"code": "amount_too_large", "message": "too much", "details": []}}


def accepted(action_id: UUID = ACTION_ID) -> dict[str, str]:
    """The bank's 202 answer to an action about `action_id`."""
    return {"action_id": str(action_id), "status": "PROCESSING"}


def report(
    action_id: UUID = ACTION_ID, type_: str = "refund", status: str = "SUCCEEDED"
) -> dict[str, str]:
    """The bank's 200 answer to an action status query."""
    return {"action_id": str(action_id), "type": type_, "status": status}


class _BacklogServer(ThreadingHTTPServer):
    # The default listen backlog (5) drops SYNs when the forwarder's ten threads connect
    # at once, and a dropped SYN is retried only after a second: longer than the timeout.
    request_queue_size = 64


def answer(payment_id: UUID = PAYMENT_ID, status: str = "PROCESSING") -> dict[str, str]:
    """A bank answer body about `payment_id`."""
    return {"payment_request_id": str(payment_id), "bank_reference": "bank_7c1e", "status": status}


@dataclass
class Received:
    """One request the scripted bank received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


@dataclass
class ScriptedBank:
    """An HTTP server that records every request and answers what the test scripted."""

    url: str = ""
    status: int = 202
    body: bytes = field(default_factory=lambda: json.dumps(answer()).encode())
    delay_s: float = 0.0
    requests: list[Received] = field(default_factory=list)

    def script(self, status: int, body: object = b"", delay_s: float = 0.0) -> None:
        """Answer every following request with `status` and `body` after `delay_s`."""
        self.status, self.delay_s = status, delay_s
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()


def _handler(bank: ScriptedBank) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            bank.requests.append(
                Received(self.command, self.path, dict(self.headers), body, self.client_address[1])
            )
            time.sleep(bank.delay_s)
            try:
                self.send_response(bank.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(bank.body)))
                self.end_headers()
                self.wfile.write(bank.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout test)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def bank() -> Iterator[ScriptedBank]:
    """A scripted bank on a free port, answering 202 with a valid acceptance by default."""
    scripted = ScriptedBank()
    server = _BacklogServer(("127.0.0.1", 0), _handler(scripted))
    scripted.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield scripted
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(bank: ScriptedBank) -> HttpAcquiringBank:
    """A bank client for the scripted bank, with a short read timeout."""
    return HttpAcquiringBank(bank.url + "/", lambda: BANK_KEY, 0.5, READ_TIMEOUT_S)


def test_an_accepted_payment_returns_the_bank_reference(
    client: HttpAcquiringBank, bank: ScriptedBank
) -> None:
    """202 becomes a BankAcceptance; the request is POST /payments with the bearer key, the
    payment id as Idempotency-Key and the SPEC §4 body, valid against its contract."""
    acceptance = client.submit(REQUEST)

    assert BankAcceptance(bank_reference="bank_7c1e") == acceptance
    [sent] = bank.requests
    assert ("POST", "/payments") == (sent.method, sent.path)
    assert f"Bearer {BANK_KEY}" == sent.headers["Authorization"]
    assert str(PAYMENT_ID) == sent.headers["Idempotency-Key"]
    assert "application/json" == sent.headers["Content-Type"]
    expected_body = {
        "payment_request_id": str(PAYMENT_ID),
        "merchant_id": str(MERCHANT_ID),
        "card_number": "4242424242424242",
        "expiry_month": 12,
        "expiry_year": 2030,
        "cvv": "123",
        "amount": 1050,
        "currency": "GBP",
    }
    assert expected_body == json.loads(sent.body)
    assert [] == validate("bank-payment-request", json.loads(sent.body))


def test_the_correlation_id_travels_as_a_header(
    client: HttpAcquiringBank, bank: ScriptedBank
) -> None:
    """A request carrying a correlation id sends it as X-Correlation-Id; none, no header."""
    client.submit(dataclasses.replace(REQUEST, correlation_id="corr-abc-1"))
    client.submit(REQUEST)

    with_id, without = bank.requests
    assert "corr-abc-1" == with_id.headers["X-Correlation-Id"]
    assert "X-Correlation-Id" not in without.headers


@pytest.mark.parametrize("status", [400, 422])
def test_an_invalid_request_answer_raises_bank_rejected(
    client: HttpAcquiringBank, bank: ScriptedBank, status: int
) -> None:
    """400 and 422 mean the request is invalid: BankRejected, never retried."""
    bank.script(status, {"error": {"code": "validation_error", "message": "bad", "details": []}})

    with pytest.raises(BankRejected):
        client.submit(REQUEST)

    assert 1 == len(bank.requests)


@pytest.mark.parametrize("status", [500, 502, 503, 401, 403, 404, 200, 301])
def test_any_other_answer_raises_bank_unavailable_after_one_attempt(
    client: HttpAcquiringBank, bank: ScriptedBank, status: int
) -> None:
    """5xx, refused credentials and unexpected statuses leave the outcome unknown:
    BankUnavailable, with no automatic retry (the queue retries)."""
    bank.script(status, b"{}")

    with pytest.raises(BankUnavailable):
        client.submit(REQUEST)

    assert 1 == len(bank.requests)


def send_payment(client: HttpAcquiringBank) -> object:
    """Submit the test payment."""
    return client.submit(REQUEST)


def send_refund(client: HttpAcquiringBank) -> object:
    """Submit the test refund (defined with the action tests below)."""
    return client.submit_action(REFUND)


@pytest.mark.parametrize(
    ("send", "body"),
    [
        pytest.param(send_payment, b"<html>oops</html>", id="not-json"),
        pytest.param(
            send_payment,
            {"payment_request_id": str(PAYMENT_ID), "status": "PROCESSING"},
            id="no-ref",
        ),
        pytest.param(send_payment, answer(status="PAID"), id="not-processing"),
        pytest.param(send_payment, answer(payment_id=uuid4()), id="other-payment"),
        pytest.param(send_refund, b"<html>oops</html>", id="action-not-json"),
        pytest.param(send_refund, {"action_id": str(ACTION_ID)}, id="action-no-status"),
        pytest.param(
            send_refund,
            {"action_id": str(ACTION_ID), "status": "SUCCEEDED"},
            id="action-not-processing",
        ),
        pytest.param(send_refund, accepted(uuid4()), id="other-action"),
    ],
)
def test_a_malformed_acceptance_raises_bank_unavailable(
    client: HttpAcquiringBank,
    bank: ScriptedBank,
    send: Callable[[HttpAcquiringBank], object],
    body: object,
) -> None:
    """A 202 whose body breaks bank-payment-accepted (or, for an action,
    bank-action-accepted) leaves the outcome unknown."""
    bank.script(202, body)

    with pytest.raises(BankUnavailable):
        send(client)


@pytest.mark.parametrize(
    ("send", "accepted_body"),
    [
        pytest.param(send_payment, answer(), id="payment"),
        pytest.param(
            send_refund, {"action_id": str(ACTION_ID), "status": "PROCESSING"}, id="action"
        ),
    ],
)
def test_a_bank_slower_than_the_read_timeout_raises_bank_unavailable(
    client: HttpAcquiringBank,
    bank: ScriptedBank,
    send: Callable[[HttpAcquiringBank], object],
    accepted_body: dict[str, str],
) -> None:
    """A timed-out call (a payment, or an action: the same timeouts) is an unknown outcome,
    reported as soon as the read timeout passes."""
    bank.script(202, accepted_body, delay_s=READ_TIMEOUT_S + 1.0)
    started = time.monotonic()

    with pytest.raises(BankUnavailable):
        send(client)

    assert time.monotonic() - started < READ_TIMEOUT_S + 0.5


def test_a_refused_connection_raises_bank_unavailable() -> None:
    """Nobody listening on the bank's port is an unknown outcome too."""
    client = HttpAcquiringBank(f"http://127.0.0.1:{free_port()}", lambda: BANK_KEY, 0.5, 0.5)

    with pytest.raises(BankUnavailable):
        client.submit(REQUEST)
    with pytest.raises(BankUnavailable):
        client.status_of(PAYMENT_ID)


@pytest.mark.parametrize(
    ("bank_status", "outcome"),
    [
        ("PROCESSING", Outcome(PaymentStatus.PROCESSING)),
        ("PAID", Outcome(PaymentStatus.SUCCEEDED)),
        ("DECLINED", Outcome(PaymentStatus.DECLINED, DeclineReason.DO_NOT_HONOR)),
    ],
)
def test_a_status_answer_is_mapped_to_an_outcome(
    client: HttpAcquiringBank, bank: ScriptedBank, bank_status: str, outcome: Outcome
) -> None:
    """GET /payments/{id} answering 200 becomes a BankStatusReport with the mapped outcome."""
    bank.script(200, answer(status=bank_status))

    report = client.status_of(PAYMENT_ID)

    assert BankStatusReport(bank_reference="bank_7c1e", outcome=outcome) == report
    [sent] = bank.requests
    assert ("GET", f"/payments/{PAYMENT_ID}") == (sent.method, sent.path)
    assert f"Bearer {BANK_KEY}" == sent.headers["Authorization"]


def query_payment(client: HttpAcquiringBank) -> object:
    """Ask the bank for the test payment's status."""
    return client.status_of(PAYMENT_ID)


def query_action(client: HttpAcquiringBank) -> object:
    """Ask the bank for the test action's status."""
    return client.action_status_of(PAYMENT_ID, ACTION_ID)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(query_payment, id="payment"),
        pytest.param(query_action, id="action"),
    ],
)
def test_a_payment_the_bank_never_received_has_no_status(
    client: HttpAcquiringBank, bank: ScriptedBank, query: Callable[[HttpAcquiringBank], object]
) -> None:
    """404 on GET means the bank never received the payment (or the action): None."""
    bank.script(404, {"error": {"code": "not_found", "message": "unknown", "details": []}})

    assert None is query(client)


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        pytest.param(query_payment, 500, b"{}", id="5xx"),
        pytest.param(query_payment, 401, b"{}", id="unauthorized"),
        pytest.param(query_payment, 200, answer(status="REFUNDED"), id="unknown-status"),
        pytest.param(query_payment, 200, b"not json", id="not-json"),
        pytest.param(query_action, 503, b"{}", id="action-5xx"),
        pytest.param(query_action, 403, b"{}", id="action-forbidden"),
        pytest.param(query_action, 200, report(status="REFUNDED"), id="action-unknown-status"),
        pytest.param(query_action, 200, report(type_="chargeback"), id="action-unknown-type"),
        pytest.param(query_action, 200, report(action_id=uuid4()), id="other-action"),
        pytest.param(query_action, 200, b"not json", id="action-not-json"),
    ],
)
def test_a_failed_status_query_raises_bank_unavailable(
    client: HttpAcquiringBank,
    bank: ScriptedBank,
    query: Callable[[HttpAcquiringBank], object],
    status: int,
    body: object,
) -> None:
    """Any status answer other than a valid 200 (about this payment or action) or a 404
    leaves the status unknown."""
    bank.script(status, body)

    with pytest.raises(BankUnavailable):
        query(client)


def test_sequential_calls_reuse_one_kept_alive_connection(
    client: HttpAcquiringBank, bank: ScriptedBank
) -> None:
    """The connection pool keeps connections alive: three calls, one TCP connection."""
    for _ in range(3):
        client.submit(REQUEST)

    assert 1 == len({request.client_port for request in bank.requests})


def test_one_client_serves_concurrent_threads(bank: ScriptedBank) -> None:
    """The forwarder submits a batch concurrently through one shared client."""
    client = HttpAcquiringBank(bank.url, lambda: BANK_KEY, 0.5, 2.0)
    bank.script(202, answer(), delay_s=0.05)
    requests = [
        BankPaymentRequest(PAYMENT_ID, MERCHANT_ID, REQUEST.card, REQUEST.expiry, REQUEST.money)
        for _ in range(10)
    ]

    with ThreadPoolExecutor(max_workers=10) as pool:
        acceptances = list(pool.map(client.submit, requests))

    assert [BankAcceptance("bank_7c1e")] * 10 == acceptances
    assert 10 == len(bank.requests)


@pytest.mark.parametrize(
    ("bank_status", "outcome"),
    [
        (BankStatus.PROCESSING, Outcome(PaymentStatus.PROCESSING)),
        (BankStatus.PAID, Outcome(PaymentStatus.SUCCEEDED)),
        (BankStatus.AUTHORIZED, Outcome(PaymentStatus.AUTHORIZED)),
        (
            BankStatus.INSUFFICIENT_FUNDS,
            Outcome(PaymentStatus.DECLINED, DeclineReason.INSUFFICIENT_FUNDS),
        ),
        (BankStatus.FRAUD_DETECTED, Outcome(PaymentStatus.DECLINED, DeclineReason.FRAUD_SUSPECTED)),
        (BankStatus.DECLINED, Outcome(PaymentStatus.DECLINED, DeclineReason.DO_NOT_HONOR)),
    ],
)
def test_every_bank_status_maps_to_its_spec_outcome(
    bank_status: BankStatus, outcome: Outcome
) -> None:
    """outcome_of follows the SPEC §4 table, from the plain string the bank sends."""
    assert outcome == outcome_of(str(bank_status))


def test_the_status_mapping_covers_exactly_the_contract_statuses() -> None:
    """BankStatus has exactly the contract's bank statuses, and each one maps."""
    contract_statuses = load_schema("common")["$defs"]["bank_status"]["enum"]

    assert sorted(contract_statuses) == sorted(status.value for status in BankStatus)
    assert len(BankStatus) == len({outcome_of(status) for status in BankStatus})


@pytest.mark.parametrize("unknown", ["REFUNDED", "paid", "", "PAID "])
def test_an_unknown_bank_status_raises_value_error(unknown: str) -> None:
    """A status outside the contract is never guessed at."""
    with pytest.raises(ValueError, match="unknown bank status"):
        outcome_of(unknown)


# --- BankActions: captures, voids, refunds (SPEC §8) --------------------------------------


@pytest.mark.parametrize(
    ("request_", "path", "contract", "body"),
    [
        pytest.param(
            CAPTURE,
            "captures",
            "bank-capture-request",
            {"action_id": str(ACTION_ID), "amount": 800},
            id="capture",
        ),
        pytest.param(VOID, "voids", "bank-void-request", {"action_id": str(ACTION_ID)}, id="void"),
        pytest.param(
            REFUND,
            "refunds",
            "bank-refund-request",
            {"action_id": str(ACTION_ID), "amount": 300},
            id="refund",
        ),
    ],
)
def test_an_action_is_posted_under_its_payment_with_the_action_id_as_key(
    client: HttpAcquiringBank,
    bank: ScriptedBank,
    request_: BankActionRequest,
    path: str,
    contract: str,
    body: dict[str, object],
) -> None:
    """Each action is POST /payments/{id}/<captures|voids|refunds> with the bearer key, the
    action id as Idempotency-Key and its §8 body (valid against its contract); 202 returns."""
    bank.script(202, accepted())

    assert None is client.submit_action(request_)

    [sent] = bank.requests
    assert ("POST", f"/payments/{PAYMENT_ID}/{path}") == (sent.method, sent.path)
    assert f"Bearer {BANK_KEY}" == sent.headers["Authorization"]
    assert str(ACTION_ID) == sent.headers["Idempotency-Key"]
    assert "application/json" == sent.headers["Content-Type"]
    assert body == json.loads(sent.body)
    assert [] == validate(contract, json.loads(sent.body))


def test_an_actions_correlation_id_travels_as_a_header(
    client: HttpAcquiringBank, bank: ScriptedBank
) -> None:
    """An action carrying a correlation id sends it as X-Correlation-Id."""
    bank.script(202, accepted())

    client.submit_action(dataclasses.replace(REFUND, correlation_id="corr-refund-1"))

    assert "corr-refund-1" == bank.requests[0].headers["X-Correlation-Id"]


@pytest.mark.parametrize("type_", [ActionType.CAPTURE, ActionType.REFUND])
def test_a_capture_or_refund_without_an_amount_is_never_sent(
    client: HttpAcquiringBank, bank: ScriptedBank, type_: ActionType
) -> None:
    """A capture or refund needs an amount: ValueError, and nothing reaches the bank."""
    with pytest.raises(ValueError, match="needs an amount"):
        client.submit_action(BankActionRequest(PAYMENT_ID, MERCHANT_ID, ACTION_ID, type_))

    assert [] == bank.requests


@pytest.mark.parametrize("status", [400, 422])
def test_an_invalid_action_answer_raises_bank_rejected(
    client: HttpAcquiringBank, bank: ScriptedBank, status: int
) -> None:
    """400 and 422 (e.g. a refund above what is left) mean never retry: BankRejected, and
    not the unknown-payment kind."""
    bank.script(status, ERROR)

    with pytest.raises(BankRejected) as raised:
        client.submit_action(REFUND)

    assert not isinstance(raised.value, BankUnknownPayment)
    assert 1 == len(bank.requests)


def test_an_action_on_a_payment_the_bank_does_not_know_raises_unknown_payment(
    client: HttpAcquiringBank, bank: ScriptedBank
) -> None:
    """404 to an action: BankUnknownPayment (a BankRejected: never retried)."""
    bank.script(404, {"error": {"code": "not_found", "message": "unknown", "details": []}})

    with pytest.raises(BankUnknownPayment):
        client.submit_action(CAPTURE)


@pytest.mark.parametrize("status", [500, 502, 503, 401, 403, 200, 301])
def test_any_other_action_answer_raises_bank_unavailable_after_one_attempt(
    client: HttpAcquiringBank, bank: ScriptedBank, status: int
) -> None:
    """5xx, refused credentials and unexpected statuses leave the action's outcome unknown."""
    bank.script(status, b"{}")

    with pytest.raises(BankUnavailable):
        client.submit_action(VOID)

    assert 1 == len(bank.requests)


def test_an_unreachable_bank_leaves_actions_unknown() -> None:
    """Nobody listening: both action calls raise BankUnavailable."""
    client = HttpAcquiringBank(f"http://127.0.0.1:{free_port()}", lambda: BANK_KEY, 0.5, 0.5)

    with pytest.raises(BankUnavailable):
        client.submit_action(REFUND)
    with pytest.raises(BankUnavailable):
        client.action_status_of(PAYMENT_ID, ACTION_ID)


@pytest.mark.parametrize(
    ("type_", "status"),
    [
        ("capture", BankActionStatus.SUCCEEDED),
        ("void", BankActionStatus.PROCESSING),
        ("refund", BankActionStatus.DECLINED),
    ],
)
def test_an_action_status_answer_becomes_a_report(
    client: HttpAcquiringBank, bank: ScriptedBank, type_: str, status: BankActionStatus
) -> None:
    """GET /payments/{id}/actions/{action_id} answering 200 becomes a BankActionReport."""
    bank.script(200, report(type_=type_, status=str(status)))

    found = client.action_status_of(PAYMENT_ID, ACTION_ID)

    assert BankActionReport(ACTION_ID, ActionType(type_), status) == found
    [sent] = bank.requests
    assert ("GET", f"/payments/{PAYMENT_ID}/actions/{ACTION_ID}") == (sent.method, sent.path)
    assert f"Bearer {BANK_KEY}" == sent.headers["Authorization"]


def test_action_calls_record_their_latency_and_errors(bank: ScriptedBank) -> None:
    """Each action call records its latency (BankRefundLatency, BankActionStatusLatency, ...)
    and a 5xx counts as a BankErrors of its operation, as the payment calls do."""
    metrics = RecordingMetrics()
    client = HttpAcquiringBank(bank.url, lambda: BANK_KEY, 0.5, 2.0, metrics=metrics)
    bank.script(202, accepted())
    client.submit_action(REFUND)
    client.submit_action(CAPTURE)
    bank.script(503, b"{}")
    with pytest.raises(BankUnavailable):
        client.submit_action(VOID)
    with pytest.raises(BankUnavailable):
        client.action_status_of(PAYMENT_ID, ACTION_ID)

    timed = sorted({m.name for m in metrics.recorded if m.name.endswith("Latency")})
    assert [
        "BankActionStatusLatency",
        "BankCaptureLatency",
        "BankRefundLatency",
        "BankVoidLatency",
    ] == timed
    errors = {key: n for key, n in metrics.counts().items() if key[0] == "BankErrors"}
    assert {
        ("BankErrors", (("error", "http_503"), ("operation", "void"))): 1,
        ("BankErrors", (("error", "http_503"), ("operation", "action_status"))): 1,
    } == errors


def test_a_manual_payment_is_sent_with_capture_false(
    client: HttpAcquiringBank, bank: ScriptedBank
) -> None:
    """A payment with capture False carries `"capture": false` (valid against the contract);
    an automatic one carries no capture property at all (the SPEC §4 body)."""
    client.submit(dataclasses.replace(REQUEST, capture=False))
    client.submit(REQUEST)

    manual, automatic = (json.loads(sent.body) for sent in bank.requests)
    assert False is manual["capture"]
    assert [] == validate("bank-payment-request", manual)
    assert "capture" not in automatic


def test_an_authorized_status_answer_is_the_authorized_outcome(
    client: HttpAcquiringBank, bank: ScriptedBank
) -> None:
    """GET /payments/{id} answering AUTHORIZED is the gateway's authorized outcome."""
    bank.script(200, answer(status="AUTHORIZED"))

    found = client.status_of(PAYMENT_ID)

    assert BankStatusReport("bank_7c1e", Outcome(PaymentStatus.AUTHORIZED)) == found
