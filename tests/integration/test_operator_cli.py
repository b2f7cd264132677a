"""The operator CLI (`gateway-ops`), run as its console script against the emulator.

The resources service is deployed to this session's moto server with `osls deploy --stage
local`, as `make start` deploys it, and the CLI finds the tables, queues, key and secrets
from that stack's outputs (`--stage local`), or from another stack's outputs reached through
botocore's default chain (an AWS stage). What the CLI did is checked through the use cases
and with plain SQS and DynamoDB reads, never through the CLI itself.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.deploy import osls_env
from local.stack import OSLS, LocalStack, Ports
from shared_kernel.api.merchant import timestamp
from shared_kernel.bootstrap import Gateway, build_gateway
from shared_kernel.settings import Settings
from tests.integration.conftest import ClientFactory
from tests.operator_cli import gateway_ops
from tests.unit.builders import body as submission

pytestmark = pytest.mark.integration

RESOURCES = Path(__file__).resolve().parents[2] / "services" / "resources"
SECRETS = ("api-key-pepper", "card-fingerprint-key", "bank-api-key", "bank-callback-secret")
CARD_NUMBER = "4242424242424242"
CVV = "987"


@dataclass
class DeployedStage:
    """The local stage's resources in the session's moto server, and clients to check them."""

    port: int
    settings: Settings
    sqs: Any
    dynamodb: Any
    dead_letter_url: str

    def gateway(self, **changes: Any) -> Gateway:
        """The composition root on these resources, `changes` made to its settings."""
        return build_gateway(replace(self.settings, **changes))

    def cli(self, *arguments: str, env: dict[str, str] | None = None) -> Any:
        """`gateway-ops --stage local ARGUMENTS`; asserts it succeeded, returns its JSON line."""
        done = gateway_ops("--stage", "local", *arguments, emulator_port=self.port, env=env)
        assert (0, 1) == (done.returncode, len(done.stdout.splitlines())), done.stderr
        return json.loads(done.stdout)

    def messages(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message visible in a queue now (received, so hidden for a minute)."""
        found: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", []):
            found.extend(batch)
        return found


