"""Black-box tests of the bank simulator (SPEC §4 and §5).

The simulator runs as a subprocess on a free loopback port, exactly as the local stack starts
it. Its callbacks go to a small receiver inside the test process, which checks every
``X-Bank-Signature`` with its own HMAC code rather than the simulator's.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.simulator

REPO_ROOT = Path(__file__).resolve().parents[2]
SIMULATOR = REPO_ROOT / "services" / "bank-simulator" / "bank_simulator.py"
API_KEY = "test-bank-api-key"
SECRET = "test-callback-secret"
DELAY_MS = 20
# Ports other engineers' servers use on this machine; the tests must never take them.
RESERVED_PORTS = {3000, 3001, 3002, 4566}
RFC3339_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

PAID_CARD = "4242424242424242"
UNAVAILABLE_FIRST_CARD = "4000000000000119"
PROCESSING_THEN_PAID_CARD = "4000000000000101"


# -- helpers -------------------------------------------------------------------------------


def free_port() -> int:
    """A currently free loopback port, found by binding to port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    assert port not in RESERVED_PORTS
    return port


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def payment_body(card_number: str = PAID_CARD, **overrides: Any) -> dict[str, Any]:
    """A valid ``POST /payments`` body with fresh ids."""
    body: dict[str, Any] = {
        "payment_request_id": str(uuid.uuid4()),
        "merchant_id": str(uuid.uuid4()),
        "card_number": card_number,
        "expiry_month": 12,
        "expiry_year": 2030,
        "cvv": "123",
        "amount": 1050,
        "currency": "GBP",
    }
    body.update(overrides)
    return body


def marker_delivered(
    sim: Simulator, receiver: CallbackReceiver, card_number: str = PAID_CARD, copies: int = 1
) -> bool:
    """POST a fresh marker payment and wait until its last callback arrived.

    The simulator hands callbacks to its workers in the order they fall due (one scheduler
    heap, the same delay for the same step), so a callback scheduled before the marker's POST
    leaves before the marker's: once the marker's last one has arrived, a callback that must
    not exist would already be in `receiver`. The absence checks below wait for this instead
    of sleeping, so they fail when the unwanted callback is sent.
    """
    marker = payment_body(card_number)
    assert 202 == sim.post_payment(marker).status_code
    # Every marker card ends PAID; PROCESSING_THEN_PAID_CARD sends a PROCESSING first.
    wanted = copies * (2 if card_number == PROCESSING_THEN_PAID_CARD else 1)
    marker_id = marker["payment_request_id"]
    return wait_for(
        lambda: (
            len(receiver.for_payment(marker_id)) == wanted
            and receiver.statuses(marker_id).count("PAID") == copies
        )
    )


def verify_signature(header: str, raw_body: bytes, secret: str) -> bool:
    """The gateway's check of ``X-Bank-Signature``, written independently of the simulator."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        return False
    if abs(time.time() - int(parts["t"])) > 300:
        return False
    signed = parts["t"].encode() + b"." + raw_body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@dataclass
class ReceivedCallback:
    """One callback as the receiver saw it."""

    payload: dict[str, Any]
    signature_ok: bool
    content_type: str
    path: str


@dataclass
class CallbackReceiver:
    """A stand-in for the gateway's callback endpoint, recording what arrives."""

    port: int
    received: list[ReceivedCallback] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Answer this status to the next ``fail_next`` deliveries (to exercise retries).
    fail_status: int = 503
    fail_next: int = 0
    attempts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bank/payment-updates"

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.fail_next = 0
            self.attempts = 0

    def for_payment(self, payment_id: str) -> list[ReceivedCallback]:
        with self.lock:
            received = list(self.received)
        return [c for c in received if c.payload["payment_request_id"] == payment_id]

    def statuses(self, payment_id: str) -> list[str]:
        return [c.payload["status"] for c in self.for_payment(payment_id)]


