"""Build the merchant API's OpenAPI 3.1 document from the JSON Schemas beside this script.

The schemas are the single source of truth; ``merchant-api.openapi.json`` is generated from
them and committed so that tools (Schemathesis, client generators, reviewers) can read it
without running code. The document is self-contained: every schema it needs is embedded
under ``components/schemas`` and every ``$ref`` points inside the document.

    python contracts/build_openapi.py           # (re)write merchant-api.openapi.json
    python contracts/build_openapi.py --check   # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent
OUTPUT = CONTRACTS_DIR / "merchant-api.openapi.json"
SCHEMA_SUFFIX = ".schema.json"
COMMON_FILE = "common.schema.json"
COMPONENTS = "#/components/schemas/"
# Keys that only make sense in a standalone schema file, or only to our own validator.
DROPPED_KEYS = frozenset({"$schema", "$id", "x-error-message"})
# The schemas the merchant API uses directly; whatever they reference comes along.
ROOT_FILES = (
    "submit-payment-request.schema.json",
    "payment-resource.schema.json",
    "payment-list.schema.json",
    "event.schema.json",
    "event-list.schema.json",
    "capture-request.schema.json",
    "void-request.schema.json",
    "refund-request.schema.json",
    "action-resource.schema.json",
    "action-list.schema.json",
    "error.schema.json",
    "webhook-endpoint-request.schema.json",
    "webhook-endpoint-secret.schema.json",
    "webhook-endpoint-list.schema.json",
    "rotate-secret-request.schema.json",
    "delivery-attempt-list.schema.json",
    "resend-request.schema.json",
    "resend-accepted.schema.json",
)
JSON = "application/json"
LOCATION_EXAMPLE = (
    "/merchant/2d6f7c8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f/payment/9f1c0c5e-3b7a-4e0f-8d2a-6c1b5e4f3a21"
)
ACTION_LOCATION_EXAMPLE = LOCATION_EXAMPLE + "/actions/5b2e7f10-8c4d-4a6b-9e1f-3d2c1b0a9f8e"

API_DESCRIPTION = """\
The merchant side of the payment gateway. A merchant submits a card payment; the gateway \
validates it, stores it durably, answers `201` at once and forwards it to the acquiring bank \
asynchronously. The merchant reads the payment's status at any time and lists its payments. \
A payment submitted with `"capture_method": "manual"` is only authorised; the merchant \
captures it (all or part) or voids it later, and refunds a succeeded payment in one or more \
parts: each capture, void or refund is an **action** of the payment, answered `202` at once \
and sent to the bank asynchronously.

**Authentication.** Every request carries `Authorization: Bearer <api_key>`. API keys are \
random (at least 128 bits), shown once at creation and stored only as a keyed hash. A key \
may only act on its own merchant: another merchant's id in the path is `403 forbidden`, and \
another merchant's payment is `404 not_found`.

**Bodies.** Requests and responses are JSON (`Content-Type: application/json`, else `415`); \
a request body over 16384 bytes is `413`.

**Card data.** The full card number and the CVV never appear in any response, log line, queue \
message or stored item in plain text; a payment shows only `last4`, `brand` and the expiry.

**Errors.** Every error has the body `{"error": {"code", "message", "details": [{"field", \
"message"}]}}`; `details` may be empty. Validation reports every failing field at once. \
Bad input always gets a 4xx and changes nothing; `500 internal_error` is never an answer to \
input.

