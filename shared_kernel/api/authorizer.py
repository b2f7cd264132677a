"""The merchant API's Lambda TOKEN authorizer on the wire: the bearer API key of a request,
and its two answers — an Allow policy naming the merchant, or 401."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from uuid import UUID


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """The API key of `Authorization: Bearer <key>` (None when absent or another scheme)
    and the ARN of the method called."""

    api_key: str | None
    method_arn: str


def token_request(event: Mapping[str, Any]) -> TokenRequest:
    """The key and method of a TOKEN authorizer event."""
    token = str(event.get("authorizationToken") or "")
    scheme, _, api_key = token.partition(" ")
    key = api_key.strip() if scheme.lower() == "bearer" and api_key else None
    return TokenRequest(key or None, str(event.get("methodArn") or ""))


def allow(merchant_id: UUID, method_arn: str) -> dict[str, Any]:
    """Allow the whole API (so API Gateway can cache one policy per key), passing the
    merchant id in the context; handlers compare it with the path (403)."""
    # methodArn: arn:aws:execute-api:region:account:api-id/stage/VERB/path...
    api_root = "/".join(method_arn.split("/")[:2])
    return {
        "principalId": str(merchant_id),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{api_root}/*"}
            ],
        },
        "context": {"merchant_id": str(merchant_id)},
    }


def unauthorized() -> NoReturn:
    """The 401 in AWS: API Gateway answers 401 when the authorizer raises exactly this."""
    raise Exception("Unauthorized")  # API Gateway matches the message, not a type