def make_receiver_handler(receiver: CallbackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.attempts += 1
                failing = receiver.fail_next > 0
                if failing:
                    receiver.fail_next -= 1
                else:
                    receiver.received.append(
                        ReceivedCallback(
                            payload=json.loads(raw),
                            signature_ok=verify_signature(
                                self.headers.get("X-Bank-Signature", ""), raw, SECRET
                            ),
                            content_type=self.headers.get("Content-Type", ""),
                            path=self.path,
                        )
                    )
            status = receiver.fail_status if failing else 200
            answer = b'{"received":true}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean

    return Handler


@dataclass
class Simulator:
    """A running simulator subprocess and an HTTP client for it."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    log_path: Path
    client: httpx.Client

    def auth(self, key: str = API_KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def post_payment(
        self,
        body: dict[str, Any],
        *,
        key: str | None = "same",
        timeout: float = 5.0,
    ) -> httpx.Response:
        """POST /payments; ``key="same"`` sends the body's payment id as Idempotency-Key."""
        headers = self.auth()
        if key == "same":
            headers["Idempotency-Key"] = str(body.get("payment_request_id"))
        elif key is not None:
            headers["Idempotency-Key"] = key
        client = self.client
        return client.post("/payments", json=body, headers=headers, timeout=timeout)

    def record(self, payment_id: str) -> dict[str, Any]:
        response = self.client.get(f"/_sim/payments/{payment_id}")
        assert 200 == response.status_code, response.text
        result: dict[str, Any] = response.json()
        return result

    def charges(self, payment_id: str) -> int:
        """How many times the payment was charged; 0 while the bank has not received it."""
        response = self.client.get(f"/_sim/payments/{payment_id}")
        if response.status_code == 404:
            return 0
        assert 200 == response.status_code, response.text
        charges: int = response.json()["charges"]
        return charges

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.get("/_sim/stats").json()
        return result

    def set_faults(self, **faults: Any) -> None:
        response = self.client.put("/_sim/faults", json=faults)
        assert 200 == response.status_code, response.text


def start_simulator(tmp_dir: Path, callback_url: str, **env: str) -> Simulator:
    """Start the simulator subprocess on a free port and wait until it answers."""
    port = free_port()
    log_path = tmp_dir / f"bank-simulator-{port}.log"
    full_env = {
        **os.environ,
        "BANK_SIMULATOR_HOST": "127.0.0.1",
        "BANK_SIMULATOR_PORT": str(port),
        "BANK_CALLBACK_URL": callback_url,
        "BANK_CALLBACK_SECRET": SECRET,
        "BANK_API_KEY": API_KEY,
        "BANK_CALLBACK_DELAY_MS": str(DELAY_MS),
        "BANK_CALLBACK_RETRY_BASE_MS": "10",
        "BANK_SIMULATOR_LOG_LEVEL": "DEBUG",
        **env,
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(SIMULATOR)],
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    # trust_env=False: a developer's HTTP(S)_PROXY must not intercept loopback calls.
    client = httpx.Client(base_url=base_url, trust_env=False, timeout=5.0)
    simulator = Simulator(process, base_url, port, log_path, client)

    def healthy() -> bool:
        if process.poll() is not None:
            return True  # exited: stop waiting, fail below
        try:
            return client.get("/health").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, timeout_s=10)
    if process.poll() is not None:
        raise RuntimeError(f"simulator exited early:\n{log_path.read_text()}")
    return simulator


def stop_simulator(simulator: Simulator) -> int:
    """Stop the subprocess by its pid (SIGTERM, then SIGKILL); return its exit code."""
    simulator.client.close()
    if simulator.process.poll() is None:
        os.kill(simulator.process.pid, signal.SIGTERM)
        try:
            return simulator.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(simulator.process.pid, signal.SIGKILL)
    return simulator.process.wait(timeout=5)


