"""The merchant API's wire format: each request parsed (path ids, the authorised merchant,
body or query string, Idempotency-Key, correlation id) into one typed request in one call,
each result mapped to its answer (the payment resource, a page of them), and the mapping of
errors to HTTP answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared_kernel.adapters import apigateway
from shared_kernel.adapters.apigateway import (
    HttpError,
    error_body,
    header,
    read_json_object,
    respond,
)
from shared_kernel.application.errors import (
    EventNotFound,
    IdempotencyInProgress,
    IdempotencyKeyReused,
)
from shared_kernel.domain.errors import (
    ActionInProgress,
    ActionNotFound,
    AmountTooLarge,
    AuthorizationExpired,
    EndpointLimitReached,
    EndpointNotFound,
    FieldError,
    PaymentNotFound,
    PaymentUnexpectedState,
    RefundLimitReached,
    ValidationError,
)
from shared_kernel.domain.ids import parse_uuid
from shared_kernel.domain.payment import (
    REFERENCE_MAX_LENGTH,
    PaymentRequest,
    PaymentStatus,
    draft_errors,
)

if TYPE_CHECKING:
    from shared_kernel.application.list_payments import PaymentListing
    from shared_kernel.application.ports import PaymentPage
    from shared_kernel.application.submit_once_per_key import Submission, Submitted
    from shared_kernel.domain.action import PaymentAction

_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# SPEC §3: 1 to 255 printable ASCII characters (0x20-0x7E).
_IDEMPOTENCY_KEY = re.compile(r"[ -~]{1,255}")
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# RFC 3339 date-time (`2026-11-26T10:00:00Z`, `...10:00:00.5+01:00`); datetime checks ranges.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")
_LIMIT = re.compile(r"[0-9]{1,3}")


def timestamp(moment: datetime) -> str:
    """RFC 3339, UTC, whole seconds: `2026-11-26T10:00:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def payment_resource(payment: PaymentRequest) -> dict[str, Any]:
    """The payment as merchants see it: never more of the card than last4 and brand."""
    return {
        "id": str(payment.id),
        "merchant_id": str(payment.merchant_id),
        "status": payment.status.value,
        "decline_reason": payment.decline_reason.value if payment.decline_reason else None,
        "amount": payment.money.amount,
        "currency": payment.money.currency,
        "capture_method": payment.capture_method.value,
        "amount_captured": payment.amount_captured,
        "amount_refunded": payment.amount_refunded,
        "amount_refundable": payment.amount_refundable,
        "capture_before": None
        if payment.capture_before is None
        else timestamp(payment.capture_before),
        "cancellation_reason": (
            None if payment.cancellation_reason is None else payment.cancellation_reason.value
        ),
        "card": {
            "last4": payment.card.last4,
            "brand": payment.card.brand,
            "expiry_month": payment.card.expiry.month,
            "expiry_year": payment.card.expiry.year,
        },
        "reference": payment.reference,
        "created_at": timestamp(payment.created_at),
        "updated_at": timestamp(payment.updated_at),
    }


def action_resource(action: PaymentAction) -> dict[str, Any]:
    """A capture, void or refund as merchants see it (contracts/action-resource)."""
    return {
        "id": str(action.id),
        "payment_id": str(action.payment_id),
        "merchant_id": str(action.merchant_id),
        "type": action.type.value,
        "status": action.status.value,
        "amount": action.money.amount,
        "currency": action.money.currency,
        "reason": action.reason.value if action.reason else None,
        "failure_reason": action.failure_reason.value if action.failure_reason else None,
        "created_at": timestamp(action.created_at),
        "updated_at": timestamp(action.updated_at),
    }


def payment_location(payment: PaymentRequest) -> str:
    """The resource's path, for the Location header."""
    return f"/merchant/{payment.merchant_id}/payment/{payment.id}"


def path_ids(event: Mapping[str, Any], *names: str) -> list[UUID]:
    """The named path parameters as UUIDs; HttpError 400 naming every one that is not."""
    params = event.get("pathParameters") or {}
    parsed: list[UUID] = []
    bad: list[FieldError] = []
    for name in names:
        value = parse_uuid(params.get(name))
        if value is None:
            bad.append(FieldError(name, "must be a UUID"))
        else:
            parsed.append(value)
    if bad:
        raise HttpError(400, "validation_error", "invalid path parameter", bad)
    return parsed


def authorise(event: Mapping[str, Any], path_merchant: UUID) -> UUID:
    """The merchant the authorizer resolved, if it is the path's merchant.

    HttpError 401 when no merchant was resolved, 403 when the key is another merchant's.
    """
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    caller = parse_uuid(context.get("merchant_id"))
    if caller is None:
        raise HttpError(401, "unauthorized", "missing or unknown API key")
    if caller != path_merchant:
        raise HttpError(403, "forbidden", "this API key cannot act for this merchant")
    return caller


def correlation_id(event: Mapping[str, Any]) -> str:
    """The caller's X-Correlation-Id if well formed, else API Gateway's request id."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    given = headers.get("x-correlation-id")
    if isinstance(given, str) and _CORRELATION_ID.fullmatch(given):
        return given
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else "unknown"


def submission_errors(body: object, today: date) -> list[FieldError]:
    """Every failing field of a submit body: the contract's rules, then the domain's."""
    # Imported here: only submissions validate a body (the status read never does).
    from shared_kernel import contracts

    found = {e.field: e for e in contracts.validate("submit-payment-request", body)}
    if isinstance(body, Mapping):
        for error in draft_errors(body, today):
            found.setdefault(error.field, error)
    return [found[name] for name in sorted(found)]


def idempotency_key(event: Mapping[str, Any]) -> tuple[str | None, list[FieldError]]:
    """The request's Idempotency-Key (None when absent), or the FieldError naming it."""
    key = header(event, IDEMPOTENCY_KEY_HEADER)
    if key is None:
        return None, []
    if _IDEMPOTENCY_KEY.fullmatch(key):
        return key, []
    message = "must be 1 to 255 printable ASCII characters"
    return None, [FieldError(IDEMPOTENCY_KEY_HEADER, message)]


def created_resource(payment: PaymentRequest) -> dict[str, Any]:
    """The payment resource as it was when the payment was accepted (pending, no decline
    reason, nothing captured, refunded or canceled, unchanged since `created_at`), whatever
    has happened to it since."""
    return {
        **payment_resource(payment),
        "status": PaymentStatus.PENDING.value,
        "decline_reason": None,
        "amount_captured": 0,
        "amount_refunded": 0,
        "amount_refundable": 0,
        "capture_before": None,
        "cancellation_reason": None,
        "updated_at": timestamp(payment.created_at),
    }


def submission(event: Mapping[str, Any], today: date) -> Submission:
    """The submission a POST /merchant/{merchant_id}/payments request makes, checked in
    order: the path (400), the caller (401, 403), the media type, size and JSON syntax (415,
    413, 400), then every field and the Idempotency-Key together (ValidationError, 400)."""
    # Imported here: the status read never imports the submission use cases.
    from shared_kernel.application.submit_once_per_key import Submission

    (merchant_id,) = path_ids(event, "merchant_id")
    authorise(event, merchant_id)
    _, body = read_json_object(event)
    key, key_errors = idempotency_key(event)
    errors = submission_errors(body, today) + key_errors
    if errors:
        raise ValidationError(errors)
    assert isinstance(body, dict)
    return Submission(merchant_id, body, correlation_id(event), key)


def submitted_response(submitted: Submitted) -> dict[str, Any]:
    """The 201 answer, the same first and on every replay: the resource as accepted and its
    Location; a replay also says `Idempotent-Replayed: true`."""
    return first_answer(
        201,
        created_resource(submitted.payment),
        payment_location(submitted.payment),
        submitted.replayed,
    )


def first_answer(
    status: int, resource: Mapping[str, Any], location: str, replayed: bool
) -> dict[str, Any]:
    """The answer to a POST that created something, the same first and on every replay:
    `status`, the resource as created and its Location; a replay (the first answer to its
    Idempotency-Key given again) also says `Idempotent-Replayed: true`."""
    headers = {"Location": location}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return respond(status, resource, headers)


def payment_lookup(event: Mapping[str, Any]) -> tuple[UUID, UUID]:
    """The (merchant id, payment id) a GET /merchant/{merchant_id}/payment/{payment_id}
    request reads: HttpError 400 for a path id that is not a UUID, 401/403 for the caller."""
    merchant_id, payment_id = path_ids(event, "merchant_id", "payment_id")
    authorise(event, merchant_id)
    return merchant_id, payment_id


def payment_response(payment: PaymentRequest) -> dict[str, Any]:
    """The 200 answer: the payment resource."""
    return respond(200, payment_resource(payment))


def payment_listing(event: Mapping[str, Any]) -> PaymentListing:
    """The page a GET /merchant/{merchant_id}/payments request asks for, checked in order:
    the path (400), the caller (401, 403), then every query parameter together
    (ValidationError, 400, naming each bad one). Unknown parameters are ignored."""
    # Imported here: only the list handler builds a listing.
    from shared_kernel.application.list_payments import DEFAULT_LIMIT, PaymentListing
    from shared_kernel.application.ports import PaymentFilters

    (merchant_id,) = path_ids(event, "merchant_id")
    authorise(event, merchant_id)
    query = QueryParameters(event)
    check = query.check
    limit, after, before = query.page("a payment")
    statuses = ", ".join(s.value for s in PaymentStatus)
    status = check("status", _status, f"must be one of {statuses}")
    reference = check(
        "reference",
        lambda t: t if 1 <= len(t) <= REFERENCE_MAX_LENGTH else None,
        f"must be 1 to {REFERENCE_MAX_LENGTH} characters",
    )
    created_gte = check("created_gte", _rfc3339, "must be an RFC 3339 date-time")
    created_lt = check("created_lt", _rfc3339, "must be an RFC 3339 date-time")
    query.raise_errors()
    return PaymentListing(
        merchant_id=merchant_id,
        limit=DEFAULT_LIMIT if limit is None else limit,
        filters=PaymentFilters(status, reference, created_gte, created_lt),
        starting_after=after,
        ending_before=before,
    )


class QueryParameters:
    """A list request's query string, checked parameter by parameter: every bad one is
    collected (a FieldError each) and raised together by `raise_errors`. Unknown parameters
    are ignored."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.values: Mapping[str, str] = event.get("queryStringParameters") or {}
        self.errors: list[FieldError] = []

    def check(self, name: str, parse: Any, message: str) -> Any:
        """The parameter `name` parsed (None when absent, or when `parse` finds it bad:
        then `message` is recorded)."""
        text = self.values.get(name)
        if text is None:
            return None
        value = parse(text)
        if value is None:
            self.errors.append(FieldError(name, message))
        return value

    def page(self, item: str) -> tuple[int | None, UUID | None, UUID | None]:
        """The paging parameters of SPEC §9 (`limit`, and at most one of `starting_after`,
        `ending_before`, each `item` id: "a payment", "an event")."""
        from shared_kernel.application.list_payments import MAX_LIMIT

        limit = self.check(
            "limit", lambda t: _limit(t, MAX_LIMIT), f"must be an integer from 1 to {MAX_LIMIT}"
        )
        after = self.check("starting_after", parse_uuid, f"must be {item} id (UUID)")
        before = self.check("ending_before", parse_uuid, f"must be {item} id (UUID)")
        if "starting_after" in self.values and "ending_before" in self.values:
            self.errors.append(FieldError("ending_before", "cannot be given with starting_after"))
        return limit, after, before

    def raise_errors(self) -> None:
        """ValidationError naming every bad parameter, if any was."""
        if self.errors:
            raise ValidationError(self.errors)


def _limit(text: str, maximum: int) -> int | None:
    value = int(text) if _LIMIT.fullmatch(text) else 0
    return value if 1 <= value <= maximum else None


def _status(text: str) -> PaymentStatus | None:
    try:
        return PaymentStatus(text)
    except ValueError:
        return None


def _rfc3339(text: str) -> datetime | None:
    if not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.upper()).astimezone(UTC)
    except (ValueError, OverflowError):  # a month 13; year 1 east of UTC...
        return None


def payment_page_response(page: PaymentPage) -> dict[str, Any]:
    """The 200 answer: `{"data": [payment resources, newest first], "has_more": bool}`."""
    return respond(
        200, {"data": [payment_resource(p) for p in page.payments], "has_more": page.has_more}
    )


# The declared methods of each resource (services/merchant-api/serverless.yml).
ALLOWED_METHODS = {
    "/merchant/{merchant_id}/payments": "GET, POST",
    "/merchant/{merchant_id}/payment/{payment_id}": "GET",
    "/merchant/{merchant_id}/events": "GET",
    "/merchant/{merchant_id}/events/{event_id}": "GET",
    "/merchant/{merchant_id}/webhook-endpoints": "GET, POST",
    "/merchant/{merchant_id}/webhook-endpoints/{endpoint_id}": "DELETE",
    "/merchant/{merchant_id}/webhook-endpoints/{endpoint_id}/rotate-secret": "POST",
    "/merchant/{merchant_id}/payment/{payment_id}/capture": "POST",
    "/merchant/{merchant_id}/payment/{payment_id}/void": "POST",
    "/merchant/{merchant_id}/payment/{payment_id}/refunds": "POST",
    "/merchant/{merchant_id}/payment/{payment_id}/actions": "GET",
    "/merchant/{merchant_id}/payment/{payment_id}/actions/{action_id}": "GET",
    "/merchant/{merchant_id}/events/{event_id}/deliveries": "GET",
    "/merchant/{merchant_id}/events/{event_id}/resend": "POST",
}


def method_not_allowed(event: Mapping[str, Any]) -> dict[str, Any]:
    """The 405 method_not_allowed answer to a method the request's resource does not
    declare, its `Allow` header naming the ones it does (RFC 9110)."""
    allow = ALLOWED_METHODS.get(str(event.get("resource") or ""), "")
    error = HttpError(405, "method_not_allowed", "this method is not allowed on this resource")
    return respond(405, error_body(error), {"Allow": allow} if allow else None)


# Every error a merchant-API handler can meet, and its HTTP answer (the one place).
http_errors = apigateway.http_errors(
    {
        ValidationError: lambda error: HttpError(
            400, "validation_error", "request is invalid", error.details
        ),
        PaymentNotFound: lambda _: HttpError(404, "not_found", "no such payment"),
        EventNotFound: lambda _: HttpError(404, "not_found", "no such event"),
        EndpointNotFound: lambda _: HttpError(404, "not_found", "no such webhook endpoint"),
        EndpointLimitReached: lambda _: HttpError(
            409, "endpoint_limit_reached", "this merchant already has 16 webhook endpoints"
        ),
        ActionNotFound: lambda _: HttpError(404, "not_found", "no such action"),
        # SPEC §8's refusals (each class's `code`, tested); the message says why.
        PaymentUnexpectedState: lambda error: HttpError(
            409, "payment_unexpected_state", str(error)
        ),
        ActionInProgress: lambda error: HttpError(409, "action_in_progress", str(error)),
        AuthorizationExpired: lambda error: HttpError(409, "authorization_expired", str(error)),
        RefundLimitReached: lambda error: HttpError(409, "refund_limit_reached", str(error)),
        AmountTooLarge: lambda error: HttpError(409, "amount_too_large", str(error)),
        IdempotencyInProgress: lambda _: HttpError(
            409,
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still being processed",
        ),
        IdempotencyKeyReused: lambda _: HttpError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        ),
    }
)
