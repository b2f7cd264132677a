"""Fixtures of the integration suite: one moto server per session, fresh resources per test.

moto runs in server mode as a subprocess on a free port, and the adapters talk to it over
HTTP with real boto3 (and PynamoDB) clients, exactly as they talk to AWS. Every test gets its
own tables, queue, key or secret under a unique name, so tests never see each other's data.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from botocore.config import Config

from shared_kernel.adapters.dynamodb.tables import DynamoTables

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
TABLES_DOC = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
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


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """The URL of a moto server started for this session and stopped after it."""
    port = free_port()
    process = subprocess.Popen(
        [_moto_server_command(), "-H", "127.0.0.1", "-p", str(port)],
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


def unique(prefix: str) -> str:
    """A resource name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def table_definitions() -> dict[str, dict[str, Any]]:
    """The CloudFormation table resources documented in docs/tables.md, by logical id."""
    text = TABLES_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    resources: dict[str, dict[str, Any]] = {}
    for block in blocks:
        resources.update(yaml.safe_load(block))
    return resources


def create_table_from_definition(client: Any, resource: dict[str, Any], name: str) -> None:
    """Create a table as CloudFormation would from `resource` (the parts DynamoDB checks)."""
    properties = resource["Properties"]
    arguments: dict[str, Any] = {
        "TableName": name,
        "BillingMode": properties["BillingMode"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
    }
    if "GlobalSecondaryIndexes" in properties:
        arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    if properties.get("SSESpecification", {}).get("SSEEnabled"):
        arguments["SSESpecification"] = {"Enabled": True}
    client.create_table(**arguments)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    if properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        client.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


@dataclass(frozen=True)
class Tables:
    """The names of one test's payments and merchants tables, and the endpoint they are on."""

    payments: str
    merchants: str
    endpoint: str

    def dynamodb(self) -> DynamoTables:
        """A new connection to the tables' endpoint, for an adapter to send through."""
        return DynamoTables(REGION, self.endpoint)


@pytest.fixture
def tables(aws_endpoint: str, aws_client: ClientFactory) -> Tables:
    """Fresh payments and merchants tables made from docs/tables.md."""
    definitions = table_definitions()
    names = Tables(
        payments=unique("payments"), merchants=unique("merchants"), endpoint=aws_endpoint
    )
    dynamodb = aws_client("dynamodb")
    create_table_from_definition(dynamodb, definitions["PaymentsTable"], names.payments)
    create_table_from_definition(dynamodb, definitions["MerchantsTable"], names.merchants)
    return names


@pytest.fixture
def queue_url(aws_client: ClientFactory) -> str:
    """The URL of a fresh SQS queue."""
    url: str = aws_client("sqs").create_queue(QueueName=unique("payments"))["QueueUrl"]
    return url


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
