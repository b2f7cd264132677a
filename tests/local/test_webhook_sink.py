"""The local verifying webhook receiver (local/webhook_sink.py) over HTTP: it keeps and prints
a delivery whose Gateway-Signature verifies with a secret it was told, and answers 400 to
anything else."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from local.stack import free_port
from local.webhook_sink import WebhookSink, start_sink

pytestmark = pytest.mark.local

SECRET = "whsec_" + "s" * 43
EVENT = {
    "id": "7d2c0b9e-3f1a-4c5d-8e6f-9a0b1c2d3e4f",
    "type": "payment.succeeded",
    "data": {"object": {"id": "9f1c0c5e-3b7a-4e0f-8d2a-6c1b5e4f3a21", "status": "succeeded"}},
}
BODY = json.dumps(EVENT).encode()


@pytest.fixture
def sink() -> Iterator[tuple[httpx.Client, WebhookSink, io.StringIO]]:
    """A receiver on a free port; its client, its state and what it printed."""
    out = io.StringIO()
    server, state = start_sink(free_port(), WebhookSink(out=out))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_port}", timeout=5) as client:
            yield client, state, out
    finally:
        server.shutdown()
        server.server_close()


def signed(body: bytes, secret: str, t: int) -> dict[str, str]:
    """The delivery headers for `body`, signed with `secret` at `t` (computed here)."""
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Gateway-Signature": f"t={t},v1={digest}", "Gateway-Event-Id": EVENT["id"]}


def test_a_signed_delivery_is_verified_kept_and_printed_in_one_line(
    sink: tuple[httpx.Client, WebhookSink, io.StringIO],
) -> None:
    """With the secret registered: 204, the event listed, one line printed."""
    client, _, out = sink
    registered = client.post("/_sink/secrets", json={"secret": SECRET}).status_code
    delivered = client.post("/hooks", content=BODY, headers=signed(BODY, SECRET, int(time.time())))
    listed = client.get("/_sink/events").json()

    assert (204, 204) == (registered, delivered.status_code)
    assert [{"event_id": EVENT["id"], "event": EVENT}] == listed["data"]
    assert [
        f"webhook verified: payment.succeeded event={EVENT['id']} "
        f"object={EVENT['data']['object']['id']} status=succeeded"
    ] == out.getvalue().splitlines()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="unsigned"),
        pytest.param(signed(b"{}", SECRET, int(time.time())), id="signs-another-body"),
        pytest.param(signed(BODY, "whsec_" + "x" * 43, int(time.time())), id="unknown-secret"),
        pytest.param(signed(BODY, SECRET, int(time.time()) - 600), id="ten-minutes-old"),
    ],
)
def test_a_bad_signature_is_400_and_nothing_is_kept(
    sink: tuple[httpx.Client, WebhookSink, io.StringIO], headers: dict[str, str]
) -> None:
    """Unsigned, another body, an unknown secret, too old: 400, no event, nothing printed."""
    client, state, out = sink
    client.post("/_sink/secrets", json={"secret": SECRET})

    answer = client.post("/hooks", content=BODY, headers=headers)

    assert (400, [], "", 1) == (answer.status_code, state.events, out.getvalue(), state.refused)


def test_a_secret_must_be_a_whsec_string(
    sink: tuple[httpx.Client, WebhookSink, io.StringIO],
) -> None:
    """The control route refuses what is not a `whsec_` secret and learns nothing."""
    client, state, _ = sink

    answers = [client.post("/_sink/secrets", json=body).status_code for body in ({}, {"secret": 1})]

    assert ([400, 400], []) == (answers, state.secrets)
