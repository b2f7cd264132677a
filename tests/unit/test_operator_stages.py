"""How the operator CLI maps a resources stack's outputs to the functions' settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway_ops.stages import (
    DEAD_LETTER_QUEUE_OUTPUT,
    OUTPUT_SETTINGS,
    RESOURCES_STACK,
    StageNotFound,
    settings_environment,
)
from local.cloudformation import load_yaml

pytestmark = pytest.mark.unit

RESOURCES_YML = Path(__file__).resolve().parents[2] / "services" / "resources" / "serverless.yml"


def resources_template() -> dict[str, Any]:
    """services/resources/serverless.yml as a document (the project's one template reader)."""
    document: dict[str, Any] = load_yaml(RESOURCES_YML)
    return document


def test_the_stack_name_is_the_resources_service_and_stage() -> None:
    """`gateway-resources-<stage>`: the resources service's name, as osls names its stack."""
    service = resources_template()["service"]

    assert f"{service}-prod" == RESOURCES_STACK.format(stage="prod")


def test_every_output_the_cli_reads_is_declared_by_the_resources_template() -> None:
    """The outputs the CLI maps are all in services/resources/serverless.yml's Outputs."""
    declared = set(resources_template()["resources"]["Outputs"])

    assert set() == {*OUTPUT_SETTINGS, DEAD_LETTER_QUEUE_OUTPUT} - declared


def test_outputs_become_the_environment_variables_the_functions_read() -> None:
    """Each output lands under its Settings variable name; the stack's other outputs do not."""
    outputs = {key: f"value-of-{key}" for key in [*OUTPUT_SETTINGS, DEAD_LETTER_QUEUE_OUTPUT]}

    env = settings_environment("prod", {**outputs, "PaymentsTableArn": "arn:..."})

    assert {
        "PAYMENTS_TABLE": "value-of-PaymentsTableName",
        "MERCHANTS_TABLE": "value-of-MerchantsTableName",
        "IDEMPOTENCY_TABLE": "value-of-IdempotencyTableName",
        "PAYMENT_QUEUE_URL": "value-of-PaymentsQueueUrl",
        "CARD_KEY_ID": "value-of-CardDataKeyAlias",
        "API_KEY_PEPPER_SECRET_ID": "value-of-ApiKeyPepperSecretArn",
        "CARD_FINGERPRINT_KEY_SECRET_ID": "value-of-CardFingerprintKeySecretArn",
        "BANK_API_KEY_SECRET_ID": "value-of-BankApiKeySecretArn",
        "CALLBACK_SECRET_ID": "value-of-BankCallbackSecretArn",
    } == env


def test_a_missing_output_is_named() -> None:
    """A stack without some outputs (an older deploy): StageNotFound naming them."""
    outputs = {key: "x" for key in OUTPUT_SETTINGS if key != "MerchantsTableName"}

    with pytest.raises(StageNotFound) as raised:
        settings_environment("prod", outputs)

    expected = "stack gateway-resources-prod has no output MerchantsTableName, "
    assert expected + DEAD_LETTER_QUEUE_OUTPUT == str(raised.value)
