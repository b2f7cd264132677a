"""The TOKEN authorizer: the bearer key parsed from the event, the Allow policy for its
merchant, and the 401 of the runtime it runs in (raised in AWS, returned under
serverless-offline), chosen by the composition root from IS_OFFLINE."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from merchant_api_handlers import authorizer
from shared_kernel.adapters import offline
from shared_kernel.api import authorizer as wire
from shared_kernel.api.authorizer import TokenRequest, allow, token_request
from shared_kernel.bootstrap import build_gateway
from shared_kernel.settings import Settings

from .builders import MERCHANT_ID

pytestmark = pytest.mark.unit

ARN = "arn:aws:execute-api:eu-west-1:123456789012:api-1/local/POST/merchant/m/payments"
ENV = {"PAYMENTS_TABLE": "p", "MERCHANTS_TABLE": "m"}


@pytest.mark.parametrize(
    ("token", "key"),
    [
        ("Bearer sk_live_abc", "sk_live_abc"),
        ("bearer  sk_live_abc ", "sk_live_abc"),
        ("Basic sk_live_abc", None),
        ("Bearer ", None),
        ("", None),
    ],
)
def test_the_bearer_key_is_read_from_the_token(token: str, key: str | None) -> None:
    """`Bearer <key>` (any case, spaces trimmed) gives the key; anything else none."""
    event = {"authorizationToken": token, "methodArn": ARN}

    assert TokenRequest(key, ARN) == token_request(event)


def test_a_known_key_is_allowed_the_whole_api_with_its_merchant_in_the_context() -> None:
    """The policy allows every method of the stage and names the merchant."""
    policy = allow(MERCHANT_ID, ARN)

    assert (
        str(MERCHANT_ID),
        "arn:aws:execute-api:eu-west-1:123456789012:api-1/local/*",
        {"merchant_id": str(MERCHANT_ID)},
    ) == (
        policy["principalId"],
        policy["policyDocument"]["Statement"][0]["Resource"],
        policy["context"],
    )


@pytest.mark.parametrize(("is_offline", "expected"), [("true", offline), ("false", wire)])
def test_the_401_is_chosen_from_is_offline(is_offline: str, expected: Any) -> None:
    """IS_OFFLINE=true picks the serverless-offline adapter, anything else AWS's."""
    app = build_gateway(Settings.from_env({**ENV, "IS_OFFLINE": is_offline}))

    assert expected.unauthorized is app.unauthorized


def test_in_aws_the_401_is_the_unauthorized_exception() -> None:
    """API Gateway answers 401 for an authorizer raising `Unauthorized`."""
    with pytest.raises(Exception) as raised:
        wire.unauthorized()

    assert (Exception, ("Unauthorized",)) == (type(raised.value), raised.value.args)


class Gateway(SimpleNamespace):
    """What the handler takes from bootstrap.gateway(): a key lookup and the offline 401."""

    def __init__(self, lookup: Any) -> None:
        super().__init__(authenticate_merchant=lookup, unauthorized=offline.unauthorized)


@pytest.mark.parametrize(
    ("token", "lookup", "expected"),
    [
        ("Bearer sk_live_abc", lambda key: MERCHANT_ID, allow(MERCHANT_ID, ARN)),
        ("Bearer sk_live_abc", lambda key: None, "Unauthorized"),
        ("Basic sk_live_abc", lambda key: MERCHANT_ID, "Unauthorized"),
    ],
    ids=["known", "unknown", "not-bearer"],
)
def test_the_handler_allows_a_known_key_and_answers_401_otherwise(
    monkeypatch: pytest.MonkeyPatch, token: str, lookup: Any, expected: Any
) -> None:
    """A known key gets the policy; an unknown key or another scheme get the runtime's 401."""
    monkeypatch.setattr(authorizer, "gateway", lambda: Gateway(lookup))

    assert expected == authorizer.handler({"authorizationToken": token, "methodArn": ARN}, None)


def test_a_failing_lookup_is_a_401(monkeypatch: pytest.MonkeyPatch) -> None:
    """The merchants table unreachable: the key was looked up, and the answer is the 401."""
    asked: list[str] = []

    def failing_lookup(api_key: str) -> UUID | None:
        asked.append(api_key)
        raise ConnectionError("merchants table unreachable")

    monkeypatch.setattr(authorizer, "gateway", lambda: Gateway(failing_lookup))
    event = {"authorizationToken": "Bearer sk_live_abc", "methodArn": ARN}

    assert ("Unauthorized", ["sk_live_abc"]) == (authorizer.handler(event, None), asked)
