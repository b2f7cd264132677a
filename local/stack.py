"""The whole gateway on this machine: AWS emulator, the Lambda services under
serverless-offline, the bank simulator, and the glue AWS would provide (API Gateway's
gateway responses, the SQS event source, the payments stream's event source, the
reconciler's schedule).

`python -m local.stack` (what `make start` runs) starts everything, seeds a demo merchant,
prints `gateway ready` and stays in the foreground until Ctrl-C. Tests use `LocalStack`
directly, on free ports.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from local.cloudformation import gateway_names

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
OSLS = ROOT / "node_modules" / ".bin" / "osls"
STAGE = "local"
REGION = "eu-west-1"
# Documented development defaults for the local stage only (AWS stages use Secrets Manager).
DEFAULT_CALLBACK_SECRET = "local-dev-callback-secret-change-me"  # noqa: S105
DEFAULT_BANK_API_KEY = "local-dev-bank-api-key"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    (port,) = free_ports(1)
    return port


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports on 127.0.0.1 that nothing listens on right now (all bound
    at once, so that the kernel cannot hand out one twice as it can to successive calls)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class PortsUnavailable(RuntimeError):
    """A port the stack needs is taken, repeated or not a port number; the message names
    each one and the variable that moves it."""


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise PortsUnavailable(f"{name}={value!r} is not a port number (1 to 65535)")
    return int(value)


def port_free(port: int) -> bool:
    """True when a server could listen on 127.0.0.1:port now."""
    with socket.socket() as sock:
        # As the servers themselves do: a port left in TIME_WAIT by an earlier run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _env_seconds(name: str) -> float | None:
    value = os.environ.get(name, "").strip()
    return float(value) if value else None


@dataclass
class Ports:
    """Public ports (SPEC §2) and the internal ones behind them (0: a free one, picked when
    made)."""

    merchant_api: int = 3000
    callback_api: int = 3001
    bank_simulator: int = 3002
    aws_emulator: int = 4566
    webhook_sink: int = 3003
    merchant_offline: int = 0
    merchant_lambda: int = 0
    callback_offline: int = 0
    callback_lambda: int = 0
    forwarder_offline: int = 0
    forwarder_lambda: int = 0
    events_offline: int = 0
    events_lambda: int = 0
    sender_offline: int = 0
    sender_lambda: int = 0

    def __post_init__(self) -> None:
        """Each internal port left 0 gets a free one, all of them distinct."""
        unset = [f.name for f in fields(self) if getattr(self, f.name) == 0]
        for name, port in zip(unset, free_ports(len(unset)), strict=True):
            setattr(self, name, port)

    @classmethod
    def from_env(cls) -> Ports:
        """SPEC's defaults, overridable with the documented environment variables."""
        return cls(
            merchant_api=_env_port("MERCHANT_API_PORT", 3000),
            callback_api=_env_port("CALLBACK_API_PORT", 3001),
            bank_simulator=_env_port("BANK_SIMULATOR_PORT", 3002),
            aws_emulator=_env_port("AWS_EMULATOR_PORT", 4566),
            webhook_sink=_env_port("WEBHOOK_SINK_PORT", 3003),
        )

    @classmethod
    def all_free(cls) -> Ports:
        """Every port free (for test runs beside a developer's `make start`)."""
        return cls(*free_ports(len(fields(cls))))

    def problems(self) -> list[str]:
        """Why the stack could not listen on these ports: one line per port that is taken or
        given twice, naming what it is for and the variable that moves it; empty when none."""
        found: list[str] = []
        claimed: dict[int, str] = {}
        for name, port in asdict(self).items():
            purpose, variable = PORT_ROLES[name]
            label = f"{purpose} ({variable})" if variable else purpose
            if port in claimed:
                found.append(f"{claimed[port]} and {label} are both port {port}: move one")
                continue
            claimed[port] = label
            if not port_free(port):
                move = f"set {variable} to a free port" if variable else "start again"
                found.append(
                    f"port {port} on 127.0.0.1, for {purpose}, is already in use: "
                    f"stop what listens there or {move}"
                )
        return found

    def check(self) -> None:
        """Raise PortsUnavailable listing every problem() at once, before anything starts."""
        found = self.problems()
        if found:
            lines = "\n".join(f"  {line}" for line in found)
            raise PortsUnavailable(f"nothing was started:\n{lines}")


