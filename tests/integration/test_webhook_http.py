"""HttpWebhookPoster against a real receiver on 127.0.0.1: statuses, the whole-request
timeout (a slow and a trickling receiver), no redirect followed, no proxy used, and the
connection made to the checked address rather than to what the host name resolves to."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared_kernel.adapters.webhook_http import TIMEOUT_S, HttpWebhookPoster
from shared_kernel.application.webhook_ports import PostResult

from .conftest import free_port
from .webhook_receiver import Behaviour, WebhookReceiver

pytestmark = pytest.mark.integration

BODY = b'{"id": "e1",  "type":"payment.succeeded"}'
HEADERS = {
    "Content-Type": "application/json",
    "Gateway-Event-Id": "e1",
    "Gateway-Signature": "t=1,v1=ab",
}
LOOPBACK = ["127.0.0.1"]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A receiver of this test's own, stopped after it."""
    server = WebhookReceiver()
    yield server
    server.stop()


def test_a_2xx_answer_is_delivered_with_the_body_and_headers_as_sent(
    receiver: WebhookReceiver,
) -> None:
    """The receiver gets the exact bytes and headers; the result is its 204."""
    receiver.behaviour = Behaviour(status=204)

    result = HttpWebhookPoster().post(receiver.url(), LOOPBACK, HEADERS, BODY)

    (request,) = receiver.received
    assert ((204, None, True), BODY, "t=1,v1=ab", "/hooks") == (
        (result.status_code, result.error, result.delivered),
        request.body,
        request.headers["Gateway-Signature"],
        request.path,
    )


def test_a_failing_receiver_is_not_delivered(receiver: WebhookReceiver) -> None:
    """A 500 is an answer, not a delivery."""
    receiver.behaviour = Behaviour(status=500)

    result = HttpWebhookPoster().post(receiver.url(), LOOPBACK, HEADERS, BODY)

    assert (500, None, False) == (result.status_code, result.error, result.delivered)


def test_a_slow_answer_within_the_timeout_is_delivered(receiver: WebhookReceiver) -> None:
    """A 200 after 0.5 s with a 2 s bound: delivered, its duration measured."""
    receiver.behaviour = Behaviour(delay_s=0.5)

    result = HttpWebhookPoster(timeout_s=2).post(receiver.url(), LOOPBACK, HEADERS, BODY)

    assert (200, True) == (result.status_code, 500 <= result.duration_ms < 2000)


def test_a_receiver_that_never_answers_times_out_at_the_bound(receiver: WebhookReceiver) -> None:
    """No answer: timeout after the 1 s bound (not later), no status."""
    receiver.behaviour = Behaviour(hang=True)

    result = HttpWebhookPoster(timeout_s=1).post(receiver.url(), LOOPBACK, HEADERS, BODY)

    assert ((None, "timeout"), True, 1) == (
        (result.status_code, result.error),
        1000 <= result.duration_ms < 1500,
        len(receiver.received),
    )


def test_the_10_s_bound_holds_against_a_receiver_trickling_its_answer(
    receiver: WebhookReceiver,
) -> None:
    """A status line sent one byte every 0.7 s (each read well within a per-read timeout;
    16 bytes: the 200 would be complete after 11.2 s) is cut at 10 s in all: timeout, no
    status."""
    receiver.behaviour = Behaviour(trickle_s=0.7)
    started = time.monotonic()

    result = HttpWebhookPoster().post(receiver.url(), LOOPBACK, HEADERS, BODY)

    elapsed = time.monotonic() - started
    assert (10.0, (None, "timeout"), True) == (
        TIMEOUT_S,
        (result.status_code, result.error),
        TIMEOUT_S <= elapsed < TIMEOUT_S + 1,
    )


