"""The logs: structured JSON lines, and one correlation id from the merchant's request
through the queue and the forwarder to the bank callback's lines about the same payment."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from local.offline_log import read_service_log
from local.stack import LocalStack
from tests.security.support import auth, payment_body, wait_status

pytestmark = pytest.mark.security


def json_lines(stack: LocalStack, name: str) -> list[dict[str, Any]]:
    """The Lambdas' structured records of a service's log (local/offline_log.py)."""
    return read_service_log(stack.log_dir / f"{name}.log").records


def test_one_correlation_id_follows_a_payment_from_the_api_to_the_callback(
    stack: LocalStack, api: httpx.Client, merchant: Any
) -> None:
    """X-Correlation-Id of the POST appears on the API's, the forwarder's and the callback's
    structured log lines about that payment."""
    correlation = f"sec-{uuid.uuid4()}"
    response = api.post(
        f"/merchant/{merchant.id}/payments",
        json=payment_body("4000000000000101"),  # PROCESSING, then PAID: two callbacks
        headers={**auth(merchant.api_key), "X-Correlation-Id": correlation},
    )
    assert 201 == response.status_code, response.text
    payment_id = response.json()["id"]
    assert "succeeded" == wait_status(api, merchant.id, merchant.api_key, payment_id)["status"]

    def tagged_lines() -> dict[str, list[dict[str, Any]]]:
        return {
            name: [
                line
                for line in json_lines(stack, name)
                if line.get("correlation_id") == correlation
            ]
            for name in ("merchant-api", "bank-forwarder", "bank-callback")
        }

    # The callback's last line reaches its log file a moment after the answer (the offline
    # runner's pipe): wait for it, for at most 10 s.
    deadline = time.monotonic() + 10
    tagged = tagged_lines()
    while time.monotonic() < deadline and "succeeded" not in {
        line.get("status") for line in tagged["bank-callback"]
    }:
        time.sleep(0.2)
        tagged = tagged_lines()

    assert {name: True for name in tagged} == {name: bool(lines) for name, lines in tagged.items()}
    for lines in tagged.values():
        assert all(line.get("payment_id") in (None, payment_id) for line in lines)
    callback_statuses = {line.get("status") for line in tagged["bank-callback"]}
    assert {"processing", "succeeded"} <= callback_statuses


def test_every_lambda_log_line_is_structured_json(stack: LocalStack) -> None:
    """Every line of each service's log is serverless-offline's own or a Lambda's JSON record
    with a level, a message, a timestamp and its service name (nothing unstructured)."""
    for name in ("merchant-api", "bank-forwarder", "bank-callback", "events"):
        split = read_service_log(stack.log_dir / f"{name}.log")

        assert split.records, name
        assert split.metrics, name  # every handler flushes its EMF metrics
        assert (name, []) == (name, split.unstructured)
        assert {name} == {record["service"] for record in split.records}