# What each port of `Ports` is for, and the environment variable that moves it (none for the
# internal ports, chosen free at each start).
PORT_ROLES: dict[str, tuple[str, str | None]] = {
    "merchant_api": ("the merchant API", "MERCHANT_API_PORT"),
    "callback_api": ("the bank callback API", "CALLBACK_API_PORT"),
    "bank_simulator": ("the bank simulator", "BANK_SIMULATOR_PORT"),
    "aws_emulator": ("the AWS emulator", "AWS_EMULATOR_PORT"),
    "webhook_sink": ("the verifying webhook receiver", "WEBHOOK_SINK_PORT"),
    "merchant_offline": ("merchant-api's serverless-offline HTTP port", None),
    "merchant_lambda": ("merchant-api's serverless-offline Lambda port", None),
    "callback_offline": ("bank-callback's serverless-offline HTTP port", None),
    "callback_lambda": ("bank-callback's serverless-offline Lambda port", None),
    "forwarder_offline": ("bank-forwarder's serverless-offline HTTP port", None),
    "forwarder_lambda": ("bank-forwarder's serverless-offline Lambda port", None),
    "events_offline": ("events' serverless-offline HTTP port", None),
    "events_lambda": ("events' serverless-offline Lambda port", None),
    "sender_offline": ("webhook-sender's serverless-offline HTTP port", None),
    "sender_lambda": ("webhook-sender's serverless-offline Lambda port", None),
}


@dataclass
class _SinkCloser:
    """Stops the webhook receiver's server and closes its log."""

    server: Any
    out: Any

    def stop(self) -> None:
        """Shut the server down and close its log file (never stdout)."""
        self.server.shutdown()
        self.server.server_close()
        if self.out is not sys.stdout:
            self.out.close()


def wait_until(check: Any, what: str, timeout: float) -> None:
    """Poll `check()` until it is true, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")


def port_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_status(url: str) -> int:
    """The HTTP status of a GET (any status counts as an answer)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@dataclass