@contextlib.contextmanager
def simulator_with_receiver(tmp_dir: Path) -> Iterator[tuple[Simulator, CallbackReceiver]]:
    """A simulator subprocess whose callbacks go to a receiver of its own, both stopped on
    exit (the simulator by its pid)."""
    receiver = CallbackReceiver(free_port())
    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), make_receiver_handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="callback-receiver")
    thread.start()
    try:
        simulator = start_simulator(tmp_dir, receiver.url)
        try:
            yield simulator, receiver
        finally:
            stop_simulator(simulator)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    port = free_port()
    state = CallbackReceiver(port)
    server = ThreadingHTTPServer(("127.0.0.1", port), make_receiver_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="callback-receiver")
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bank-simulator")


@pytest.fixture(scope="module")
def module_sim(sim_dir: Path, receiver: CallbackReceiver) -> Iterator[Simulator]:
    simulator = start_simulator(sim_dir, receiver.url)
    yield simulator
    stop_simulator(simulator)


@pytest.fixture
def sim(module_sim: Simulator, receiver: CallbackReceiver) -> Simulator:
    """The shared simulator, reset (no records, no faults) before each test."""
    response = module_sim.client.post("/_sim/reset")
    assert 200 == response.status_code
    receiver.clear()
    return module_sim


# -- card table ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card_number", "expected_callbacks"),
    [
        (PAID_CARD, ["PAID"]),
        ("4000000000009995", ["INSUFFICIENT_FUNDS"]),
        ("4100000000000019", ["FRAUD_DETECTED"]),
        ("4000000000000002", ["DECLINED"]),
        (PROCESSING_THEN_PAID_CARD, ["PROCESSING", "PAID"]),
        ("4000000000000341", ["PAID"]),  # pays; only its captures are declined (§8)
        ("4000000000005126", ["PAID"]),  # pays; only its refunds are declined (§8)
        ("5555555555554444", ["PAID"]),
    ],
)
def test_each_card_gets_its_outcome_and_signed_callbacks(
    sim: Simulator,
    receiver: CallbackReceiver,
    card_number: str,
    expected_callbacks: list[str],
) -> None:
    """Each test card is accepted with 202 PROCESSING and gets its callbacks, signed, in order."""
    body = payment_body(card_number)
    payment_id = body["payment_request_id"]

    response = sim.post_payment(body)

    assert 202 == response.status_code
    accepted = response.json()
    assert {"payment_request_id", "bank_reference", "status"} == set(accepted)
    assert payment_id == accepted["payment_request_id"]
    assert "PROCESSING" == accepted["status"]
    count = len(expected_callbacks)
    assert wait_for(lambda: len(receiver.for_payment(payment_id)) >= count)
    callbacks = receiver.for_payment(payment_id)
    assert expected_callbacks == [c.payload["status"] for c in callbacks]
    for callback in callbacks:
        assert callback.signature_ok
        assert "application/json" == callback.content_type
        assert "/bank/payment-updates" == callback.path
        expected_keys = {
            "payment_request_id",
            "merchant_id",
            "status",
            "bank_reference",
            "occurred_at",
        }
        assert expected_keys == set(callback.payload)
        assert body["merchant_id"] == callback.payload["merchant_id"]
        assert accepted["bank_reference"] == callback.payload["bank_reference"]
        assert RFC3339_Z.fullmatch(callback.payload["occurred_at"])
    final_status = expected_callbacks[-1]
    status = sim.client.get(f"/payments/{payment_id}", headers=sim.auth()).json()
    assert final_status == status["status"]
    assert accepted["bank_reference"] == status["bank_reference"]
    assert wait_for(lambda: sim.record(payment_id)["callbacks_sent"] == count)
    record = sim.record(payment_id)
    assert 1 == record["charges"]
    assert 1 == record["posts"]
    assert final_status == record["status"]
    assert card_number[-4:] == record["card_last4"]


