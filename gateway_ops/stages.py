"""Where a stage's resources are: the Settings and botocore session the CLI runs with.

A stage is described by the CloudFormation outputs of its resources stack
(`gateway-resources-<stage>`: services/resources/serverless.yml), read as the function
services receive them through serverless-compose.yml. An AWS stage is reached through
botocore's default credential chain (a named profile if given). The local stage is the
emulator that `make start` runs: its port (AWS_EMULATOR_PORT), test credentials, and the
bank simulator (BANK_SIMULATOR_PORT) as the bank.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.session import Session

from shared_kernel.settings import Settings

# `service: gateway-resources` in services/resources/serverless.yml, and osls's stack naming.
RESOURCES_STACK = "gateway-resources-{stage}"
LOCAL_STAGE = "local"
LOCAL_REGION = "eu-west-1"

# Each output of the resources stack and the environment variable (Settings' name) the
# functions read it from.
OUTPUT_SETTINGS = {
    "PaymentsTableName": "PAYMENTS_TABLE",
    "MerchantsTableName": "MERCHANTS_TABLE",
    "IdempotencyTableName": "IDEMPOTENCY_TABLE",
    "PaymentsQueueUrl": "PAYMENT_QUEUE_URL",
    "CardDataKeyAlias": "CARD_KEY_ID",
    "ApiKeyPepperSecretArn": "API_KEY_PEPPER_SECRET_ID",
    "CardFingerprintKeySecretArn": "CARD_FINGERPRINT_KEY_SECRET_ID",
    "BankApiKeySecretArn": "BANK_API_KEY_SECRET_ID",
    "BankCallbackSecretArn": "CALLBACK_SECRET_ID",
}
DEAD_LETTER_QUEUE_OUTPUT = "PaymentsDeadLetterQueueArn"
# moto's CloudFormation skips AWS::SecretsManager::Secret, so the local stack has no secret
# outputs; local/stack.py creates the secrets under the names the template gives them.
LOCAL_SECRET_OUTPUTS = {
    "ApiKeyPepperSecretArn": "api-key-pepper",
    "CardFingerprintKeySecretArn": "card-fingerprint-key",
    "BankApiKeySecretArn": "bank-api-key",
    "BankCallbackSecretArn": "bank-callback-secret",
}


class StageNotFound(LookupError):
    """The stage's resources stack is missing or lacks an output the CLI needs."""


@dataclass(frozen=True)
class Stage:
    """A stage, connected: the settings of its resources and the session to reach them."""

    settings: Settings
    session: Session


@dataclass(frozen=True)
class Place:
    """How a stage is reached, and what its stack does not say."""

    session: Session
    region: str
    endpoint: str | None
    # Settings variables the outputs do not give (the bank, the emulator's URL).
    env: dict[str, str]
    # Outputs an emulated stack lacks, by the names the template gives the resources.
    missing_outputs: dict[str, str]


def local_place(environ: Mapping[str, str], bank_url: str | None) -> Place:
    """The emulator `make start` runs, with its test credentials; the bank simulator."""
    session = Session()
    session.set_credentials("test", "test")
    endpoint = f"http://127.0.0.1:{environ.get('AWS_EMULATOR_PORT', '4566')}"
    simulator = f"http://127.0.0.1:{environ.get('BANK_SIMULATOR_PORT', '3002')}"
    secrets = {key: f"gateway-{LOCAL_STAGE}/{name}" for key, name in LOCAL_SECRET_OUTPUTS.items()}
    env = {"AWS_ENDPOINT_URL": endpoint, "BANK_URL": bank_url or simulator}
    return Place(session, LOCAL_REGION, endpoint, env, secrets)


def aws_place(
    profile: str | None, region: str | None, environ: Mapping[str, str], bank_url: str | None
) -> Place:
    """botocore's default credential chain (`profile` if given) and region (`region`, else
    the profile's or the environment's); the bank at `bank_url` or BANK_URL."""
    session = Session(profile=profile)
    chosen = region or session.get_config_variable("region")
    if not chosen:
        raise StageNotFound("no AWS region: pass --region or configure one for the profile")
    return Place(session, chosen, None, {"BANK_URL": bank_url or environ.get("BANK_URL", "")}, {})


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The outputs of a CloudFormation stack, by key."""
    error_type = cloudformation.exceptions.ClientError
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except error_type as error:
        raise StageNotFound(f"no stack {stack_name}: deploy services/resources first") from error
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def settings_environment(stage: str, outputs: Mapping[str, str]) -> dict[str, str]:
    """The functions' environment variables that the resources stack's outputs give."""
    missing = sorted({*OUTPUT_SETTINGS, DEAD_LETTER_QUEUE_OUTPUT} - set(outputs))
    if missing:
        stack = RESOURCES_STACK.format(stage=stage)
        raise StageNotFound(f"stack {stack} has no output {', '.join(missing)}")
    return {OUTPUT_SETTINGS[key]: outputs[key] for key in OUTPUT_SETTINGS}


def dead_letter_queue_url(sqs: Any, queue_arn: str) -> str:
    """The URL of the queue `queue_arn` names (`arn:aws:sqs:<region>:<account>:<name>`)."""
    *_, account, name = queue_arn.split(":")
    url: str = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return url


def connect(
    stage: str,
    profile: str | None = None,
    region: str | None = None,
    bank_url: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Stage:
    """Learn `stage`'s resources from its stacks. Tuning variables the functions read
    (RECONCILE_*, BANK_*_TIMEOUT_S, ...) are taken from `environ`, as they are there."""
    if stage == LOCAL_STAGE:
        place = local_place(environ, bank_url)
    else:
        place = aws_place(profile, region, environ, bank_url)

    def client(service: str) -> Any:
        return place.session.create_client(
            service, region_name=place.region, endpoint_url=place.endpoint
        )

    stack = stack_outputs(client("cloudformation"), RESOURCES_STACK.format(stage=stage))
    outputs = place.missing_outputs | stack
    from_stack = settings_environment(stage, outputs)  # raises naming a missing output
    dead_letters = dead_letter_queue_url(client("sqs"), outputs[DEAD_LETTER_QUEUE_OUTPUT])
    env = {
        **environ,
        **from_stack,
        **place.env,
        "STAGE": stage,
        "AWS_REGION": place.region,
        "PAYMENT_DEAD_LETTER_QUEUE_URL": dead_letters,
    }
    return Stage(Settings.from_env(env), place.session)