class LocalStack:
    """Starts and stops every local process of the gateway; see the module docstring."""

    ports: Ports
    callback_secret: str = DEFAULT_CALLBACK_SECRET
    bank_api_key: str = DEFAULT_BANK_API_KEY
    log_dir: Path = ROOT / ".local" / "logs"
    reconcile_every_s: float = 60.0
    bank_callback_delay_ms: int = 200
    quiet: bool = False
    # How long the Lambdas cache secrets (SECRETS_TTL_S); tests that rotate one shorten it.
    secrets_ttl_s: float = 900.0
    # How long the edge caches the authorizer's policy per Authorization header, as API
    # Gateway does: AUTHORIZER_TTL_S if set, else (None) the template's resultTtlInSeconds.
    authorizer_ttl_s: float | None = field(default_factory=lambda: _env_seconds("AUTHORIZER_TTL_S"))
    # Extra environment of the function services (read by their serverless.yml), e.g. the
    # forwarder's FORWARD_MAX_ATTEMPTS / FORWARD_BACKOFF_BASE_S / RECONCILE_* for tests.
    tuning_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _closers: list[Any] = field(default_factory=list)
    _commands: dict[str, tuple[list[str], Path, dict[str, str]]] = field(default_factory=dict)
    queue_url: str = ""
    webhook_queue_url: str = ""

    # -- environment ------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The AWS emulator's URL."""
        return f"http://127.0.0.1:{self.ports.aws_emulator}"

    def aws_env(self) -> dict[str, str]:
        """What every process needs to talk to the emulator instead of AWS."""
        return {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EMULATOR_PORT": str(self.ports.aws_emulator),
        }

    def function_env(self) -> dict[str, str]:
        """The environment of the serverless-offline processes (and their Lambdas)."""
        return {
            **os.environ,
            **self.aws_env(),
            "STAGE": STAGE,
            "VIRTUAL_ENV": str(VENV_BIN.parent),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PAYMENT_QUEUE_URL": self.queue_url,
            "WEBHOOK_QUEUE_URL": self.webhook_queue_url,
            "BANK_URL": f"http://127.0.0.1:{self.ports.bank_simulator}",
            "BANK_SIMULATOR_PORT": str(self.ports.bank_simulator),
            "SECRETS_TTL_S": str(self.secrets_ttl_s),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
            "PYTHONDONTWRITEBYTECODE": "1",
            **self.tuning_env,
        }

    def settings_env(self) -> dict[str, str]:
        """Environment for shared_kernel.Settings in this process (seeding, tests), with the
        resources template's names."""
        names = gateway_names(STAGE)
        return {
            **self.aws_env(),
            "STAGE": STAGE,
            "PAYMENTS_TABLE": names["PaymentsTable"],
            "MERCHANTS_TABLE": names["MerchantsTable"],
            "IDEMPOTENCY_TABLE": names["IdempotencyTable"],
            "EVENTS_TABLE": names["EventsTable"],
            "PAYMENT_QUEUE_URL": self.queue_url,
            "WEBHOOK_QUEUE_URL": self.webhook_queue_url,
            "CARD_KEY_ID": names["CardDataKeyAlias"],
            "API_KEY_PEPPER_SECRET_ID": names["ApiKeyPepperSecret"],
            "CARD_FINGERPRINT_KEY_SECRET_ID": names["CardFingerprintKeySecret"],
            "CALLBACK_SECRET_ID": names["BankCallbackSecret"],
            "BANK_API_KEY_SECRET_ID": names["BankApiKeySecret"],
            "BANK_URL": f"http://127.0.0.1:{self.ports.bank_simulator}",
            "WEBHOOK_ENDPOINTS_TABLE": names["WebhookEndpointsTable"],
            "WEBHOOK_SECRET_KEY_ID": names["WebhookSecretKeyAlias"],
            "DELIVERIES_TABLE": names["DeliveriesTable"],
        }

    def use_emulator(self) -> None:
        """Point this process's AWS SDK at the emulator, with dummy credentials.

        This process seeds merchants, runs the event sources and the make targets against
        the local stack only.
        """
        os.environ.update(self.aws_env())

    def discover_queue_url(self, logical_id: str = "PaymentsQueue") -> str:
        """The URL of the template's queue `logical_id` (the payment queue by default) in the
        running emulator."""
        import boto3

        self.use_emulator()
        sqs = boto3.session.Session(region_name=REGION).client("sqs", endpoint_url=self.endpoint)
        queue_name = gateway_names(STAGE)[logical_id]
        url: str = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        return url

    # -- processes ----------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._commands[name] = (args, cwd, env)
        log = open(self.log_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def start(self) -> None:
        """Start everything and wait until every endpoint answers."""
        started = time.monotonic()
        self.ports.check()
        self.use_emulator()
        try:
            self._start_emulator()
            self._deploy_resources()
            self._start_bank_simulator()
            self._start_functions()
            self._start_glue()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self._say(f"all parts up in {time.monotonic() - started:.1f}s")

    def _start_emulator(self) -> None:
        self._say(f"AWS emulator (moto server, local/emulator.py) on {self.endpoint}")
        self._spawn(
            "aws-emulator",
            [
                str(VENV_BIN / "python"),
                "-m",
                "local.emulator",
                "-H",
                "127.0.0.1",
                "-p",
                str(self.ports.aws_emulator),
            ],
            ROOT,
            {**os.environ},
        )
        wait_until(lambda: port_open(self.ports.aws_emulator), "the AWS emulator", 30)

    def _deploy_resources(self) -> None:
        self._say("deploying services/resources with `osls deploy --stage local`")
        env = {**os.environ, **self.aws_env()}
        env.pop("AWS_ENDPOINT_URL")  # serverless-localstack sets the endpoints itself
        result = subprocess.run(
            [str(OSLS), "deploy", "--stage", STAGE],
            cwd=ROOT / "services" / "resources",
            env=env,
            capture_output=True,
            timeout=240,
        )
        (self.log_dir / "deploy-resources.log").write_bytes(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError("deploying the resources failed:\n" + result.stdout.decode()[-3000:])
        import boto3

        self.queue_url = self.discover_queue_url()
        self.webhook_queue_url = self.discover_queue_url("WebhookQueue")
        session = boto3.session.Session(region_name=REGION)
        self._store_secrets(session.client("secretsmanager", endpoint_url=self.endpoint))

    def _store_secrets(self, client: Any) -> None:
        # moto's CloudFormation skips AWS::SecretsManager::Secret, so the secrets the
        # resources template declares are created here, under the same names. The bank's
        # two secrets must match the simulator's; the pepper is random per run.
        for logical_id, value in (
            ("BankCallbackSecret", self.callback_secret),
            ("BankApiKeySecret", self.bank_api_key),
            ("ApiKeyPepperSecret", secrets.token_urlsafe(48)),
            ("CardFingerprintKeySecret", secrets.token_urlsafe(48)),
        ):
            secret_id = gateway_names(STAGE)[logical_id]
            try:
                client.put_secret_value(SecretId=secret_id, SecretString=value)
            except client.exceptions.ResourceNotFoundException:
                client.create_secret(Name=secret_id, SecretString=value)

    def _start_bank_simulator(self) -> None:
        self._say(f"bank simulator on http://127.0.0.1:{self.ports.bank_simulator}")
        env = {
            **os.environ,
            "BANK_SIMULATOR_PORT": str(self.ports.bank_simulator),
            "BANK_CALLBACK_URL": f"http://127.0.0.1:{self.ports.callback_api}/bank/payment-updates",
            "BANK_CALLBACK_SECRET": self.callback_secret,
            "BANK_API_KEY": self.bank_api_key,
            "BANK_CALLBACK_DELAY_MS": str(self.bank_callback_delay_ms),
        }
        self._spawn(
            "bank-simulator",
            [sys.executable, str(ROOT / "services" / "bank-simulator" / "bank_simulator.py")],
            ROOT,
            env,
        )

    def _start_functions(self) -> None:
        p = self.ports
        for name, http_port, lambda_port in (
            ("merchant-api", p.merchant_offline, p.merchant_lambda),
            ("bank-callback", p.callback_offline, p.callback_lambda),
            ("bank-forwarder", p.forwarder_offline, p.forwarder_lambda),
            ("events", p.events_offline, p.events_lambda),
            ("webhook-sender", p.sender_offline, p.sender_lambda),
        ):
            self._say(f"{name} under serverless-offline")
            # The edge runs the merchant API's authorizer, with API Gateway's result cache
            # (local/edge/authorizer.py); serverless-offline would call it on every request.
            no_auth = ["--noAuth"] if name == "merchant-api" else []
            self._spawn(
                name,
                [
                    str(OSLS),
                    "offline",
                    "start",
                    "--stage",
                    STAGE,
                    "--httpPort",
                    str(http_port),
                    "--lambdaPort",
                    str(lambda_port),
                    *no_auth,
                ],
                ROOT / "services" / name,
                self.function_env(),
            )

    def _start_glue(self) -> None:
        import boto3

        from local.edge.authorizer import (
            EdgeAuthorizer,
            invoke_through_offline,
            load_protected_routes,
        )
        from local.edge.gateway_responses import load_gateway_responses
        from local.edge.proxy import start_edge
        from local.event_sources import Schedule, SqsEventSource, invoke_via_offline

        p = self.ports
        merchant_yml = ROOT / "services" / "merchant-api" / "serverless.yml"
        responses = load_gateway_responses(merchant_yml)
        self._say(f"merchant API on http://127.0.0.1:{p.merchant_api}")
        self.authorizer = EdgeAuthorizer(
            load_protected_routes(merchant_yml, STAGE, self.authorizer_ttl_s),
            invoke_through_offline(p.merchant_lambda),
            region=REGION,
            stage=STAGE,
        )
        edge = start_edge(p.merchant_api, p.merchant_offline, responses, self.authorizer)
        self._closers.append(edge)
        self._say(f"bank callback API on http://127.0.0.1:{p.callback_api}")
        self._closers.append(start_edge(p.callback_api, p.callback_offline, responses))

        sqs = boto3.session.Session(region_name=REGION).client("sqs", endpoint_url=self.endpoint)
        queue_arn = f"arn:aws:sqs:{REGION}:123456789012:{gateway_names(STAGE)['PaymentsQueue']}"
        forward = invoke_via_offline(p.forwarder_lambda, f"bank-forwarder-{STAGE}-forward", 60)
        source = SqsEventSource(sqs, self.queue_url, queue_arn, forward, batch_size=10)
        self.forwarder_source = source
        reconcile = invoke_via_offline(p.forwarder_lambda, f"bank-forwarder-{STAGE}-reconcile", 120)
        schedule = Schedule(reconcile, self.reconcile_every_s)
        self._say(f"forwarder consuming the queue; reconciler every {self.reconcile_every_s:.0f}s")
        self.events_source = self._payments_stream_source()
        self._say("events recorder consuming the payments table's stream")
        self._start_webhook_sink()
        # The webhook queue's event source, as Lambda's (partial batch failures honoured).
        # Two pollers, as the forwarder's: a batch's records run side by side (one thread
        # each), so an endpoint taking its full 10 s holds up no other record's attempt.
        deliver = invoke_via_offline(p.sender_lambda, f"webhook-sender-{STAGE}-deliver", 60)
        webhook_arn = f"arn:aws:sqs:{REGION}:123456789012:{gateway_names(STAGE)['WebhookQueue']}"
        self.webhook_source = SqsEventSource(
            sqs, self.webhook_queue_url, webhook_arn, deliver, batch_size=10, concurrency=2
        )
        self._say("webhook sender consuming the webhook queue")
        self._pending_starts: list[Any] = [
            source,
            schedule,
            self.events_source,
            self.webhook_source,
        ]

    def _payments_stream_source(self) -> Any:
        """The payments table's stream event source, invoking the events recorder."""
        import boto3

        from local.event_sources import DynamoStreamEventSource, invoke_via_offline

        session = boto3.session.Session(region_name=REGION)
        dynamodb = session.client("dynamodb", endpoint_url=self.endpoint)
        table = dynamodb.describe_table(TableName=gateway_names(STAGE)["PaymentsTable"])
        streams = session.client("dynamodbstreams", endpoint_url=self.endpoint)
        record = invoke_via_offline(self.ports.events_lambda, f"events-{STAGE}-record", 60)
        return DynamoStreamEventSource(streams, table["Table"]["LatestStreamArn"], record)

    def _start_webhook_sink(self) -> None:
        from local.webhook_sink import WebhookSink, start_sink

        port = self.ports.webhook_sink
        self._say(f"verifying webhook receiver on http://127.0.0.1:{port}")
        # Its one line per verified event goes to the console of `make start`, to a log
        # file when quiet (tests).
        out = open(self.log_dir / "webhook-sink.log", "a") if self.quiet else sys.stdout
        server, self.webhook_sink = start_sink(port, WebhookSink(out=out))
        self._closers.append(_SinkCloser(server, out))

    def _wait_ready(self) -> None:
        p = self.ports
        for name, port in (
            ("merchant-api", p.merchant_offline),
            ("bank-callback", p.callback_offline),
            ("bank-forwarder", p.forwarder_lambda),
            ("events", p.events_lambda),
            ("webhook-sender", p.sender_lambda),
            ("bank-simulator", p.bank_simulator),
        ):
            self._wait_port(name, port)
        wait_until(
            lambda: http_status(f"http://127.0.0.1:{p.bank_simulator}/health") == 200,
            "the bank simulator",
            30,
        )
        # Any HTTP answer (here 401: no key) means the route table and the edge are up.
        wait_until(
            lambda: (
                http_status(f"http://127.0.0.1:{p.merchant_api}/merchant/x/payment/y")
                in (400, 401, 403, 404)
            ),
            "the merchant API",
            60,
        )
        for starter in self._pending_starts:
            starter.start()
            self._closers.append(starter)

    def _wait_port(self, name: str, port: int) -> None:
        def up() -> bool:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.log_dir / (name + '.log')}")
            return port_open(port)

        wait_until(up, name, 120)

    # -- crashes (the reliability battery) ---------------------------------------------

    def _ready_port(self, name: str) -> int:
        p = self.ports
        return {
            "merchant-api": p.merchant_offline,
            "bank-callback": p.callback_offline,
            "bank-forwarder": p.forwarder_lambda,
            "events": p.events_lambda,
            "webhook-sender": p.sender_lambda,
            "bank-simulator": p.bank_simulator,
        }[name]

    def kill(self, name: str) -> None:
        """SIGKILL one process group (a crash: no clean-up, invocations in flight are lost)."""
        process = self.processes[name]
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def start_process(self, name: str) -> None:
        """Start a killed process again, same command and ports, and wait until it answers."""
        args, cwd, env = self._commands[name]
        self._spawn(name, args, cwd, env)
        self._wait_port(name, self._ready_port(name))

    def restart(self, name: str) -> float:
        """SIGKILL `name` (e.g. `bank-forwarder`) and start it again; the seconds it was down.

        For the forwarder, the SQS event source keeps the batches it had in flight (they
        fail, as when a Lambda sandbox dies, and come back after the visibility timeout)
        but waits while the function is down, as Lambda waits for a cold start; the events
        recorder's stream event source likewise keeps its checkpoint and retries the batch.
        """
        started = time.monotonic()
        self.kill(name)
        sources = {
            "bank-forwarder": "forwarder_source",
            "events": "events_source",
            "webhook-sender": "webhook_source",
        }
        source = getattr(self, sources[name], None) if name in sources else None
        if source is not None:
            source.pause()
        try:
            self.start_process(name)
        finally:
            if source is not None:
                source.resume()
        return time.monotonic() - started

    def reconcile_now(self) -> Any:
        """One reconciler pass now (through serverless-offline); its answer (the counts)."""
        from local.event_sources import invoke_via_offline, scheduled_event

        name = f"bank-forwarder-{STAGE}-reconcile"
        return invoke_via_offline(self.ports.forwarder_lambda, name, 120)(scheduled_event(REGION))

    def stop(self) -> None:
        """Stop everything this stack started, by process id (children included)."""
        for closer in reversed(self._closers):
            try:
                closer.stop() if hasattr(closer, "stop") else closer.close()
            except Exception as error:  # noqa: BLE001 - keep stopping the rest
                print(f"while stopping {closer!r}: {error}", file=sys.stderr)
        self._closers.clear()
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=5)
        self.processes.clear()

    # -- merchants ----------------------------------------------------------------------

    def register_merchant(self, name: str) -> dict[str, str]:
        """Create a merchant in the running stack; its id and (only copy of) its key."""
        return register_merchant(self.settings_env(), name)


