"""The request-hygiene rules of shared_kernel.adapters.apigateway on raw Lambda events,
including the cases the local stack cannot show (serverless-offline adds a media type)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared_kernel.adapters.apigateway import (
    MAX_BODY_BYTES,
    HttpError,
    http_errors,
    read_json_object,
)

pytestmark = pytest.mark.unit

JSON = {"Content-Type": "application/json"}


def event(body: bytes, headers: dict[str, str], encoded: bool = False) -> dict[str, Any]:
    """An API Gateway proxy event carrying `body`."""
    return {
        "headers": headers,
        "body": base64.b64encode(body).decode() if encoded else body.decode("latin-1"),
        "isBase64Encoded": encoded,
    }


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        pytest.param(b"{}", {}, 415, id="no-media-type"),
        pytest.param(b"{}", {"Content-Type": ""}, 415, id="empty-media-type"),
        pytest.param(b"{}", {"content-type": "text/plain"}, 415, id="text-plain"),
        pytest.param(b"{" + b" " * MAX_BODY_BYTES + b"}", JSON, 413, id="too-large"),
        pytest.param(b"\xff", JSON, 400, id="not-json"),
    ],
)
def test_bad_requests_get_their_http_error(
    body: bytes, headers: dict[str, str], status: int
) -> None:
    """Missing or wrong media type 415, over 16 KiB 413, not JSON 400."""
    with pytest.raises(HttpError) as raised:
        read_json_object(event(body, headers, encoded=True))

    assert status == raised.value.status


def test_a_json_body_with_a_charset_parameter_is_accepted() -> None:
    """`application/json; charset=utf-8` is application/json."""
    raw, parsed = read_json_object(
        event(b'{"a": 1}', {"Content-Type": "application/json; charset=utf-8"})
    )

    assert (b'{"a": 1}', {"a": 1}) == (raw, parsed)


def test_exactly_16_kib_is_accepted() -> None:
    """The limit is inclusive: a body of exactly 16384 bytes is read."""
    body = b'{"a":"' + b"x" * (MAX_BODY_BYTES - 8) + b'"}'

    assert MAX_BODY_BYTES == len(read_json_object(event(body, JSON))[0])


class _Unlisted(Exception):
    """An error no API maps."""


def test_http_errors_answers_listed_errors_by_first_match_and_anything_else_with_500() -> None:
    """HttpError as raised, a listed error through its answer (first match in order), any
    other a 500 whose body says nothing about the cause."""
    raised: list[Exception] = []
    answers = {
        LookupError: lambda _: HttpError(404, "not_found", "no such thing"),
        KeyError: lambda _: HttpError(400, "never", "KeyError is a LookupError, listed first"),
    }

    @http_errors(answers)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise raised[-1]

    statuses = []
    for error in (HttpError(413, "payload_too_large", "big"), KeyError("x"), _Unlisted("secret")):
        raised.append(error)
        answer = handler({}, None)
        statuses.append((answer["statusCode"], json.loads(answer["body"])["error"]["code"]))

    assert [(413, "payload_too_large"), (404, "not_found"), (500, "internal_error")] == statuses
    assert "secret" not in handler({}, None)["body"]