def test_unavailable_first_card_answers_503_once_then_pays(
    sim: Simulator, receiver: CallbackReceiver
) -> None:
    """Card 4000000000000119: the first POST gets 503 without a charge, the retry is PAID."""
    body = payment_body(UNAVAILABLE_FIRST_CARD)
    payment_id = body["payment_request_id"]

    first = sim.post_payment(body)

    assert 503 == first.status_code
    assert "service_unavailable" == first.json()["error"]["code"]
    assert 0 == sim.record(payment_id)["charges"]
    unknown = sim.client.get(f"/payments/{payment_id}", headers=sim.auth())
    assert 404 == unknown.status_code

    second = sim.post_payment(body)

    assert 202 == second.status_code
    assert wait_for(lambda: receiver.statuses(payment_id) == ["PAID"])
    record = sim.record(payment_id)
    assert (2, 1) == (record["posts"], record["charges"])


def test_processing_then_paid_card_reports_processing_until_decided(
    sim_dir: Path, receiver: CallbackReceiver
) -> None:
    """Card 4000000000000101: GET says PROCESSING after the first callback, PAID after the last."""
    slow = start_simulator(sim_dir, receiver.url, BANK_CALLBACK_DELAY_MS="300")
    try:
        body = payment_body(PROCESSING_THEN_PAID_CARD)
        payment_id = body["payment_request_id"]

        assert 202 == slow.post_payment(body).status_code

        assert wait_for(lambda: receiver.statuses(payment_id) == ["PROCESSING"])
        status = slow.client.get(f"/payments/{payment_id}", headers=slow.auth()).json()
        assert "PROCESSING" == status["status"]
        assert wait_for(lambda: receiver.statuses(payment_id) == ["PROCESSING", "PAID"])
        status = slow.client.get(f"/payments/{payment_id}", headers=slow.auth()).json()
        assert "PAID" == status["status"]
    finally:
        stop_simulator(slow)


# -- idempotency ---------------------------------------------------------------------------


def test_repeat_with_same_key_returns_same_answer_without_second_charge(
    sim: Simulator, receiver: CallbackReceiver
) -> None:
    """A repeated POST with the same Idempotency-Key and body answers the same; charges stay 1."""
    body = payment_body()
    payment_id = body["payment_request_id"]

    first = sim.post_payment(body)
    second = sim.post_payment(body)
    third = sim.post_payment(body)

    assert (202, 202, 202) == (first.status_code, second.status_code, third.status_code)
    assert first.json() == second.json() == third.json()
    record = sim.record(payment_id)
    assert (3, 1) == (record["posts"], record["charges"])
    assert wait_for(lambda: sim.record(payment_id)["callbacks_sent"] == 1)
    assert marker_delivered(sim, receiver)
    assert ["PAID"] == receiver.statuses(payment_id)


def test_concurrent_repeats_charge_once(sim: Simulator) -> None:
    """Ten simultaneous POSTs of one payment all get the same 202 and make one charge."""
    body = payment_body()
    payment_id = body["payment_request_id"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: sim.post_payment(body), range(10)))

    assert [202] * 10 == [r.status_code for r in responses]
    assert 1 == len({r.json()["bank_reference"] for r in responses})
    record = sim.record(payment_id)
    assert (10, 1) == (record["posts"], record["charges"])
    assert 0 == sim.stats()["double_charged"]


def test_same_key_with_different_body_is_422(sim: Simulator) -> None:
    """Reusing an Idempotency-Key with a different body is refused with 422, no new charge."""
    body = payment_body()
    payment_id = body["payment_request_id"]
    assert 202 == sim.post_payment(body).status_code

    response = sim.post_payment({**body, "amount": body["amount"] + 1})

    assert 422 == response.status_code
    assert "idempotency_key_reused" == response.json()["error"]["code"]
    assert 1 == sim.record(payment_id)["charges"]


# -- validation and auth -------------------------------------------------------------------


