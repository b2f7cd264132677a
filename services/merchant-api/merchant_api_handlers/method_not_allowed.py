"""Any method a merchant route does not declare — 405 with the `Allow` header (RFC 9110).

API Gateway sends a resource's undeclared methods to its `ANY` method, which is this
function; the declared ones keep their own integrations. It touches nothing and needs no key.
"""

from __future__ import annotations

from typing import Any

from shared_kernel.adapters.apigateway import HttpError, error_body, respond

# The declared methods of each resource (services/merchant-api/serverless.yml).
ALLOWED = {
    "/merchant/{merchant_id}/payments": "POST",
    "/merchant/{merchant_id}/payment/{payment_id}": "GET",
}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer 405 method_not_allowed naming the methods the resource has."""
    allow = ALLOWED.get(str(event.get("resource") or ""), "")
    error = HttpError(405, "method_not_allowed", "this method is not allowed on this resource")
    return respond(405, error_body(error), {"Allow": allow} if allow else None)
