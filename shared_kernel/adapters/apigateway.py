"""API Gateway (REST, Lambda proxy integration) events in, responses out.

The request-hygiene rules every HTTP function applies before it parses anything:
media type, body size and JSON syntax, each a typed `HttpError` with SPEC's error body.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from shared_kernel.domain.errors import FieldError

MAX_BODY_BYTES = 16 * 1024
JSON_HEADERS = {"Content-Type": "application/json"}

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class HttpError(Exception):
    """An error answer: HTTP status, SPEC error code, message and failing fields."""

    status: int
    code: str
    message: str
    details: Sequence[FieldError] = field(default_factory=tuple)


# How an API answers one type of error.
ErrorAnswer = Callable[[Any], HttpError]


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header's value, looked up case-insensitively."""
    headers = event.get("headers") or {}
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value) if value is not None else None
    return None


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The request body exactly as received."""
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


def checked_body(event: Mapping[str, Any]) -> bytes:
    """The raw body, once the media type is JSON and the size within bounds.

    Raises HttpError 415 (not application/json) or 413 (over 16 KiB).
    """
    content_type = (header(event, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HttpError(415, "unsupported_media_type", "Content-Type must be application/json")
    body = raw_body(event)
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, "payload_too_large", f"body is over {MAX_BODY_BYTES} bytes")
    return body


def parse_json(body: bytes) -> object:
    """The JSON value of a body; raises HttpError 400 if it is not JSON."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        raise HttpError(
            400,
            "validation_error",
            "body is not valid JSON",
            [FieldError("body", "must be a JSON object")],
        ) from None


def read_json_object(event: Mapping[str, Any]) -> tuple[bytes, object]:
    """The raw body and its parsed JSON, after the media-type and size checks.

    Raises HttpError 415 (not application/json), 413 (over 16 KiB) or 400 (not JSON).
    """
    body = checked_body(event)
    return body, parse_json(body)


def _reject_constant(name: str) -> object:
    # json.loads accepts NaN and Infinity, which are not JSON.
    raise ValueError(f"{name} is not JSON")


def error_body(error: HttpError) -> dict[str, Any]:
    """SPEC's error body for `error`."""
    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "details": [{"field": d.field, "message": d.message} for d in error.details],
        }
    }


def respond(status: int, body: object, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Lambda proxy response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
    }


def respond_error(error: HttpError) -> dict[str, Any]:
    """A Lambda proxy response for an HttpError."""
    return respond(error.status, error_body(error))


def internal_error() -> dict[str, Any]:
    """The 500 answer: says nothing about what went wrong (the logs do)."""
    return respond_error(HttpError(500, "internal_error", "internal error"))


def http_errors(answers: Mapping[type[Exception], ErrorAnswer]) -> Callable[[Handler], Handler]:
    """A decorator giving every error a handler can meet its HTTP answer (one per API):
    an HttpError as it is, an error of a type in `answers` (first match, in order) through
    its function, anything else a logged 500."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        def wrapper(event: dict[str, Any], context: Any) -> dict[str, Any]:
            try:
                return handler(event, context)
            except HttpError as error:
                return respond_error(error)
            except Exception as error:
                for kind, answer in answers.items():
                    if isinstance(error, kind):
                        return respond_error(answer(error))
                logger.exception("unhandled error")
                return internal_error()

        return wrapper

    return decorate