**Idempotency.** `POST` accepts an optional `Idempotency-Key` (1-255 printable ASCII \
characters), scoped to the merchant and the route (the payment's capture, void and refunds \
routes are each their own). A repeat with the same key and the same body within 24 \
hours returns the status and body of the first answer with `Idempotent-Replayed: true`, \
creates no payment and sends nothing to the bank; the same key with a different body is \
`422 idempotency_key_reused`; a repeat while the first is still running is \
`409 idempotency_in_progress`. Only a request that passed validation is stored, and a \
refused action (any `4xx`) stores nothing under its key: a retry is judged afresh.

**Statuses.** `pending` (accepted, not yet acknowledged by the bank) -> `processing` \
(acknowledged by the bank) -> `succeeded`, `declined` (with `decline_reason`) or `failed` \
(the bank rejected the request as invalid, or forwarding gave up after its retries). A \
manual payment goes from `processing` to `authorized` (funds held until `capture_before`), \
then to `succeeded` by a capture or `canceled` (with `cancellation_reason`) by a void or \
the authorisation's expiry. `succeeded`, `declined`, `failed` and `canceled` are final; \
refunds of a succeeded payment leave it `succeeded`. An action is `pending`, then \
`succeeded` or `failed` (with `failure_reason`), both final."""

ERRORS: dict[str, tuple[str, str, str]] = {
    # status: (response component, code, when)
    "400": (
        "ValidationError",
        "validation_error",
        (
            "The body, a path or a query parameter is invalid (including malformed JSON, a "
            "payment id that is not a UUID, and a list cursor that is not one of this "
            "merchant's payments); `details` lists every failing field."
        ),
    ),
    "401": ("Unauthorized", "unauthorized", "The API key is missing or unknown."),
    "403": (
        "Forbidden",
        "forbidden",
        "The API key belongs to a different merchant than the path's.",
    ),
    "404": (
        "NotFound",
        "not_found",
        "No such payment or event for this merchant (another merchant's is also 404).",
    ),
    "409": (
        "IdempotencyInProgress",
        "idempotency_in_progress",
        "A request with the same Idempotency-Key is still being processed; retry later.",
    ),
    # The action routes' 409s: one response per status, so one component for every code.
    "409 action": (
        "ActionConflict",
        "action_in_progress",
        (
            "The payment's state refuses the action (nothing is stored or sent), or the "
            "Idempotency-Key's first request is still running. The code says which, the "
            "first that applies in this order: `payment_unexpected_state` (the payment's "
            "status does not allow this action), `action_in_progress` (a capture or void "
            "of the payment is still pending), `authorization_expired` (a capture at or "
            "after `capture_before`), `refund_limit_reached` (a 51st refund; failed ones "
            "count), `amount_too_large` (a capture above the authorised amount, a refund "
            "above what is still refundable, or `{}` with nothing refundable); and "
            "`idempotency_in_progress`."
        ),
    ),
    "413": ("PayloadTooLarge", "payload_too_large", "The body is over 16 KiB (16384 bytes)."),
    "415": (
        "UnsupportedMediaType",
        "unsupported_media_type",
        "`Content-Type` is not `application/json`.",
    ),
    "422": (
        "IdempotencyKeyReused",
        "idempotency_key_reused",
        "The Idempotency-Key was used before with a different body.",
    ),
    "500": (
        "InternalError",
        "internal_error",
        (
            "The gateway failed; never the answer to bad input. Retrying with the same "
            "Idempotency-Key is safe."
        ),
    ),
}
ERROR_MESSAGES = {
    "validation_error": "The request is invalid.",
    "unauthorized": "A valid API key is required.",
    "forbidden": "This API key cannot act for this merchant.",
    "not_found": "No such payment.",
    "idempotency_in_progress": "A request with this Idempotency-Key is still being processed.",
    "action_in_progress": "A capture or void of this payment is still pending.",
    "payload_too_large": "The request body is larger than 16384 bytes.",
    "unsupported_media_type": "The request body must be application/json.",
    "idempotency_key_reused": "This Idempotency-Key was used with a different request body.",
    "internal_error": "Something went wrong on our side.",
}
# Answers of the webhook endpoint routes that differ from the payments' (SPEC §10).
ENDPOINT_ERRORS: dict[str, tuple[str, str, str]] = {
    "404": (
        "EndpointNotFound",
        "not_found",
        "No such webhook endpoint for this merchant (another merchant's is also 404).",
    ),
    "409": (
        "EndpointConflict",
        "endpoint_limit_reached",
        (
            "`endpoint_limit_reached`: the merchant already has 16 webhook endpoints (delete "
            "one first); or `idempotency_in_progress`: a request with the same "
            "Idempotency-Key is still being processed."
        ),
    ),
}
ENDPOINT_ERROR_MESSAGES = {
    "EndpointNotFound": "No such webhook endpoint.",
    "EndpointConflict": "This merchant already has 16 webhook endpoints.",
}
VALIDATION_DETAILS = [
    {"field": "card_number", "message": "is not a valid card number (Luhn check failed)"},
    {"field": "expiry_year", "message": "the card has expired"},
]
SUBMIT_ERRORS = ("400", "401", "403", "409", "413", "415", "422", "500")
GET_ERRORS = ("400", "401", "403", "404", "500")
LIST_ERRORS = ("400", "401", "403", "500")
ACTION_ERRORS = ("400", "401", "403", "404", "409 action", "413", "415", "422", "500")
CURSOR = "A payment id of this merchant (another merchant's, or an unknown id, is `400`)."
# The list's query parameters (SPEC §9): name -> (description, schema).
LIST_PARAMETERS: dict[str, tuple[str, dict[str, Any]]] = {
    "limit": (
        "How many payments a page holds, 1 to 100.",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    ),
    "starting_after": (
        f"The next page: payments older than this one. {CURSOR} Not with `ending_before`.",
        {"$ref": COMPONENTS + "Uuid"},
    ),
    "ending_before": (
        f"The previous page: payments newer than this one, still newest first. {CURSOR}",
        {"$ref": COMPONENTS + "Uuid"},
    ),
    "status": ("Only payments in this status.", {"$ref": COMPONENTS + "PaymentStatus"}),
    "reference": (
        "Only payments with exactly this merchant reference.",
        {"type": "string", "minLength": 1, "maxLength": 64},
    ),
    "created_gte": (
        "Only payments created at or after this instant (RFC 3339; whole seconds compared).",
        {"type": "string", "format": "date-time"},
    ),
    "created_lt": (
        "Only payments created before this instant (RFC 3339; whole seconds compared).",
        {"type": "string", "format": "date-time"},
    ),
}


def query_parameter(name: str) -> dict[str, Any]:
    """The OpenAPI component of one of the list's query parameters."""
    description, schema = LIST_PARAMETERS[name]
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def load_schemas() -> dict[str, dict[str, Any]]:
    """Every ``*.schema.json`` file in contracts/, by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(CONTRACTS_DIR.glob(f"*{SCHEMA_SUFFIX}"))
    }


def pascal_case(name: str) -> str:
    """``card_number`` -> ``CardNumber``: how a common definition is named as a component."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def component_ref(ref: str, current_file: str, schemas: dict[str, dict[str, Any]]) -> str:
    """Where a schema file's ``$ref`` points once the schemas are embedded in the document."""
    target, _, pointer = ref.partition("#")
    target_file = target or current_file
    if target_file not in schemas:
        raise ValueError(f"{current_file}: $ref {ref!r} points outside contracts/")
    if target_file == COMMON_FILE:
        prefix = "/$defs/"
        name = pointer.removeprefix(prefix)
        if not pointer.startswith(prefix) or "/" in name:
            raise ValueError(f"{current_file}: $ref {ref!r} is not a common definition")
        return COMPONENTS + pascal_case(name)
    title: str = schemas[target_file]["title"]
    return COMPONENTS + title + pointer


def embed(node: Any, current_file: str, schemas: dict[str, dict[str, Any]]) -> Any:
    """A copy of a schema (or part of one) with its ``$ref``s pointing into the document."""
    if isinstance(node, dict):
        copy: dict[str, Any] = {}
        for key, value in node.items():
            if key in DROPPED_KEYS:
                continue
            if key == "$ref" and isinstance(value, str):
                copy[key] = component_ref(value, current_file, schemas)
            else:
                copy[key] = embed(value, current_file, schemas)
        return copy
    if isinstance(node, list):
        return [embed(item, current_file, schemas) for item in node]
    return node


def all_components(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every schema file and every common definition, embedded, by component name."""
    components: dict[str, Any] = {}
    for file_name, schema in schemas.items():
        if file_name == COMMON_FILE:
            for name, definition in schema["$defs"].items():
                components[pascal_case(name)] = embed(definition, file_name, schemas)
        else:
            components[schema["title"]] = embed(schema, file_name, schemas)
    return components


def references(node: Any) -> set[str]:
    """The names of the components a piece of the document refers to."""
    if isinstance(node, dict):
        found = set()
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(COMPONENTS):
                found.add(value.removeprefix(COMPONENTS).split("/")[0])
            else:
                found |= references(value)
        return found
    if isinstance(node, list):
        return set().union(*(references(item) for item in node))
    return set()


def reachable(roots: set[str], components: dict[str, Any]) -> dict[str, Any]:
    """The components that ``roots`` need, directly or not, sorted by name."""
    needed: set[str] = set()
    pending = set(roots)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending |= references(components[name])
    return {name: components[name] for name in sorted(needed)}


def schema_ref(name: str) -> dict[str, str]:
    """A ``$ref`` to a schema component."""
    return {"$ref": COMPONENTS + name}


def json_content(schema_name: str, example: Any) -> dict[str, Any]:
    """An ``application/json`` content map with a schema and an example."""
    return {JSON: {"schema": schema_ref(schema_name), "example": example}}


def error_responses() -> dict[str, Any]:
    """One reusable response per error status, each with the error body and an example."""
    responses = {}
    for component, code, when in ERRORS.values():
        details = VALIDATION_DETAILS if code == "validation_error" else []
        example = {"error": {"code": code, "message": ERROR_MESSAGES[code], "details": details}}
        responses[component] = {
            "description": f"`{code}`: {when}",
            "content": json_content("Error", example),
        }
    return dict(sorted(responses.items()))


def endpoint_error_responses() -> dict[str, Any]:
    """The webhook endpoint routes' own error responses (ENDPOINT_ERRORS)."""
    responses = {}
    for component, code, when in ENDPOINT_ERRORS.values():
        message = ENDPOINT_ERROR_MESSAGES[component]
        example = {"error": {"code": code, "message": message, "details": []}}
        responses[component] = {
            "description": when if when.startswith("`") else f"`{code}`: {when}",
            "content": json_content("Error", example),
        }
    return responses


def error_refs(statuses: tuple[str, ...], own: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``responses`` entries of an operation's error statuses: each an ``ERRORS`` key
    (the status, then optionally which of its components), or, for those in `own`, an
    ``ENDPOINT_ERRORS`` key (the webhook endpoint routes)."""
    return {
        status.split()[0]: {
            "$ref": "#/components/responses/"
            + (ENDPOINT_ERRORS if status in own else ERRORS)[status][0]
        }
        for status in statuses
    }


ROTATED_OR_CREATED = (
    "The endpoint and its signing secret, shown only in this answer (stored encrypted; "
    "the gateway can never show it again). With `Idempotent-Replayed: true`, a replay of the "
    "first answer to this Idempotency-Key, without the secret."
)
REPLAYED_HEADER = {
    "description": (
        "Present, with the value `true`, only when this answer replays an earlier request "
        "with the same Idempotency-Key and body (it then has no `secret`)."
    ),
    "required": False,
    "schema": {"type": "string", "enum": ["true"]},
}


def webhook_endpoint_paths(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The webhook endpoint routes (SPEC §10)."""
    endpoint_example = schemas["webhook-endpoint-secret.schema.json"]["examples"][0]
    with_secret = json_content("WebhookEndpointWithSecret", endpoint_example)
    ids = [{"$ref": "#/components/parameters/MerchantId"}]
    endpoint_ids = [*ids, {"$ref": "#/components/parameters/EndpointId"}]
    key = {"$ref": "#/components/parameters/IdempotencyKey"}
    tags = ["webhook endpoints"]
    return {
        "/merchant/{merchant_id}/webhook-endpoints": {
            "post": {
                "tags": tags,
                "operationId": "createWebhookEndpoint",
                "summary": "Register a webhook endpoint",
                "description": (
                    'Events of the types in `enabled_events` (or every type, `["*"]`) are '
                    "POSTed to `url`, signed with the endpoint's secret. The URL must be https "
                    "and resolve to public addresses only (checked now and before each "
                    "delivery); locally `http://127.0.0.1:<port>` and `http://localhost:<port>` "
                    "are accepted too. At most 16 endpoints per merchant."
                ),
                "parameters": [*ids, key],
                "requestBody": {
                    "required": True,
                    "content": json_content(
                        "WebhookEndpointRequest",
                        schemas["webhook-endpoint-request.schema.json"]["examples"][0],
                    ),
                },
                "responses": {
                    "201": {
                        "description": ROTATED_OR_CREATED,
                        "headers": {"Idempotent-Replayed": REPLAYED_HEADER},
                        "content": with_secret,
                    },
                    **error_refs(
                        ("400", "401", "403", "409", "413", "415", "422", "500"), own=("409",)
                    ),
                },
            },
            "get": {
                "tags": tags,
                "operationId": "listWebhookEndpoints",
                "summary": "List webhook endpoints",
                "description": "Every endpoint of the merchant, oldest first; never a secret.",
                "parameters": ids,
                "responses": {
                    "200": {
                        "description": "The merchant's endpoints.",
                        "content": json_content(
                            "WebhookEndpointList",
                            {"data": [schemas["webhook-endpoint.schema.json"]["examples"][0]]},
                        ),
                    },
                    **error_refs(("400", "401", "403", "500")),
                },
            },
        },
        "/merchant/{merchant_id}/webhook-endpoints/{endpoint_id}": {
            "delete": {
                "tags": tags,
                "operationId": "deleteWebhookEndpoint",
                "summary": "Delete a webhook endpoint",
                "description": "No event is sent to it after; its pending retries stop.",
                "parameters": endpoint_ids,
                "responses": {
                    "204": {"description": "Deleted."},
                    **error_refs(("400", "401", "403", "404", "500"), own=("404",)),
                },
            }
        },
        "/merchant/{merchant_id}/webhook-endpoints/{endpoint_id}/rotate-secret": {
            "post": {
                "tags": tags,
                "operationId": "rotateWebhookSecret",
                "summary": "Rotate a webhook endpoint's secret",
                "description": (
                    "A new current secret; the previous one stays live for `expires_in_hours` "
                    "(default 24, 0 to 168), during which every delivery carries a `v1` "
                    "signature for each. At most two secrets are live. The body is optional."
                ),
                "parameters": [*endpoint_ids, key],
                "requestBody": {
                    "required": False,
                    "content": json_content(
                        "RotateSecretRequest",
                        schemas["rotate-secret-request.schema.json"]["examples"][1],
                    ),
                },
                "responses": {
                    "200": {
                        "description": ROTATED_OR_CREATED,
                        "headers": {"Idempotent-Replayed": REPLAYED_HEADER},
                        "content": with_secret,
                    },
                    **error_refs(
                        ("400", "401", "403", "404", "409", "413", "415", "422", "500"),
                        own=("404",),
                    ),
                },
            }
        },
    }


def created_headers(location_example: str, what: str) -> dict[str, Any]:
    """The headers of a POST's first answer: Location, and Idempotent-Replayed on a replay."""
    return {
        "Location": {
            "description": f"The {what}'s URL.",
            "required": True,
            "schema": {"type": "string", "examples": [location_example]},
        },
        "Idempotent-Replayed": {
            "description": (
                "Present, with the value `true`, only when this answer replays the stored "
                "answer to an earlier request with the same Idempotency-Key and body."
            ),
            "required": False,
            "schema": {"type": "string", "enum": ["true"]},
        },
    }


# The POST routes of a payment's actions: (path suffix, operation id, summary, description,
# request schema).
ACTION_POSTS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "capture",
        "capturePayment",
        "Capture an authorised payment",
        (
            "Captures all (`{}`) or part (`amount`) of an `authorized` manual payment, before "
            "its `capture_before`. One capture per payment: a partial capture releases the "
            "rest. When the capture succeeds the payment is `succeeded` with "
            "`amount_captured`; when it fails the payment stays `authorized`."
        ),
        "CaptureRequest",
    ),
    (
        "void",
        "voidPayment",
        "Void an authorised payment",
        (
            "Releases the hold of an `authorized` manual payment with no capture pending "
            "(body `{}`). When the void succeeds the payment is `canceled` "
            "(`requested_by_merchant`)."
        ),
        "VoidRequest",
    ),
    (
        "refunds",
        "refundPayment",
        "Refund a succeeded payment",
        (
            "Refunds part (`amount`) or all that is still refundable (`{}`) of a `succeeded` "
            "payment, with an optional `reason`. At most 50 refunds per payment (failed ones "
            "count); succeeded plus pending refunds never exceed `amount_captured`, also "
            "under concurrent requests. The payment stays `succeeded`; `amount_refunded` "
            "grows as refunds succeed."
        ),
        "RefundRequest",
    ),
)


def action_paths(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The paths of a payment's captures, voids, refunds and actions (SPEC §8)."""
    base = "/merchant/{merchant_id}/payment/{payment_id}"
    ids = [
        {"$ref": "#/components/parameters/MerchantId"},
        {"$ref": "#/components/parameters/PaymentId"},
    ]
    by_title = {schema.get("title"): schema for schema in schemas.values()}
    action_content = json_content("ActionResource", by_title["ActionResource"]["examples"][0])
    paths: dict[str, Any] = {}
    for suffix, operation_id, summary, description, request in ACTION_POSTS:
        examples = by_title[request]["examples"]
        paths[f"{base}/{suffix}"] = {
            "post": {
                "tags": ["actions"],
                "operationId": operation_id,
                "summary": summary,
                "description": (
                    f"{description} Answers `202` with the pending action at once; the bank's "
                    "answer comes later (read the action or the payment). Another merchant's "
                    "payment is `404`."
                ),
                "parameters": [*ids, {"$ref": "#/components/parameters/IdempotencyKey"}],
                "requestBody": {
                    "required": True,
                    "content": json_content(request, examples[-1]),
                },
                "responses": {
                    "202": {
                        "description": (
                            "The action was accepted, stored and queued for the bank (or, "
                            "with `Idempotent-Replayed: true`, the first answer to this "
                            "Idempotency-Key replayed)."
                        ),
                        "headers": created_headers(ACTION_LOCATION_EXAMPLE, "action"),
                        "content": action_content,
                    },
                    **error_refs(ACTION_ERRORS),
                },
            }
        }
    paths[f"{base}/actions"] = {
        "get": {
            "tags": ["actions"],
            "operationId": "listActions",
            "summary": "List a payment's actions",
            "description": (
                "Every capture, void and refund of the payment (the expiry's void included), "
                "oldest first (`created_at`, then id)."
            ),
            "parameters": ids,
            "responses": {
                "200": {
                    "description": "The payment's actions.",
                    "content": json_content("ActionList", by_title["ActionList"]["examples"][1]),
                },
                **error_refs(GET_ERRORS),
            },
        }
    }
    paths[f"{base}/actions/{{action_id}}"] = {
        "get": {
            "tags": ["actions"],
            "operationId": "getAction",
            "summary": "Read an action",
            "description": (
                "One capture, void or refund of the payment. An id that is not a UUID is "
                "`400`; an action the payment does not have, or another merchant's payment, "
                "is `404`."
            ),
            "parameters": [*ids, {"$ref": "#/components/parameters/ActionId"}],
            "responses": {
                "200": {"description": "The action.", "content": action_content},
                **error_refs(GET_ERRORS),
            },
        }
    }
    return paths


EVENT_CURSOR = "An event id of this merchant (another merchant's, or an unknown id, is `400`)."


def events_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One query parameter of the events list (SPEC §10, with §9's paging)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def events_paths(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The paths of the events API: the list and one event."""
    event_schema = schemas["event.schema.json"]
    types = event_schema["properties"]["type"]["enum"]
    event_content = json_content("Event", event_schema["examples"][0])
    list_content = json_content("EventList", schemas["event-list.schema.json"]["examples"][1])
    uuid = schema_ref("Uuid")
    return {
        "/merchant/{merchant_id}/events": {
            "get": {
                "tags": ["events"],
                "operationId": "listEvents",
                "summary": "List events",
                "description": (
                    "One page of the merchant's events of the last 30 days, newest first "
                    "(`created_at` to the microsecond, then id, both descending, so paging "
                    "never repeats or skips one); `limit`, `starting_after` and "
                    "`ending_before` as the payments list. An event appears within a few "
                    "seconds of its change."
                ),
                "parameters": [
                    {"$ref": "#/components/parameters/MerchantId"},
                    events_parameter(
                        "limit",
                        "How many events a page holds, 1 to 100.",
                        {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                    ),
                    events_parameter(
                        "starting_after",
                        f"The next page: older events. {EVENT_CURSOR} Not with `ending_before`.",
                        uuid,
                    ),
                    events_parameter(
                        "ending_before",
                        f"The previous page: newer events, still newest first. {EVENT_CURSOR}",
                        uuid,
                    ),
                    events_parameter(
                        "type",
                        "Only events of exactly this type (an unknown type is `400`).",
                        {"type": "string", "enum": types},
                    ),
                ],
                "responses": {
                    "200": {"description": "A page of events.", "content": list_content},
                    **error_refs(LIST_ERRORS),
                },
            }
        },
        "/merchant/{merchant_id}/events/{event_id}": {
            "get": {
                "tags": ["events"],
                "operationId": "getEvent",
                "summary": "Read an event",
                "description": (
                    "One event, as it was recorded (the same bytes every webhook delivery "
                    "of it carries). An event of another merchant, or older than 30 days, "
                    "is `404`."
                ),
                "parameters": [
                    {"$ref": "#/components/parameters/MerchantId"},
                    {
                        "name": "event_id",
                        "in": "path",
                        "required": True,
                        "description": "The event's id.",
                        "schema": uuid,
                    },
                ],
                "responses": {
                    "200": {"description": "The event.", "content": event_content},
                    **error_refs(GET_ERRORS),
                },
            }
        },
    }


def build_document() -> dict[str, Any]:
    """The merchant API's OpenAPI 3.1 document, built from the schemas in contracts/."""
    schemas = load_schemas()
    roots = {schemas[name]["title"] for name in ROOT_FILES} | {
        "Uuid",
        "IdempotencyKey",
        "PaymentStatus",
    }
    payment_example = schemas["payment-resource.schema.json"]["examples"][0]
    submit_example = schemas["submit-payment-request.schema.json"]["examples"][0]
    payment_content = json_content("PaymentResource", payment_example)
    list_example = schemas["payment-list.schema.json"]["examples"][1]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Payment gateway - merchant API",
            "version": "1.0.0",
            "description": API_DESCRIPTION,
        },
        "servers": [{"url": "http://127.0.0.1:3000", "description": "local (`make start`)"}],
        "security": [{"ApiKey": []}],
        "tags": [
            {"name": "payments", "description": "Submit card payments and read them."},
            {"name": "events", "description": "What happened to the merchant's payments."},
            {
                "name": "actions",
                "description": "Capture, void and refund a payment; read its actions.",
            },
            {
                "name": "webhook endpoints",
                "description": "Where the gateway sends a merchant's events, signed.",
            },
            {"name": "webhook deliveries", "description": DELIVERIES_TAG},
        ],
        "paths": {
            "/merchant/{merchant_id}/payments": {
                "post": {
                    "tags": ["payments"],
                    "operationId": "submitPayment",
                    "summary": "Submit a card payment",
                    "description": (
                        "Validates the payment (every failing field reported at once; the card "
                        "number must pass the Luhn check and the card must not have expired: it "
                        "is valid through the last day of its expiry month, UTC), stores it "
                        "durably, queues it for the acquiring bank and answers `201` with the "
                        "payment in status `pending`. If the queue cannot be reached at that "
                        "moment the reconciler queues the payment within a minute."
                    ),
                    "parameters": [
                        {"$ref": "#/components/parameters/MerchantId"},
                        {"$ref": "#/components/parameters/IdempotencyKey"},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": json_content("SubmitPaymentRequest", submit_example),
                    },
                    "responses": {
                        "201": {
                            "description": (
                                "The payment was accepted and durably stored (or, with "
                                "`Idempotent-Replayed: true`, the first answer to this "
                                "Idempotency-Key replayed)."
                            ),
                            "headers": created_headers(LOCATION_EXAMPLE, "payment"),
                            "content": payment_content,
                        },
                        **error_refs(SUBMIT_ERRORS),
                    },
                },
                "get": {
                    "tags": ["payments"],
                    "operationId": "listPayments",
                    "summary": "List payments",
                    "description": (
                        "One page of the merchant's payments, newest first (`created_at` in "
                        "whole seconds, then id, both descending, so paging never repeats or "
                        "skips one). Filters combine; a page holds `limit` payments whenever "
                        "`has_more` is true. A cursor that no longer matches the filters still "
                        "places the page. The list is eventually consistent: a payment appears "
                        "within about a second of its `201`."
                    ),
                    "parameters": [
                        {"$ref": "#/components/parameters/MerchantId"},
                        *(
                            {"$ref": f"#/components/parameters/{pascal_case(name)}"}
                            for name in LIST_PARAMETERS
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of payments.",
                            "content": json_content("PaymentList", list_example),
                        },
                        **error_refs(LIST_ERRORS),
                    },
                },
            },
            "/merchant/{merchant_id}/payment/{payment_id}": {
                "get": {
                    "tags": ["payments"],
                    "operationId": "getPayment",
                    "summary": "Read a payment",
                    "description": (
                        "The payment's current state. A payment id that is not a UUID is `400`; "
                        "a payment of another merchant is `404`, as if it did not exist."
                    ),
                    "parameters": [
                        {"$ref": "#/components/parameters/MerchantId"},
                        {"$ref": "#/components/parameters/PaymentId"},
                    ],
                    "responses": {
                        "200": {"description": "The payment.", "content": payment_content},
                        **error_refs(GET_ERRORS),
                    },
                }
            },
            **events_paths(schemas),
            **action_paths(schemas),
            **webhook_endpoint_paths(schemas),
            **delivery_paths(schemas),
        },
        "components": {
            "securitySchemes": {
                "ApiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "API key",
                    "description": "The merchant's API key: `Authorization: Bearer <api_key>`.",
                }
            },
            "parameters": {
                "MerchantId": {
                    "name": "merchant_id",
                    "in": "path",
                    "required": True,
                    "description": "The merchant's id; must be the API key's merchant.",
                    "schema": schema_ref("Uuid"),
                },
                "PaymentId": {
                    "name": "payment_id",
                    "in": "path",
                    "required": True,
                    "description": "The payment's id, as returned by submit.",
                    "schema": schema_ref("Uuid"),
                },
                "EndpointId": {
                    "name": "endpoint_id",
                    "in": "path",
                    "required": True,
                    "description": "The webhook endpoint's id, as returned by its creation.",
                    "schema": schema_ref("Uuid"),
                },
                "ActionId": {
                    "name": "action_id",
                    "in": "path",
                    "required": True,
                    "description": "The action's id, as returned by its capture, void or refund.",
                    "schema": schema_ref("Uuid"),
                },
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "Makes the request safe to retry: scoped to the merchant and the "
                        "route, remembered for 24 hours."
                    ),
                    "schema": schema_ref("IdempotencyKey"),
                },
                **{pascal_case(name): query_parameter(name) for name in LIST_PARAMETERS},
            },
            "responses": {**error_responses(), **endpoint_error_responses()},
            "schemas": reachable(roots, all_components(schemas)),
        },
    }