def register_merchant(env: dict[str, str], name: str) -> dict[str, str]:
    """Create a merchant through the real use case and adapters, against `env`'s stack."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    from shared_kernel.bootstrap import build_gateway
    from shared_kernel.settings import Settings

    created = build_gateway(Settings.from_env(env)).register_merchant(name)
    return {"merchant_id": str(created.merchant_id), "api_key": created.api_key}


def main() -> int:
    """`make start`: run the gateway in the foreground until Ctrl-C; 1 when a port is taken."""
    try:
        ports = Ports.from_env()
        ports.check()
    except PortsUnavailable as error:
        print(f"cannot start the gateway: {error}", file=sys.stderr, flush=True)
        return 1
    stack = LocalStack(
        ports,
        callback_secret=os.environ.get("BANK_CALLBACK_SECRET", DEFAULT_CALLBACK_SECRET),
        reconcile_every_s=float(os.environ.get("RECONCILE_EVERY_S", "60")),
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        stack.start()
        merchant = stack.register_merchant("Demo merchant")
        print("demo merchant: " + json.dumps(merchant), flush=True)
        print(f"logs in {stack.log_dir}", flush=True)
        print("gateway ready", flush=True)
        while not stopping.wait(1):
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited unexpectedly; stopping", flush=True)
                    stopping.set()
    finally:
        print("stopping the gateway", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