def test_invalid_request_is_400_listing_every_bad_field(sim: Simulator) -> None:
    """Every invalid field, an unknown one and a mismatched Idempotency-Key are all reported."""
    body = {
        "payment_request_id": "not-a-uuid",
        "merchant_id": 42,
        "card_number": "4242-4242",
        "expiry_month": 13,
        "expiry_year": 30,
        "cvv": "12",
        "amount": 0,
        "currency": "gbp",
        "extra": "x",
    }

    response = sim.post_payment(body, key=str(uuid.uuid4()))

    assert 400 == response.status_code
    error = response.json()["error"]
    assert "validation_error" == error["code"]
    expected_fields = {
        "payment_request_id",
        "merchant_id",
        "card_number",
        "expiry_month",
        "expiry_year",
        "cvv",
        "amount",
        "currency",
        "extra",
        "Idempotency-Key",
    }
    assert expected_fields == {d["field"] for d in error["details"]}
    assert all(d["message"] for d in error["details"])
    stats = sim.stats()
    assert (0, 0) == (stats["payments"], stats["charges"])


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("missing field", lambda b: b.pop("cvv")),
        ("amount too large", lambda b: b.update(amount=100_000_001)),
        ("amount not integer", lambda b: b.update(amount=10.5)),
        ("boolean month", lambda b: b.update(expiry_month=True)),
        ("card too long", lambda b: b.update(card_number="4" * 20)),
        ("numeric cvv", lambda b: b.update(cvv=123)),
    ],
)
def test_single_bad_field_is_400(
    sim: Simulator, case: str, mutate: Callable[[dict[str, Any]], Any]
) -> None:
    """A single bad field is a 400 naming that field and nothing else."""
    body = payment_body()
    mutate(body)

    response = sim.post_payment(body)

    assert 400 == response.status_code, case
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert 1 == len(fields), case


def test_missing_or_mismatched_idempotency_key_is_400(sim: Simulator) -> None:
    """Idempotency-Key is required and must equal payment_request_id."""
    body = payment_body()

    missing = sim.post_payment(body, key=None)
    mismatched = sim.post_payment(body, key=str(uuid.uuid4()))

    for response in (missing, mismatched):
        assert 400 == response.status_code
        details = response.json()["error"]["details"]
        assert ["Idempotency-Key"] == [d["field"] for d in details]
    assert 0 == sim.stats()["charges"]


def test_malformed_json_is_400(sim: Simulator) -> None:
    """A body that is not JSON gets 400 validation_error."""
    headers = {**sim.auth(), "Idempotency-Key": str(uuid.uuid4())}

    response = sim.client.post("/payments", content=b"{not json", headers=headers)

    assert 400 == response.status_code
    assert "validation_error" == response.json()["error"]["code"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-key", f"Basic {API_KEY}", f"Bearer{API_KEY}"],
)
def test_bank_api_without_valid_bearer_is_401(
    sim: Simulator,
    authorization: str | None,
) -> None:
    """POST and GET /payments need the bank API key as a bearer token."""
    body = payment_body()
    headers = {"Idempotency-Key": body["payment_request_id"]}
    if authorization:
        headers["Authorization"] = authorization

    posted = sim.client.post("/payments", json=body, headers=headers)
    fetched = sim.client.get(f"/payments/{body['payment_request_id']}", headers=headers)

    assert (401, 401) == (posted.status_code, fetched.status_code)
    assert "unauthorized" == posted.json()["error"]["code"]
    assert 0 == sim.stats()["charges"]


# -- GET /payments/{id} --------------------------------------------------------------------


def test_get_status_of_accepted_payment(sim: Simulator) -> None:
    """GET /payments/{id} answers the payment id, bank reference and current status."""
    body = payment_body("4000000000000002")
    payment_id = body["payment_request_id"]
    accepted = sim.post_payment(body).json()

    def fetch() -> httpx.Response:
        return sim.client.get(f"/payments/{payment_id}", headers=sim.auth())

    assert wait_for(lambda: fetch().json()["status"] == "DECLINED")
    response = fetch()
    expected = {
        "payment_request_id": payment_id,
        "bank_reference": accepted["bank_reference"],
        "status": "DECLINED",
    }
    assert 200 == response.status_code
    assert expected == response.json()


