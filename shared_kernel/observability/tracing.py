"""X-Ray tracing (aws-xray-sdk), started only by the first sampled invocation.

Importing the SDK and patching botocore costs ≈120 ms, more than a whole cold start's margin,
and most invocations are not sampled (1% of API requests, 5% of queue batches). So `traced`
reads the invocation's trace header (`_X_AMZN_TRACE_ID`, set by Lambda per invocation) and
imports nothing until one says `Sampled=1`; from then on botocore is patched, so every
DynamoDB, SQS, KMS and Secrets Manager call of a sampled invocation is a subsegment, and
`bank_call` wraps each bank request in one. In Lambda the SDK attaches subsegments to the
invocation's segment itself; elsewhere (serverless-offline, a test) `traced` opens and closes
a segment from the header. Subsegments go by UDP to AWS_XRAY_DAEMON_ADDRESS (127.0.0.1:2000).

Annotations (indexed, searchable) are the payment id and merchant id, read from the request
each call carries (the payments table's key and item, the queue message, the bank request):
never a card field, never any other attribute.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar
from uuid import UUID

TRACE_HEADER = "_X_AMZN_TRACE_ID"
ID_ANNOTATIONS = ("payment_id", "merchant_id")

Handler = TypeVar("Handler", bound=Callable[..., Any])

_recorder: Any = None  # aws_xray_sdk's recorder, once a sampled invocation has started it


def is_sampled(header: str | None) -> bool:
    """Whether an X-Ray trace header (`Root=...;Parent=...;Sampled=1`) asks for a trace."""
    parts = dict(part.strip().partition("=")[::2] for part in (header or "").split(";"))
    return parts.get("Sampled") == "1"


def started() -> bool:
    """Whether a sampled invocation has loaded the SDK in this process."""
    return _recorder is not None


def _start(service: str) -> Any:
    global _recorder
    if _recorder is None:
        from aws_xray_sdk.core import patch, xray_recorder

        # Outside Lambda a thread without a segment (the forwarder's workers) is not an error.
        xray_recorder.configure(service=service, context_missing="IGNORE_ERROR")
        patch(["botocore"])
        _recorder = xray_recorder
    return _recorder


def traced(service: str) -> Callable[[Handler], Handler]:
    """Decorate a Lambda handler: trace the invocations whose trace header is sampled, in a
    `## <handler>` subsegment; load nothing for the others."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def invoke(event: Any, context: Any) -> Any:
            header = os.environ.get(TRACE_HEADER)
            if _recorder is None and not is_sampled(header):
                return handler(event, context)
            recorder = _start(service)
            with _segment_outside_lambda(recorder, service, header):
                with recorder.in_subsegment(f"## {handler.__name__}"):
                    return handler(event, context)

        return invoke  # type: ignore[return-value]

    return decorate


@contextmanager
def _segment_outside_lambda(recorder: Any, service: str, header: str | None) -> Iterator[None]:
    """In Lambda, Lambda owns the segment; elsewhere open one that continues the header's
    trace (or is dropped when it is not sampled)."""
    if os.environ.get("LAMBDA_TASK_ROOT"):
        yield
        return
    from aws_xray_sdk.core.models.trace_header import TraceHeader

    parsed = TraceHeader.from_header_str(header)
    recorder.begin_segment(
        name=service,
        traceid=parsed.root,
        parent_id=parsed.parent,
        sampling=1 if is_sampled(header) else 0,
    )
    try:
        yield
    finally:
        recorder.end_segment()


def annotate(**ids: UUID | str | None) -> None:
    """Put the given ids (payment_id, merchant_id) on the current subsegment, if tracing."""
    if _recorder is None:
        return
    subsegment = _recorder.current_subsegment()
    if subsegment is None:
        return
    for key, value in ids.items():
        if key in ID_ANNOTATIONS and value is not None:
            subsegment.put_annotation(key, str(value))


def bank_call(operation: str, **ids: UUID | None) -> Any:
    """A context manager: the `bank <operation>` subsegment of one bank request, annotated
    with the request's ids (nothing at all when tracing has not started)."""
    if _recorder is None:
        return nullcontext()
    return _bank_subsegment(operation, ids)


@contextmanager
def _bank_subsegment(operation: str, ids: Mapping[str, UUID | None]) -> Iterator[None]:
    with _recorder.in_subsegment(f"bank {operation}", namespace="remote"):
        annotate(**ids)
        yield


def instrument(client: Any) -> None:
    """Annotate a botocore client's AWS subsegments with the ids in its requests."""
    client.meta.events.register("before-parameter-build", _annotate_aws_call)


def _annotate_aws_call(params: Mapping[str, Any], **_: Any) -> None:
    # Runs inside the patched `_make_api_call`, so the current subsegment is this call's.
    if _recorder is None:
        return
    annotate(**ids_in_request(params))


def ids_in_request(params: Mapping[str, Any]) -> dict[str, str]:
    """The payment and merchant ids an AWS request names: the DynamoDB key or item
    (`payment_id`, `merchant_id` string attributes) or the payment queue's message body."""
    found: dict[str, str] = {}
    for container in (params.get("Key"), params.get("Item")):
        if isinstance(container, Mapping):
            for name in ID_ANNOTATIONS:
                value = container.get(name)
                if isinstance(value, Mapping) and isinstance(value.get("S"), str):
                    found[name] = value["S"]
    body = params.get("MessageBody")
    if isinstance(body, str):
        try:
            message = json.loads(body)
        except ValueError:
            message = None
        if isinstance(message, dict):
            found.update(
                {
                    name: message[name]
                    for name in ID_ANNOTATIONS
                    if isinstance(message.get(name), str)
                }
            )
    return found