def test_a_redirect_is_not_followed(receiver: WebhookReceiver) -> None:
    """A 302 to another path is the answer: one request received, not delivered."""
    receiver.behaviour = Behaviour(status=302, location=receiver.url("/elsewhere"))

    result = HttpWebhookPoster().post(receiver.url(), LOOPBACK, HEADERS, BODY)

    assert (302, False, ["/hooks"]) == (
        result.status_code,
        result.delivered,
        [r.path for r in receiver.received],
    )


def test_the_connection_goes_to_the_checked_address_not_to_the_host_names(
    receiver: WebhookReceiver,
) -> None:
    """A host name that resolves nowhere (.invalid) is reached at the checked address, and
    the request names the URL's host in its Host header."""
    url = receiver.url(host="merchant.invalid")

    result = HttpWebhookPoster().post(url, LOOPBACK, HEADERS, BODY)

    (request,) = receiver.received
    assert (200, f"merchant.invalid:{receiver.port}") == (
        result.status_code,
        request.headers["Host"],
    )


def test_proxy_variables_are_ignored(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP(S)_PROXY pointing at a closed port changes nothing: the receiver is reached."""
    closed = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, closed)
    monkeypatch.delenv("NO_PROXY", raising=False)

    result = HttpWebhookPoster().post(receiver.url(), LOOPBACK, HEADERS, BODY)

    assert (200, 1) == (result.status_code, len(receiver.received))


def test_nothing_listening_is_a_connection_failure() -> None:
    """A closed port: connection_failed, no status."""
    result = HttpWebhookPoster().post(
        f"http://127.0.0.1:{free_port()}/hooks", LOOPBACK, HEADERS, BODY
    )

    assert (None, "connection_failed") == (result.status_code, result.error)


def test_no_checked_address_means_no_request() -> None:
    """An empty address list (nothing checked) sends nothing."""
    result = HttpWebhookPoster().post("http://merchant.invalid/hooks", [], HEADERS, BODY)

    assert PostResult(None, "connection_failed", result.duration_ms) == result


@pytest.fixture
def silent_tls_port() -> Iterator[int]:
    """A port that accepts TCP connections and then says nothing (a TLS handshake never
    completes); closed after the test."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


def test_a_tls_handshake_that_never_completes_times_out_at_the_bound(silent_tls_port: int) -> None:
    """https to a server that never answers the ClientHello: timeout after the 1 s bound."""
    url = f"https://merchant.example:{silent_tls_port}/hooks"

    result = HttpWebhookPoster(timeout_s=1).post(url, LOOPBACK, HEADERS, BODY)

    assert ((None, "timeout"), True) == (
        (result.status_code, result.error),
        1000 <= result.duration_ms < 1500,
    )


def test_a_certificate_that_is_not_trusted_is_refused(tmp_path: Path) -> None:
    """https to a server with a self-signed certificate for merchant.example: refused with
    the system's roots (no request); trusted, it is delivered under the URL's host name,
    though the connection goes to 127.0.0.1 — and refused under another host name."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=merchant.example",
            "-addext",
            "subjectAltName=DNS:merchant.example",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    receiver = WebhookReceiver()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    trusting = ssl.create_default_context(cafile=str(cert))
    url = f"https://merchant.example:{receiver.port}/hooks"
    try:
        untrusted = HttpWebhookPoster().post(url, LOOPBACK, HEADERS, BODY)
        paths_before_trust = [r.path for r in receiver.received]
        trusted = HttpWebhookPoster(tls=trusting).post(url, LOOPBACK, HEADERS, BODY)
        other_name = HttpWebhookPoster(tls=trusting).post(
            f"https://other.example:{receiver.port}/hooks", LOOPBACK, HEADERS, BODY
        )
    finally:
        receiver.stop()

    assert (
        (None, "connection_failed"),
        [],
        (200, None),
        (None, "connection_failed"),
        ["/hooks"],
    ) == (
        (untrusted.status_code, untrusted.error),
        paths_before_trust,
        (trusted.status_code, trusted.error),
        (other_name.status_code, other_name.error),
        [r.path for r in receiver.received],
    )
