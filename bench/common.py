"""What the bench sections share: paths, statistics, a moto server, the gateway's resources
created from the resources service's template, and fake Lambda contexts."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
REGION = "eu-west-1"
STAGE = "local"
CALLBACK_SECRET = "bench-callback-secret"  # noqa: S105 - a throw-away emulator value
BANK_API_KEY = "bench-bank-api-key"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

# Each handler: (service folder, module file, memory size is read from serverless.yml).
HANDLERS: dict[str, tuple[str, str]] = {
    "authorizer": ("merchant-api", "authorizer"),
    "submit_payment": ("merchant-api", "submit_payment"),
    "get_payment": ("merchant-api", "get_payment"),
    "forward": ("bank-forwarder", "forward"),
    "reconcile": ("bank-forwarder", "reconcile"),
    "payment_updates": ("bank-callback", "payment_updates"),
    "request_capture": ("merchant-api", "request_action"),
    "request_refund": ("merchant-api", "request_action"),
    "list_payments": ("merchant-api", "list_payments"),
    "create_webhook_endpoint": ("merchant-api", "create_webhook_endpoint"),
    "action_updates": ("bank-callback", "action_updates"),
    "record_events": ("events", "record"),
    "deliver_webhooks": ("webhook-sender", "deliver"),
}
# The function a handler module exports, where it is not `handler` (one module, three routes).
HANDLER_ATTRIBUTES = {"request_capture": "capture", "request_refund": "refund"}


def handlers_package(service: str) -> str:
    """The handlers package of a service: `merchant-api` has `merchant_api_handlers`."""
    return service.replace("-", "_") + "_handlers"


def handler_path(name: str) -> Path:
    """The source file of a handler."""
    service, module = HANDLERS[name]
    return ROOT / "services" / service / handlers_package(service) / f"{module}.py"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median(values: Sequence[float]) -> float:
    """The median (0 for no values)."""
    return float(statistics.median(values)) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Stop a process this bench started (and its group), by pid."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """A moto server on a free port of 127.0.0.1 for the duration of the block; its URL."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(  # noqa: S603 - the venv's moto_server
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited; see {log}")
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise TimeoutError("moto_server did not come up") from None
                time.sleep(0.1)
        yield url
    finally:
        stop_process(process)


def resources_template() -> dict[str, Any]:
    """The resources service's resources by logical id, names resolved for the local stage."""
    from local.cloudformation import gateway_resources

    return gateway_resources(STAGE)


@dataclass
class Resources:
    """What the bench created in the emulator."""

    endpoint: str
    queue_url: str
    queue_urls: dict[str, str]
    card_key_id: str

    def settings_env(self, bank_url: str) -> dict[str, str]:
        """The functions' environment against these resources (the local stack's names)."""
        from local.stack import LocalStack, Ports

        port = int(self.endpoint.rsplit(":", 1)[1])
        stack = LocalStack(Ports(aws_emulator=port))
        stack.queue_url = self.queue_url
        stack.webhook_queue_url = self.queue_urls.get("WebhookQueue", "")
        env = stack.settings_env()
        env.update(DUMMY_CREDENTIALS)
        env["BANK_URL"] = bank_url
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
        env["POWERTOOLS_DEV"] = "false"
        return env


def create_resources(endpoint: str) -> Resources:
    """Create every table, queue, KMS key/alias and secret the resources template declares."""
    import boto3

    from local.cloudformation import DYNAMODB_TABLE, SQS_QUEUE, of_type
    from local.template_resources import create_queues, create_table

    session = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    kms = session.client("kms", endpoint_url=endpoint)
    secrets = session.client("secretsmanager", endpoint_url=endpoint)
    template = resources_template()
    for table in of_type(template, DYNAMODB_TABLE).values():
        create_table(dynamodb, table["Properties"])
    queue_urls = create_queues(sqs, of_type(template, SQS_QUEUE))
    key_ids = {
        logical_id: kms.create_key(Description=str(key["Properties"].get("Description", "")))[
            "KeyMetadata"
        ]["KeyId"]
        for logical_id, key in of_type(template, "AWS::KMS::Key").items()
    }
    for alias in of_type(template, "AWS::KMS::Alias").values():
        props = alias["Properties"]
        kms.create_alias(
            AliasName=props["AliasName"], TargetKeyId=key_ids[props["TargetKeyId"]["Ref"]]
        )
    known = {"BankCallbackSecret": CALLBACK_SECRET, "BankApiKeySecret": BANK_API_KEY}
    for logical_id, secret in of_type(template, "AWS::SecretsManager::Secret").items():
        value = known.get(logical_id, "bench-" + os.urandom(24).hex())
        secrets.create_secret(Name=str(secret["Properties"]["Name"]), SecretString=value)
    alias = template["CardDataKeyAlias"]["Properties"]["AliasName"]
    return Resources(endpoint, queue_urls["PaymentsQueue"], queue_urls, alias)


@dataclass
class LambdaContext:
    """The parts of a Lambda context the handlers (Powertools) read."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @property
    def invoked_function_arn(self) -> str:
        """The function's ARN."""
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Plenty."""
        return 10_000


def memory_sizes() -> dict[str, int]:
    """Each handler's memory size (MB) from its service's serverless.yml."""
    from local.cloudformation import load_yaml

    sizes: dict[str, int] = {}
    for name, (service, module) in HANDLERS.items():
        document = load_yaml(ROOT / "services" / service / "serverless.yml")
        provider_memory = int(document.get("provider", {}).get("memorySize", 1024))
        memory = provider_memory
        for function in (document.get("functions") or {}).values():
            attribute = HANDLER_ATTRIBUTES.get(name, "handler")
            if function.get("handler") == f"{handlers_package(service)}/{module}.{attribute}":
                memory = int(function.get("memorySize", provider_memory))
        sizes[name] = memory
    return sizes