@pytest.fixture(scope="module")
def stage(aws_endpoint: str, aws_client: ClientFactory) -> DeployedStage:
    """services/resources deployed as the local stage, with the secrets local/stack.py stores
    (moto's CloudFormation skips AWS::SecretsManager::Secret)."""
    port = int(aws_endpoint.rsplit(":", 1)[1])
    deployed = subprocess.run(
        [str(OSLS), "deploy", "--stage", "local"],
        cwd=RESOURCES,
        env={**osls_env(), "AWS_EMULATOR_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert 0 == deployed.returncode, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    secrets = aws_client("secretsmanager")
    for name in SECRETS:
        secrets.create_secret(Name=f"gateway-local/{name}", SecretString=uuid.uuid4().hex * 2)
    sqs = aws_client("sqs")
    local = LocalStack(Ports(aws_emulator=port))
    local.queue_url = sqs.get_queue_url(QueueName="gateway-local-payments-to-bank")["QueueUrl"]
    dead_letters = sqs.get_queue_url(QueueName="gateway-local-payments-to-bank-dlq")["QueueUrl"]
    settings = Settings.from_env({**local.settings_env(), "RECONCILE_PENDING_AFTER_S": "3600"})
    return DeployedStage(port, settings, sqs, aws_client("dynamodb"), dead_letters)


@pytest.fixture
def empty_dead_letter_queue(stage: DeployedStage) -> Iterator[str]:
    """The dead-letter queue's URL, emptied before the test (PurgeQueue: once a minute)."""
    for message in stage.messages(stage.dead_letter_url):
        stage.sqs.delete_message(
            QueueUrl=stage.dead_letter_url, ReceiptHandle=message["ReceiptHandle"]
        )
    yield stage.dead_letter_url


def submit(gateway: Gateway, merchant_id: str, reference: str) -> Any:
    """A payment accepted through the submit use case (sealed card, queued)."""
    fields = submission(card_number=CARD_NUMBER, cvv=CVV, reference=reference)
    return gateway.submit_payment(uuid.UUID(merchant_id), fields, f"ops-{reference}")


def test_merchant_create_prints_an_id_and_a_key_that_authenticates(stage: DeployedStage) -> None:
    """`merchant create NAME` prints one line `{"merchant_id", "api_key"}`; the key resolves
    to that merchant through the authorizer's use case."""
    created = stage.cli("merchant", "create", "Ops shop")

    assert ["merchant_id", "api_key"] == list(created)
    resolved = stage.gateway().authenticate_merchant(created["api_key"])
    assert uuid.UUID(created["merchant_id"]) == resolved


def test_rotate_key_keeps_the_earlier_key_through_the_grace_period(stage: DeployedStage) -> None:
    """`merchant rotate-key --grace-hours 24`: old and new keys both work and the old one's
    end is 24 h away; `--grace-hours 0` then revokes both at once, the newest works."""
    created = stage.cli("merchant", "create", "Rotating shop")
    merchant_id, first = uuid.UUID(created["merchant_id"]), created["api_key"]

    before = datetime.now(UTC)
    rotated = stage.cli("merchant", "rotate-key", str(merchant_id), "--grace-hours", "24")
    after = datetime.now(UTC)
    authenticate = stage.gateway().authenticate_merchant
    during = [authenticate(key) for key in (first, rotated["api_key"])]
    third = stage.cli("merchant", "rotate-key", str(merchant_id), "--grace-hours", "0")
    keys = (first, rotated["api_key"], third["api_key"])
    ended = [stage.gateway().authenticate_merchant(key) for key in keys]

    revoked_at = datetime.fromisoformat(rotated["earlier_keys_revoked_at"])
    assert (str(merchant_id), 1) == (rotated["merchant_id"], rotated["earlier_keys"])
    assert before + timedelta(hours=24) <= revoked_at <= after + timedelta(hours=24)
    assert [merchant_id, merchant_id] == during
    assert (2, [None, None, merchant_id]) == (third["earlier_keys"], ended)


def test_rotate_key_of_an_unknown_merchant_fails_with_one_line(stage: DeployedStage) -> None:
    """An unknown merchant id: exit status 1, the reason on stderr, nothing on stdout."""
    unknown = str(uuid.uuid4())

    done = gateway_ops(
        "--stage", "local", "merchant", "rotate-key", unknown, emulator_port=stage.port
    )

    assert (1, "", [f"Error: no merchant {unknown}"]) == (
        done.returncode,
        done.stdout,
        done.stderr.splitlines(),
    )


def test_payment_show_prints_the_payment_resource_and_no_card_data(stage: DeployedStage) -> None:
    """`payment show ID`: the merchant API's resource (last4 and brand only); neither the card
    number, the CVV, the sealed card nor its fingerprint appears in the output."""
    merchant_id = stage.cli("merchant", "create", "Showing shop")["merchant_id"]
    payment = submit(stage.gateway(), merchant_id, "order-ops-show")
    item = stage.dynamodb.get_item(
        TableName=stage.settings.payments_table, Key={"payment_id": {"S": str(payment.id)}}
    )["Item"]
    sealed = item["sealed_card"]["B"]

    done = gateway_ops(
        "--stage", "local", "payment", "show", str(payment.id), emulator_port=stage.port
    )

    assert 0 == done.returncode, done.stderr
    assert {
        "id": str(payment.id),
        "merchant_id": merchant_id,
        "status": "pending",
        "decline_reason": None,
        "amount": 1050,
        "currency": "GBP",
        "card": {"last4": "4242", "brand": "visa", "expiry_month": 12, "expiry_year": 2030},
        "reference": "order-ops-show",
        "created_at": timestamp(payment.created_at),
        "updated_at": timestamp(payment.updated_at),
        "capture_method": "automatic",
        "amount_captured": 0,
        "amount_refunded": 0,
        "amount_refundable": 0,
        "capture_before": None,
        "cancellation_reason": None,
    } == json.loads(done.stdout)
    secrets = [CARD_NUMBER, base64.b64encode(sealed).decode(), sealed.hex()]
    secrets.append(item["card_fingerprint"]["S"])
    assert [] == [secret for secret in secrets if secret in done.stdout]
    assert CVV not in [str(value) for value in json.loads(done.stdout).values()]


def test_payment_show_of_an_unknown_payment_fails(stage: DeployedStage) -> None:
    """An unknown payment id: exit status 1 and `no payment <id>` on stderr."""
    unknown = str(uuid.uuid4())

    done = gateway_ops("--stage", "local", "payment", "show", unknown, emulator_port=stage.port)

    assert (1, [f"Error: no payment {unknown}"]) == (done.returncode, done.stderr.splitlines())


def test_reconcile_requeues_a_stuck_pending_payment(stage: DeployedStage) -> None:
    """`reconcile` runs one pass with the functions' tuning variables: a pending payment
    past RECONCILE_PENDING_AFTER_S is queued again."""
    merchant_id = stage.cli("merchant", "create", "Reconciled shop")["merchant_id"]
    payment = submit(stage.gateway(reconcile_pending_after_s=0), merchant_id, "order-ops-stuck")

    report = stage.cli("reconcile", env={"RECONCILE_PENDING_AFTER_S": "0"})

    queued = [
        json.loads(m["Body"])["payment_id"]
        for m in stage.messages(stage.settings.payment_queue_url)
    ]
    assert 1 == report["requeued"]
    assert {"settled": 0, "forwarded": 0, "failed": 0, "alerts": 0} == {
        k: report[k] for k in ("settled", "forwarded", "failed", "alerts")
    }
    assert 2 == queued.count(str(payment.id))  # submit's message and the requeued one


def test_dlq_redrive_moves_every_dead_letter_back_to_the_queue(
    stage: DeployedStage, empty_dead_letter_queue: str
) -> None:
    """`dlq redrive` moves all 13 letters (two batches) to the payment queue, bodies and
    attributes unchanged, and leaves the dead-letter queue empty."""
    marker = uuid.uuid4().hex
    letters = {f'{{"letter":{n},"marker":"{marker}"}}': f"corr-{n}" for n in range(13)}
    for letter, correlation_id in letters.items():
        stage.sqs.send_message(
            QueueUrl=empty_dead_letter_queue,
            MessageBody=letter,
            MessageAttributes={
                "correlation_id": {"DataType": "String", "StringValue": correlation_id}
            },
        )

    report = stage.cli("dlq", "redrive")

    arrived = {
        m["Body"]: m["MessageAttributes"]["correlation_id"]["StringValue"]
        for m in stage.messages(stage.settings.payment_queue_url)
        if marker in m["Body"]
    }
    left = stage.sqs.get_queue_attributes(
        QueueUrl=empty_dead_letter_queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert {"moved": 13, "refused": 0} == report
    assert letters == arrived
    assert {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    } == left


def test_dlq_redrive_with_a_limit_leaves_the_rest(
    stage: DeployedStage, empty_dead_letter_queue: str
) -> None:
    """`dlq redrive --limit 3` of 5 letters moves 3 and leaves 2 in the dead-letter queue."""
    for n in range(5):
        stage.sqs.send_message(QueueUrl=empty_dead_letter_queue, MessageBody=f"limited-{n}")

    report = stage.cli("dlq", "redrive", "--limit", "3")

    left = stage.sqs.get_queue_attributes(
        QueueUrl=empty_dead_letter_queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert {"moved": 3, "refused": 0} == report
    assert {
        "ApproximateNumberOfMessages": "2",
        "ApproximateNumberOfMessagesNotVisible": "0",
    } == left


@pytest.fixture(scope="module")
def staging(stage: DeployedStage, aws_client: ClientFactory, aws_endpoint: str) -> dict[str, str]:
    """An AWS-style stage `staging`: a stack `gateway-resources-staging` whose outputs name
    the local stage's tables and queue and the secrets by ARN; the environment that reaches
    it as AWS is reached (botocore's default chain, the emulator as AWS_ENDPOINT_URL)."""
    secrets = aws_client("secretsmanager")
    arn = {
        name: secrets.describe_secret(SecretId=f"gateway-local/{name}")["ARN"] for name in SECRETS
    }
    s = stage.settings
    outputs = {
        "PaymentsTableName": s.payments_table,
        "MerchantsTableName": s.merchants_table,
        "IdempotencyTableName": s.idempotency_table,
        "PaymentsQueueUrl": s.payment_queue_url,
        "PaymentsDeadLetterQueueArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]},
        "CardDataKeyAlias": s.card_key_id,
        "ApiKeyPepperSecretArn": arn["api-key-pepper"],
        "CardFingerprintKeySecretArn": arn["card-fingerprint-key"],
        "BankApiKeySecretArn": arn["bank-api-key"],
        "BankCallbackSecretArn": arn["bank-callback-secret"],
    }
    dead_letters = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "staging-dlq"}}
    template = {
        "Resources": {"DeadLetters": dead_letters},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    aws_client("cloudformation").create_stack(
        StackName="gateway-resources-staging", TemplateBody=json.dumps(template)
    )
    # The region comes from --region: the resources are in eu-west-1, not this default.
    return {"AWS_ENDPOINT_URL": aws_endpoint, "AWS_DEFAULT_REGION": "us-east-1", "BANK_URL": ""}


def test_an_aws_stage_is_found_from_its_resources_stack_outputs(
    stage: DeployedStage, staging: dict[str, str]
) -> None:
    """`--stage staging --region eu-west-1` on botocore's default chain: the CLI reads
    `gateway-resources-staging`'s outputs and the merchant it creates authenticates there."""
    done = gateway_ops(
        *("--stage", "staging", "--region", "eu-west-1", "merchant", "create", "Staging shop"),
        env=staging,
    )

    assert 0 == done.returncode, done.stderr
    created = json.loads(done.stdout)
    resolved = stage.gateway().authenticate_merchant(created["api_key"])
    assert uuid.UUID(created["merchant_id"]) == resolved


def test_reconcile_on_an_aws_stage_asks_for_the_bank_url(staging: dict[str, str]) -> None:
    """An AWS stage has no simulator: `reconcile` without --bank-url (or BANK_URL) is a
    usage error (exit 2) naming the option."""
    done = gateway_ops("--stage", "staging", "--region", "eu-west-1", "reconcile", env=staging)

    expected = "Error: an AWS stage needs --bank-url (or BANK_URL)"
    assert (2, "", expected) == (done.returncode, done.stdout, done.stderr.splitlines()[-1])


def test_a_stage_without_a_resources_stack_is_named_in_the_error(aws_endpoint: str) -> None:
    """An AWS stage with no `gateway-resources-<stage>` stack: exit 1 naming the stack."""
    done = gateway_ops(
        *("--stage", "nowhere", "--region", "eu-west-1", "merchant", "create", "Lost shop"),
        env={"AWS_ENDPOINT_URL": aws_endpoint},
    )

    assert (
        1,
        "",
        ["Error: no stack gateway-resources-nowhere: deploy services/resources first"],
    ) == (
        done.returncode,
        done.stdout,
        done.stderr.splitlines(),
    )
