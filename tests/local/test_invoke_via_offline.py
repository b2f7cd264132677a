"""invoke_via_offline against a scripted copy of serverless-offline 13's Lambda invocation API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.event_sources import FunctionError, invoke_via_offline

pytestmark = pytest.mark.local

PATH = "/2015-03-31/functions/bank-forwarder-local-forward/invocations"
EVENT = {"Records": [{"messageId": "m1", "body": "{}"}]}


def test_success_returns_the_functions_answer(upstream: Any) -> None:
    """A 200 answer is the function's result, sent as a RequestResponse invocation."""
    upstream.script(PATH, 200, b'{"batchItemFailures":[{"itemIdentifier":"m1"}]}')
    invoke = invoke_via_offline(upstream.port, "bank-forwarder-local-forward", 5)

    answer = invoke(EVENT)

    assert {"batchItemFailures": [{"itemIdentifier": "m1"}]} == answer
    received = upstream.last
    assert ("POST", PATH) == (received.method, received.target)
    assert EVENT == json.loads(received.body)
    assert "RequestResponse" == received.header("X-Amz-Invocation-Type")


def test_empty_answer_is_none(upstream: Any) -> None:
    """A function that returned nothing gives None (Lambda: a full success for SQS)."""
    upstream.script(PATH, 200, b"")

    assert None is invoke_via_offline(upstream.port, "bank-forwarder-local-forward", 5)(EVENT)


def test_unhandled_function_error_raises(upstream: Any) -> None:
    """`X-Amz-Function-Error: Unhandled` (handler crash or timeout) raises FunctionError."""
    upstream.script(
        PATH,
        200,
        b'{"errorMessage":"[504] - Lambda timeout.","errorType":"Error","trace":[]}',
        [("Content-Type", "application/json"), ("X-Amz-Function-Error", "Unhandled")],
    )
    invoke = invoke_via_offline(upstream.port, "bank-forwarder-local-forward", 5)

    with pytest.raises(FunctionError, match="Lambda timeout"):
        invoke(EVENT)


def test_unknown_function_raises(upstream: Any) -> None:
    """serverless-offline's 404 ResourceNotFoundException raises FunctionError."""
    upstream.script(
        "/2015-03-31/functions/nope/invocations",
        404,
        b'{"Message":"Function not found: nope","Type":"User"}',
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "ResourceNotFoundException")],
    )

    with pytest.raises(FunctionError, match="ResourceNotFoundException"):
        invoke_via_offline(upstream.port, "nope", 5)(EVENT)


def test_unreachable_lambda_port_raises(upstream: Any) -> None:
    """A connection error propagates, so the event source deletes nothing."""
    port = upstream.port
    upstream.close()

    with pytest.raises(OSError):
        invoke_via_offline(port, "bank-forwarder-local-forward", 2)(EVENT)
