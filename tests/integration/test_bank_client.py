"""HttpAcquiringBank against a scripted HTTP server, and the bank status mapping (SPEC §4)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.bank.client import HttpAcquiringBank
from shared_kernel.adapters.bank.transformers import BankStatus, outcome_of
from shared_kernel.application.errors import BankRejected, BankUnavailable
from shared_kernel.application.ports import BankAcceptance, BankPaymentRequest, BankStatusReport
from shared_kernel.contracts import load_schema, validate
from shared_kernel.domain.card import CardSecrets, Expiry
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import DeclineReason, Outcome, PaymentStatus

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


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>oops</html>", id="not-json"),
        pytest.param({"payment_request_id": str(PAYMENT_ID), "status": "PROCESSING"}, id="no-ref"),
        pytest.param(answer(status="PAID"), id="not-processing"),
        pytest.param(answer(payment_id=uuid4()), id="other-payment"),
    ],
)
def test_a_malformed_acceptance_raises_bank_unavailable(
    client: HttpAcquiringBank, bank: ScriptedBank, body: object
) -> None:
    """A 202 whose body breaks bank-payment-accepted leaves the outcome unknown."""
    bank.script(202, body)

    with pytest.raises(BankUnavailable):
        client.submit(REQUEST)


def test_a_bank_slower_than_the_read_timeout_raises_bank_unavailable(
    client: HttpAcquiringBank, bank: ScriptedBank
) -> None:
    """A timed-out call is an unknown outcome, reported as soon as the read timeout passes."""
    bank.script(202, answer(), delay_s=READ_TIMEOUT_S + 1.0)
    started = time.monotonic()

    with pytest.raises(BankUnavailable):
        client.submit(REQUEST)

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


def test_a_payment_the_bank_never_received_has_no_status(
    client: HttpAcquiringBank, bank: ScriptedBank
) -> None:
    """404 on GET means the bank never received the payment: None."""
    bank.script(404, {"error": {"code": "not_found", "message": "unknown", "details": []}})

    assert None is client.status_of(PAYMENT_ID)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(500, b"{}", id="5xx"),
        pytest.param(401, b"{}", id="unauthorized"),
        pytest.param(200, answer(status="REFUNDED"), id="unknown-status"),
        pytest.param(200, b"not json", id="not-json"),
    ],
)
def test_a_failed_status_query_raises_bank_unavailable(
    client: HttpAcquiringBank, bank: ScriptedBank, status: int, body: object
) -> None:
    """Any status answer other than a valid 200 or a 404 leaves the status unknown."""
    bank.script(status, body)

    with pytest.raises(BankUnavailable):
        client.status_of(PAYMENT_ID)


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
