"""Fixtures of the local-stack glue tests: a scripted HTTP upstream, a moto server, SQS queues.

Every server binds a free port chosen by the OS on 127.0.0.1 and is stopped by its fixture.
(No `__init__.py` here on purpose: a `tests/local` package would shadow the `local` package.)
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

REGION = "eu-west-1"


def free_port() -> int:
    """A TCP port nobody listens on right now, chosen by the OS."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Answer:
    """What the scripted upstream answers on one path."""

    status: int = 200
    headers: list[tuple[str, str]] = field(
        default_factory=lambda: [("Content-Type", "application/json")]
    )
    body: bytes = b"{}"
    chunked: bool = False


@dataclass
class Received:
    """One request the scripted upstream received."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class ScriptedUpstream:
    """A tiny HTTP/1.1 keep-alive server answering scripted answers per path and recording."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.received: list[Received] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.received.append(
                    Received(self.command, self.path, list(self.headers.items()), body)
                )
                answer = upstream.answers.get(self.path.split("?", 1)[0], Answer())
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                if answer.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(answer.body), 7):
                        piece = answer.body[start : start + 7]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def script(
        self,
        path: str,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
        chunked: bool = False,
    ) -> None:
        """Answer `status`, `headers` (default JSON) and `body` on `path` from now on."""
        if headers is None:
            headers = [("Content-Type", "application/json")]
        self.answers[path] = Answer(status, headers, body, chunked)

    @property
    def last(self) -> Received:
        """The last request received."""
        return self.received[-1]

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    """A scripted upstream standing in for serverless-offline's HTTP server."""
    server = ScriptedUpstream()
    yield server
    server.close()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local stack's AWS emulator (moto server, `local.emulator`) on a free port for
    this test session; stopped by process id."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "local.emulator", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited with {process.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/moto-api/")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


@pytest.fixture
def sqs(moto_endpoint: str) -> Any:
    """A boto3 SQS client of the moto server."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    ).client("sqs", endpoint_url=moto_endpoint)


@dataclass
class Queues:
    """A work queue and its dead-letter queue."""

    url: str
    arn: str
    dlq_url: str


@pytest.fixture
def queues(sqs: Any) -> Queues:
    """A fresh queue (VisibilityTimeout 1 s) redriving to a DLQ after 2 receives."""
    name = f"payments-{uuid.uuid4().hex[:12]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return Queues(url=url, arn=arn, dlq_url=dlq_url)
