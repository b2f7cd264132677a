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


def local_session(environ: Mapping[str, str]) -> tuple[Session, str]:
    """A session with the emulator's test credentials, and the emulator's URL."""
    session = Session()
    session.set_credentials("test", "test")
    port = environ.get("AWS_EMULATOR_PORT", "4566")
    return session, f"http://127.0.0.1:{port}"


def aws_session(profile: str | None, region: str | None) -> tuple[Session, str]:
    """A session on botocore's default credential chain (`profile` if given), and its
    region (`region`, else the profile's or the environment's)."""
    session = Session(profile=profile)
    chosen = region or session.get_config_variable("region")
    if not chosen:
        raise StageNotFound("no AWS region: pass --region or configure one for the profile")
    return session, chosen


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
        session, endpoint = local_session(environ)
        region = LOCAL_REGION
        simulator = f"http://127.0.0.1:{environ.get('BANK_SIMULATOR_PORT', '3002')}"
        place = {"AWS_ENDPOINT_URL": endpoint, "BANK_URL": bank_url or simulator}
    else:
        session, region = aws_session(profile, region)
        endpoint = None
        place = {"BANK_URL": bank_url or environ.get("BANK_URL", "")}

    def client(service: str) -> Any:
        return session.create_client(service, region_name=region, endpoint_url=endpoint)

    outputs = stack_outputs(client("cloudformation"), RESOURCES_STACK.format(stage=stage))
    if stage == LOCAL_STAGE:
        prefix = f"gateway-{stage}"
        outputs = {k: f"{prefix}/{name}" for k, name in LOCAL_SECRET_OUTPUTS.items()} | outputs
    env = {
        **environ,
        **settings_environment(stage, outputs),
        **place,
        "STAGE": stage,
        "AWS_REGION": region,
        "PAYMENT_DEAD_LETTER_QUEUE_URL": dead_letter_queue_url(
            client("sqs"), outputs[DEAD_LETTER_QUEUE_OUTPUT]
        ),
    }
    return Stage(Settings.from_env(env), session)