def test_get_status_of_unknown_payment_is_404(sim: Simulator) -> None:
    """A payment the bank never received is 404 not_found; a non-UUID id is 400."""
    unknown = sim.client.get(f"/payments/{uuid.uuid4()}", headers=sim.auth())
    invalid = sim.client.get("/payments/not-a-uuid", headers=sim.auth())

    assert 404 == unknown.status_code
    assert "not_found" == unknown.json()["error"]["code"]
    assert 400 == invalid.status_code


# -- fault injection -----------------------------------------------------------------------


def test_error_rate_one_answers_503_without_charge(
    sim: Simulator, receiver: CallbackReceiver
) -> None:
    """With error_rate=1 every POST is a 503, nothing is charged and no callback is sent."""
    sim.set_faults(error_rate=1)
    body = payment_body()
    payment_id = body["payment_request_id"]

    responses = [sim.post_payment(body) for _ in range(3)]

    assert [503, 503, 503] == [r.status_code for r in responses]
    record = sim.record(payment_id)
    assert (3, 0) == (record["posts"], record["charges"])
    sim.set_faults()
    assert marker_delivered(sim, receiver)
    assert [] == receiver.for_payment(payment_id)

    assert 202 == sim.post_payment(body).status_code
    assert 1 == sim.record(payment_id)["charges"]


def test_duplicate_callbacks_sends_each_callback_three_times(
    sim: Simulator, receiver: CallbackReceiver
) -> None:
    """duplicate_callbacks=3 delivers the same signed callback three times."""
    sim.set_faults(duplicate_callbacks=3)
    body = payment_body()
    payment_id = body["payment_request_id"]

    assert 202 == sim.post_payment(body).status_code

    assert wait_for(lambda: len(receiver.for_payment(payment_id)) >= 3)
    assert marker_delivered(sim, receiver, copies=3)
    callbacks = receiver.for_payment(payment_id)
    assert 3 == len(callbacks)
    assert 1 == len({json.dumps(c.payload, sort_keys=True) for c in callbacks})
    assert all(c.signature_ok for c in callbacks)
    assert wait_for(lambda: sim.record(payment_id)["callbacks_sent"] == 3)
    assert 1 == sim.record(payment_id)["charges"]


def test_drop_callback_rate_one_sends_no_callback_but_status_turns_final(
    sim: Simulator, receiver: CallbackReceiver
) -> None:
    """drop_callback_rate=1 sends no callback; GET still reports the final status."""
    sim.set_faults(drop_callback_rate=1)
    body = payment_body(PROCESSING_THEN_PAID_CARD)
    payment_id = body["payment_request_id"]

    assert 202 == sim.post_payment(body).status_code

    sim.set_faults()
    assert marker_delivered(sim, receiver, PROCESSING_THEN_PAID_CARD)
    assert [] == receiver.for_payment(payment_id)
    record = sim.record(payment_id)
    assert (0, True) == (record["callbacks_sent"], record["callbacks_dropped"])
    status = sim.client.get(f"/payments/{payment_id}", headers=sim.auth()).json()
    assert "PAID" == status["status"]


def test_timeout_then_retry_gets_202_without_second_charge(
    sim: Simulator, receiver: CallbackReceiver
) -> None:
    """timeout_rate=1: the client times out, but the payment is charged; the retry gets 202."""
    sim.set_faults(timeout_rate=1, timeout_ms=1500)
    body = payment_body()
    payment_id = body["payment_request_id"]

    with pytest.raises(httpx.ReadTimeout):
        sim.post_payment(body, timeout=0.3)
    assert 1 == sim.record(payment_id)["charges"]

    started = time.monotonic()
    retry = sim.post_payment(body, timeout=1.0)

    assert time.monotonic() - started < 1.0
    assert 202 == retry.status_code
    assert "PROCESSING" == retry.json()["status"]
    record = sim.record(payment_id)
    assert (2, 1) == (record["posts"], record["charges"])
    assert wait_for(lambda: receiver.statuses(payment_id) == ["PAID"])


