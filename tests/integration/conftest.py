"""Fixtures of the integration suite: one moto server per session, fresh resources per test.

moto runs in server mode as a subprocess on a free port, and the adapters talk to it over
HTTP with real boto3 (and PynamoDB) clients, exactly as they talk to AWS. Every test gets its
own tables, queue, key or secret under a unique name, so tests never see each other's data.
Tables and queues are made from the resources template (services/resources/serverless.yml),
their only definition, through `local.template_resources`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config

from local.cloudformation import DYNAMODB_TABLE, SQS_QUEUE, gateway_resources, of_type
from local.template_resources import create_queues, create_table
from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.adapters.dynamodb.tables import DynamoTables

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _moto_server_command() -> str:
    beside_python = Path(sys.executable).parent / "moto_server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("moto_server")
    if found is None:
        pytest.fail("moto_server is not installed (it comes with moto[server])")
    return found


def _wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited at start with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail(f"moto_server did not answer on {url} within {STARTUP_TIMEOUT_S} s")


@contextmanager
def serve(command: list[str]) -> Iterator[str]:
    """Run an emulator command on a free port (yield its URL) until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "-H", "127.0.0.1", "-p", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def moto_server() -> AbstractContextManager[str]:
    """A bare moto server of its own on a free port (its URL), stopped on exit."""
    return serve([_moto_server_command()])


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """The URL of a moto server started for this session and stopped after it."""
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def serialising_endpoint() -> Iterator[str]:
    """The URL of the local stack's emulator (local/emulator.py: moto with DynamoDB requests
    applied one at a time, as DynamoDB applies them to an item), for tests that race
    conditional writes: bare moto server can let two of them pass."""
    with serve([sys.executable, "-m", "local.emulator"]) as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def dummy_aws_credentials() -> Iterator[None]:
    """Dummy credentials and region for clients that read the environment (PynamoDB)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "test")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        yield


ClientFactory = Callable[..., Any]


@pytest.fixture(scope="session")
def aws_client(aws_endpoint: str) -> ClientFactory:
    """Make a real boto3 client of a service, pointed at the moto server (or `endpoint_url`),
    with botocore Config options given as keywords."""

    new_client: Any = boto3.client  # one factory for any service name

    def make(service: str, endpoint_url: str | None = None, **config: Any) -> Any:
        return new_client(
            service,
            endpoint_url=endpoint_url or aws_endpoint,
            region_name=REGION,
            config=Config(**config) if config else None,
            **CREDENTIALS,
        )

    return make


def unreachable_sqs(aws_client: ClientFactory) -> tuple[Any, str]:
    """An SQS client pointed at a port nothing listens on (one try, short timeouts), and that
    endpoint's URL, for the adapters' outage cases."""
    closed = f"http://127.0.0.1:{free_port()}"
    client = aws_client(
        "sqs",
        endpoint_url=closed,
        connect_timeout=0.5,
        read_timeout=0.5,
        retries={"total_max_attempts": 1},
    )
    return client, closed


def unique(prefix: str) -> str:
    """A resource name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def table_definitions() -> dict[str, dict[str, Any]]:
    """The resources template's DynamoDB tables, by logical id."""
    return of_type(gateway_resources(), DYNAMODB_TABLE)


def queue_definitions() -> dict[str, dict[str, Any]]:
    """The resources template's SQS queues, by logical id."""
    return of_type(gateway_resources(), SQS_QUEUE)


def create_table_from_definition(client: Any, resource: dict[str, Any], name: str) -> None:
    """Create a table as CloudFormation would from the template's `resource`, named `name`."""
    create_table(client, resource["Properties"], name)


def serialised_table(
    endpoint: str, aws_client: ClientFactory, logical_id: str, prefix: str
) -> tuple[DynamoTables, str]:
    """A fresh table made from the template's `logical_id` on the serialising emulator at
    `endpoint` (fixture `serialising_endpoint`): a connection to it, and its name."""
    name = unique(prefix)
    create_table_from_definition(
        aws_client("dynamodb", endpoint_url=endpoint), table_definitions()[logical_id], name
    )
    return DynamoTables(REGION, endpoint), name


@pytest.fixture
def raced_repository(
    serialising_endpoint: str, aws_client: ClientFactory
) -> DynamoPaymentRepository:
    """The payments adapter on a fresh payments table of the serialising emulator."""
    connection, name = serialised_table(
        serialising_endpoint, aws_client, "PaymentsTable", "payments"
    )
    return DynamoPaymentRepository(connection, name)


