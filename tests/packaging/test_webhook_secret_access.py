"""Only the webhook sender may read a webhook signing secret: in the merchant API's template,
the functions that make secrets may Encrypt with the webhook secret key and nothing else, and
no merchant API function may Decrypt with any key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local.cloudformation import load_yaml

pytestmark = pytest.mark.packaging

MERCHANT_YML = Path(__file__).resolve().parents[2] / "services" / "merchant-api" / "serverless.yml"
WEBHOOK_KEY = "${param:webhookSecretKeyId}"


def kms_statements() -> dict[str, list[dict[str, Any]]]:
    """Each merchant API function's IAM statements that name a KMS action."""
    functions = load_yaml(MERCHANT_YML)["functions"]
    return {
        name: [
            s
            for s in function.get("iamRoleStatements") or []
            if any(str(a).startswith("kms:") for a in s["Action"])
        ]
        for name, function in functions.items()
    }


def test_the_secret_making_functions_may_only_encrypt_with_the_webhook_key() -> None:
    """createWebhookEndpoint and rotateWebhookSecret: one KMS statement, kms:Encrypt, on the
    key named by the webhook secret key's alias."""
    statements = kms_statements()

    for name in ("createWebhookEndpoint", "rotateWebhookSecret"):
        (statement,) = statements[name]
        aliases = statement["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"]
        assert (["kms:Encrypt"], WEBHOOK_KEY) == (statement["Action"], aliases)


def test_no_merchant_api_function_may_decrypt() -> None:
    """No statement of any merchant API function allows kms:Decrypt or a KMS wildcard; the
    listing and deleting functions have no KMS permission at all."""
    statements = kms_statements()
    actions = {name: {a for s in found for a in s["Action"]} for name, found in statements.items()}

    assert {} == {n: a for n, a in actions.items() if {"kms:Decrypt", "kms:*"} & a}
    assert (set(), set()) == (actions["listWebhookEndpoints"], actions["deleteWebhookEndpoint"])