def test_out_of_order_sends_final_status_before_processing(
    sim: Simulator, receiver: CallbackReceiver
) -> None:
    """out_of_order=true sends the final status first and a stale PROCESSING after it."""
    sim.set_faults(out_of_order=True)
    two_step = payment_body(PROCESSING_THEN_PAID_CARD)
    declined = payment_body("4000000000000002")

    assert 202 == sim.post_payment(two_step).status_code
    assert 202 == sim.post_payment(declined).status_code

    two_step_id = two_step["payment_request_id"]
    declined_id = declined["payment_request_id"]
    assert wait_for(lambda: receiver.statuses(two_step_id) == ["PAID", "PROCESSING"])
    late = ["DECLINED", "PROCESSING"]
    assert wait_for(lambda: receiver.statuses(declined_id) == late)
    status = sim.client.get(f"/payments/{two_step_id}", headers=sim.auth()).json()
    assert "PAID" == status["status"]


def test_latency_delays_bank_api_answers(sim: Simulator) -> None:
    """latency_ms is added to every POST and GET of the bank API."""
    sim.set_faults(latency_ms=200)

    started = time.monotonic()
    response = sim.client.get(f"/payments/{uuid.uuid4()}", headers=sim.auth())

    assert 404 == response.status_code
    assert time.monotonic() - started >= 0.2


def test_seeded_error_rate_is_reproducible(sim: Simulator) -> None:
    """The same seed gives the same sequence of injected 503s."""

    def run() -> list[int]:
        sim.set_faults(error_rate=0.5, seed=1234)
        return [sim.post_payment(payment_body()).status_code for _ in range(12)]

    first = run()
    second = run()

    assert first == second
    assert {202, 503} == set(first)


def test_faults_round_trip_and_invalid_body_is_400(sim: Simulator) -> None:
    """PUT /_sim/faults replaces the settings, GET shows them, a bad body is a 400."""
    sim.set_faults(error_rate=0.25, duplicate_callbacks=2, seed=7)

    current = sim.client.get("/_sim/faults").json()
    bad = {"error_rate": 2, "duplicate_callbacks": 0, "out_of_order": "yes", "bogus": 1}
    invalid = sim.client.put("/_sim/faults", json=bad)

    expected = {
        "error_rate": 0.25,
        "timeout_rate": 0.0,
        "timeout_ms": 5000,
        "latency_ms": 0,
        "drop_callback_rate": 0.0,
        "duplicate_callbacks": 2,
        "out_of_order": False,
        "seed": 7,
    }
    assert expected == current
    assert 400 == invalid.status_code
    error = invalid.json()["error"]
    assert "validation_error" == error["code"]
    expected_fields = {"error_rate", "duplicate_callbacks", "out_of_order", "bogus"}
    assert expected_fields == {d["field"] for d in error["details"]}
    assert current == sim.client.get("/_sim/faults").json()


# -- callback delivery, records, process ----------------------------------------------------


def test_failed_callback_is_retried_until_delivered(
    sim: Simulator, receiver: CallbackReceiver
) -> None:
    """A 5xx from the callback endpoint is retried with back-off until it is accepted."""
    with receiver.lock:
        receiver.fail_status, receiver.fail_next = 503, 2
    body = payment_body()
    payment_id = body["payment_request_id"]

    assert 202 == sim.post_payment(body).status_code

    assert wait_for(lambda: receiver.statuses(payment_id) == ["PAID"])
    assert 3 == receiver.attempts
    assert wait_for(lambda: sim.record(payment_id)["callbacks_sent"] == 1)
    assert 0 == sim.record(payment_id)["callbacks_failed"]


def test_callback_given_up_after_max_attempts(
    sim: Simulator,
    receiver: CallbackReceiver,
) -> None:
    """A callback endpoint that keeps failing is given up after the configured attempts."""
    with receiver.lock:
        receiver.fail_status, receiver.fail_next = 500, 1000
    body = payment_body()
    payment_id = body["payment_request_id"]

    assert 202 == sim.post_payment(body).status_code

    assert wait_for(lambda: sim.record(payment_id)["callbacks_failed"] == 1)
    assert 5 == receiver.attempts
    assert 0 == sim.record(payment_id)["callbacks_sent"]