@dataclass(frozen=True)
class Tables:
    """The names of one test's tables, one per table of the resources template, and the
    endpoint they are on."""

    payments: str
    merchants: str
    idempotency: str
    events: str
    webhook_endpoints: str
    deliveries: str
    endpoint: str

    def dynamodb(self) -> DynamoTables:
        """A new connection to the tables' endpoint, for an adapter to send through."""
        return DynamoTables(REGION, self.endpoint)


# The template's logical id of each table field: every table of the template has one
# (tests/integration/test_template_resources.py), so a new table cannot be forgotten here.
TABLE_IDS = {
    "payments": "PaymentsTable",
    "merchants": "MerchantsTable",
    "idempotency": "IdempotencyTable",
    "events": "EventsTable",
    "webhook_endpoints": "WebhookEndpointsTable",
    "deliveries": "DeliveriesTable",
}


@pytest.fixture
def tables(aws_endpoint: str, aws_client: ClientFactory) -> Tables:
    """Fresh tables made from the resources template (no model is bound to them: adapters
    send through `tables.dynamodb()`)."""
    definitions = table_definitions()
    dynamodb = aws_client("dynamodb")
    names = {field: unique(field) for field in TABLE_IDS}
    for field, logical_id in TABLE_IDS.items():
        create_table_from_definition(dynamodb, definitions[logical_id], names[field])
    return Tables(**names, endpoint=aws_endpoint)


@pytest.fixture
def queues(aws_client: ClientFactory) -> dict[str, str]:
    """Fresh queues made from the resources template (the dead-letter queue wired to the
    payments queue's redrive policy), their URLs by logical id."""
    return create_queues(
        aws_client("sqs"), queue_definitions(), lambda logical_id: unique(logical_id.lower())
    )


@pytest.fixture
def queue_url(queues: dict[str, str]) -> str:
    """The URL of a fresh payments queue (the template's PaymentsQueue)."""
    return queues["PaymentsQueue"]


@pytest.fixture
def card_key_id(aws_client: ClientFactory) -> str:
    """The id of a fresh symmetric KMS key for card data."""
    key_id: str = aws_client("kms").create_key(Description="card data")["KeyMetadata"]["KeyId"]
    return key_id


@pytest.fixture(scope="session", autouse=True)
def _no_proxy_for_localhost() -> Iterator[None]:
    """Keep a proxy configured in the environment away from the local servers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_PROXY", ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"])))
        yield


@dataclass
class DynamoRequests:
    """The DynamoDB requests made, as (operation, parameters)."""

    calls: list[tuple[str, dict[str, Any]]]

    def operations(self) -> list[tuple[str, str]]:
        """(operation name, table name), in order."""
        return [(operation, params.get("TableName", "")) for operation, params in self.calls]

    def updated_attributes(self) -> list[set[str]]:
        """For each UpdateItem, the attribute names its expressions touch."""
        return [
            set(params.get("ExpressionAttributeNames", {}).values())
            for operation, params in self.calls
            if operation == "UpdateItem"
        ]

    def update_return_values(self) -> list[str | None]:
        """For each UpdateItem, what it asked DynamoDB to return (None: not said)."""
        return [
            params.get("ReturnValues")
            for operation, params in self.calls
            if operation == "UpdateItem"
        ]

    def update_conditions(self) -> list[str]:
        """For each UpdateItem, its condition with the names and values put in (`version = 0`)."""
        return [
            filled_in(params["ConditionExpression"], params)
            for operation, params in self.calls
            if operation == "UpdateItem"
        ]


def filled_in(expression: str, params: dict[str, Any]) -> str:
    """An expression with its `#name` and `:value` placeholders replaced by what they stand
    for (a value by its scalar: `{"N": "0"}` is `0`)."""
    names: dict[str, str] = params.get("ExpressionAttributeNames", {})
    values: dict[str, dict[str, str]] = params.get("ExpressionAttributeValues", {})
    named = re.sub(r"#\w+", lambda m: names[m.group()], expression)
    return re.sub(r":\w+", lambda m: next(iter(values[m.group()].values())), named)


@pytest.fixture
def dynamodb_requests(monkeypatch: pytest.MonkeyPatch) -> DynamoRequests:
    """Record every DynamoDB request of the botocore clients created from now on in this test
    (PynamoDB makes a model's client on its first request, from a session of its own)."""
    recorded = DynamoRequests([])

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        recorded.calls.append((model.name, dict(params)))

    create_client = botocore.session.Session.create_client

    def recording_client(session: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = create_client(session, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-parameter-build.dynamodb", record)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", recording_client)
    return recorded
