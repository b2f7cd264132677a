"""The wire format of the webhook endpoint routes (SPEC §10): each request parsed and checked
into one typed request, each result mapped to its answer. Checks run in the merchant API's
order: path ids (400), the caller (401, 403), media type, size and JSON (415, 413, 400),
then every field and the Idempotency-Key together (400 naming each bad one); the URL's
rules (shared_kernel/domain/webhook_url.py, DNS included) are part of the field checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shared_kernel.adapters.apigateway import checked_body, parse_json, respond
from shared_kernel.api.merchant import authorise, idempotency_key, path_ids, timestamp
from shared_kernel.domain.errors import FieldError, ValidationError
from shared_kernel.domain.webhook_endpoint import (
    DEFAULT_ROTATION_OVERLAP_HOURS,
    ENDPOINT_STATUS,
)
from shared_kernel.domain.webhook_url import CheckedUrl, UnsafeUrl

if TYPE_CHECKING:
    from uuid import UUID

    from shared_kernel.application.webhook_endpoints import (
        EndpointCreation,
        EndpointWithSecret,
        SecretRotation,
    )
    from shared_kernel.application.webhook_ports import WebhookEndpoint

# The URL rules of the stage, resolver included (Gateway.check_webhook_url).
UrlCheck = Callable[[str], CheckedUrl]


def endpoint_resource(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The endpoint as a merchant sees it (never a secret)."""
    return {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "enabled_events": list(endpoint.enabled_events),
        "status": ENDPOINT_STATUS,
        "created_at": timestamp(endpoint.created_at),
    }


def _fields(schema: str, body: object) -> list[FieldError]:
    # Imported here: only the POSTs validate a body.
    from shared_kernel import contracts

    return contracts.validate(schema, body)


def _checked(errors: list[FieldError], key_errors: list[FieldError]) -> None:
    found = {e.field: e for e in errors}
    all_errors = [found[name] for name in sorted(found)] + key_errors
    if all_errors:
        raise ValidationError(all_errors)


def endpoint_creation(event: Mapping[str, Any], check_url: UrlCheck) -> EndpointCreation:
    """The endpoint a POST /merchant/{merchant_id}/webhook-endpoints asks for."""
    from shared_kernel.application.webhook_endpoints import EndpointCreation

    (merchant_id,) = path_ids(event, "merchant_id")
    authorise(event, merchant_id)
    body = parse_json(checked_body(event))
    key, key_errors = idempotency_key(event)
    errors = _fields("webhook-endpoint-request", body)
    if isinstance(body, Mapping) and isinstance(body.get("url"), str):
        if not any(e.field == "url" for e in errors):
            try:
                check_url(body["url"])
            except UnsafeUrl as unsafe:
                errors.append(FieldError("url", str(unsafe)))
    _checked(errors, key_errors)
    assert isinstance(body, Mapping)
    return EndpointCreation(
        merchant_id, body["url"], tuple(body["enabled_events"]), idempotency_key=key
    )


def secret_rotation(event: Mapping[str, Any]) -> SecretRotation:
    """The rotation a POST .../webhook-endpoints/{endpoint_id}/rotate-secret asks for; no
    body at all is `{}` (every field has a default)."""
    from shared_kernel.application.webhook_endpoints import SecretRotation

    merchant_id, endpoint_id = path_ids(event, "merchant_id", "endpoint_id")
    authorise(event, merchant_id)
    body: object = {}
    if event.get("body") not in (None, ""):
        body = parse_json(checked_body(event))
    key, key_errors = idempotency_key(event)
    _checked(_fields("rotate-secret-request", body), key_errors)
    assert isinstance(body, Mapping)
    hours = body.get("expires_in_hours", DEFAULT_ROTATION_OVERLAP_HOURS)
    return SecretRotation(merchant_id, endpoint_id, int(hours), idempotency_key=key)


def endpoint_path(event: Mapping[str, Any]) -> tuple[UUID, UUID]:
    """The (merchant id, endpoint id) a DELETE .../webhook-endpoints/{endpoint_id} names."""
    merchant_id, endpoint_id = path_ids(event, "merchant_id", "endpoint_id")
    authorise(event, merchant_id)
    return merchant_id, endpoint_id


def endpoints_merchant(event: Mapping[str, Any]) -> UUID:
    """The merchant whose endpoints a GET /merchant/{merchant_id}/webhook-endpoints lists."""
    (merchant_id,) = path_ids(event, "merchant_id")
    return authorise(event, merchant_id)


def with_secret_response(status: int, result: EndpointWithSecret) -> dict[str, Any]:
    """The endpoint and, the one time it is shown, its new secret; a replay says
    `Idempotent-Replayed: true` and has no secret."""
    body = endpoint_resource(result.endpoint)
    if result.secret is not None:
        body["secret"] = result.secret
    headers = {"Cache-Control": "no-store"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return respond(status, body, headers)


def endpoint_list_response(endpoints: list[WebhookEndpoint]) -> dict[str, Any]:
    """The 200 answer: `{"data": [endpoints, oldest first]}`."""
    return respond(200, {"data": [endpoint_resource(e) for e in endpoints]})


def deleted_response() -> dict[str, Any]:
    """The 204 answer: no body."""
    return {"statusCode": 204, "headers": {}, "body": ""}