DELIVERIES_TAG = (
    "What happened to an event's webhook deliveries, and resending it (SPEC §10; docs/webhooks.md)."
)
EVENT_ID_PARAMETER = {
    "name": "event_id",
    "in": "path",
    "required": True,
    "description": "The event's id (an event of another merchant is `404`).",
    "schema": {"$ref": COMPONENTS + "Uuid"},
}
DELIVERIES_ERRORS = ("400", "401", "403", "404", "500")
RESEND_ERRORS = ("400", "401", "403", "404", "413", "415", "500")


def delivery_paths(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The paths of an event's deliveries and of its resend."""
    attempts_example = schemas["delivery-attempt-list.schema.json"]["examples"][1]
    resend_example = schemas["resend-request.schema.json"]["examples"][1]
    accepted_example = schemas["resend-accepted.schema.json"]["examples"][0]
    parameters = [{"$ref": "#/components/parameters/MerchantId"}, EVENT_ID_PARAMETER]
    return {
        "/merchant/{merchant_id}/events/{event_id}/deliveries": {
            "get": {
                "tags": ["webhook deliveries"],
                "operationId": "listEventDeliveries",
                "summary": "List an event's delivery attempts",
                "description": (
                    "Every webhook delivery attempt of the event, to each endpoint, oldest "
                    "first: up to 9 per endpoint on the retry schedule (1 min, 5 min, 30 min, "
                    "2 h, 5 h, 10 h, 24 h, 24 h), and any resends. Kept 30 days."
                ),
                "parameters": parameters,
                "responses": {
                    "200": {
                        "description": "The attempts.",
                        "content": json_content("DeliveryAttemptList", attempts_example),
                    },
                    **error_refs(DELIVERIES_ERRORS),
                },
            }
        },
        "/merchant/{merchant_id}/events/{event_id}/resend": {
            "post": {
                "tags": ["webhook deliveries"],
                "operationId": "resendEvent",
                "summary": "Resend an event now",
                "description": (
                    "Queues one new delivery attempt now, outside the retry schedule (never "
                    "retried), to the endpoint named or, with no body, to each endpoint of the "
                    "merchant that wants the event's type. An unknown endpoint is `404`."
                ),
                "parameters": parameters,
                "requestBody": {
                    "required": False,
                    "content": json_content("ResendRequest", resend_example),
                },
                "responses": {
                    "202": {
                        "description": "The attempts are queued.",
                        "content": json_content("ResendAccepted", accepted_example),
                    },
                    **error_refs(RESEND_ERRORS),
                },
            }
        },
    }


def render(document: dict[str, Any]) -> str:
    """The document as the committed file holds it."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the document, or with ``--check`` say whether the committed one is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed document is stale"
    )
    args = parser.parse_args(argv)
    text = render(build_document())
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{OUTPUT.name} is stale: run `python contracts/build_openapi.py`",
                file=sys.stderr,
            )
            return 1
        print(f"{OUTPUT.name} is up to date")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