def test_stats_and_reset(sim: Simulator) -> None:
    """/_sim/stats totals the records and /_sim/reset clears them."""
    paid = payment_body()
    sim.post_payment(paid)
    sim.post_payment(paid)
    sim.post_payment(payment_body("4000000000009995"))
    sim.post_payment({"bad": True}, key=None)

    stats = sim.stats()
    assert 4 == stats["posts"]
    assert 1 == stats["invalid_posts"]
    assert 2 == stats["payments"]
    assert 2 == stats["charges"]
    assert 0 == stats["double_charged"]

    assert 200 == sim.client.post("/_sim/reset").status_code
    reset = sim.stats()
    assert (0, 0, 0) == (reset["posts"], reset["payments"], reset["charges"])
    gone = sim.client.get(f"/_sim/payments/{paid['payment_request_id']}")
    assert 404 == gone.status_code


def test_health(sim: Simulator) -> None:
    """GET /health answers {"ok": true}."""
    response = sim.client.get("/health")

    assert 200 == response.status_code
    assert {"ok": True} == response.json()


def test_listens_on_loopback_only(sim: Simulator) -> None:
    """The listening socket is bound to 127.0.0.1, not to every interface."""
    proc_tcp = Path("/proc/net/tcp")  # Linux, like every machine this project runs on
    listening = set()
    for line in proc_tcp.read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port = local.split(":")
        if state == "0A" and int(port, 16) == sim.port:
            listening.add(address)

    assert {"0100007F"} == listening  # 127.0.0.1, little-endian hex


def test_non_loopback_host_is_refused(sim_dir: Path) -> None:
    """BANK_SIMULATOR_HOST=0.0.0.0 is refused at start-up with exit code 2."""
    env = {**os.environ, "BANK_SIMULATOR_HOST": "0.0.0.0", "BANK_SIMULATOR_PORT": "0"}

    cmd = [sys.executable, str(SIMULATOR)]
    result = subprocess.run(cmd, env=env, capture_output=True, check=False, timeout=10)

    assert 2 == result.returncode
    assert b"loopback" in result.stderr


def test_sigterm_stops_promptly_with_pending_work(
    sim_dir: Path, receiver: CallbackReceiver
) -> None:
    """SIGTERM exits 0 within a second although a response is held and callbacks are pending."""
    simulator = start_simulator(sim_dir, receiver.url, BANK_CALLBACK_DELAY_MS="60000")
    try:
        simulator.set_faults(timeout_rate=1, timeout_ms=60000)
        body = payment_body()
        payment_id = body["payment_request_id"]

        def post_and_wait() -> None:
            # The answer is held for 60 s; the shutdown cuts it short one way or another.
            with contextlib.suppress(httpx.HTTPError):
                simulator.post_payment(body, timeout=10)

        holder = threading.Thread(target=post_and_wait, daemon=True)
        holder.start()
        # The POST runs in another thread: the bank may not have received it yet.
        assert wait_for(lambda: simulator.charges(payment_id) == 1)

        started = time.monotonic()
        exit_code = stop_simulator(simulator)

        assert 0 == exit_code
        assert time.monotonic() - started < 2.0
        assert [] == receiver.for_payment(payment_id)
        holder.join(timeout=5)
        assert not holder.is_alive()
    finally:
        stop_simulator(simulator)


def test_logs_never_contain_full_card_numbers(module_sim: Simulator) -> None:
    """The simulator's log (DEBUG level) shows card last4 only, never a full card number."""
    sim = module_sim
    body = payment_body("4111111111111111")
    sim.post_payment(body)
    assert wait_for(lambda: "****1111" in sim.log_path.read_text())

    log_text = sim.log_path.read_text()

    cards = [
        PAID_CARD,
        UNAVAILABLE_FIRST_CARD,
        PROCESSING_THEN_PAID_CARD,
        "4111111111111111",
    ]
    assert [] == [card for card in cards if card in log_text]
