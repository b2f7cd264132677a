"""Lambda TOKEN authorizer: `Authorization: Bearer <api key>` → the merchant that owns it.

Allows the whole API for a known key (so API Gateway can cache the policy per key) and
passes the merchant id in the context; handlers compare it with the path (403).
"""

from __future__ import annotations

import os
from typing import Any

from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger

logger = get_logger("merchant-api")

# serverless-offline's Python runner exits when a handler raises, so locally we return the
# sentinel it understands; API Gateway needs the exception (both give a 401).
_OFFLINE = os.environ.get("IS_OFFLINE") == "true"


def handler(event: dict[str, Any], context: Any) -> Any:
    """Resolve the bearer key; 'Unauthorized' (401) for a missing or unknown key."""
    token = str(event.get("authorizationToken") or "")
    scheme, _, api_key = token.partition(" ")
    merchant_id = None
    if scheme.lower() == "bearer" and api_key:
        try:
            merchant_id = gateway().authenticate_merchant(api_key.strip())
        except Exception:
            logger.exception("authorizer failed")
    if merchant_id is None:
        if _OFFLINE:
            return "Unauthorized"
        raise Exception("Unauthorized")
    return _allow(str(merchant_id), event["methodArn"])


def _allow(merchant_id: str, method_arn: str) -> dict[str, Any]:
    # methodArn: arn:aws:execute-api:region:account:api-id/stage/VERB/path...
    api_root = "/".join(method_arn.split("/")[:2])
    return {
        "principalId": merchant_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{api_root}/*"}
            ],
        },
        "context": {"merchant_id": merchant_id},
    }
