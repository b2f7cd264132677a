"""A function service's log (local/stack.py writes `<log_dir>/<service>.log`) split by who
wrote each line: serverless-offline and the plugins it runs with, or the service's Lambdas.

The log is serverless-offline's stdout and stderr. serverless-offline writes its own lines
(the banner, one line per request and invocation, its errors) and relays every line the
Python Lambdas print (PythonRunner.js: each stdout line not carrying the result, and
stderr as it comes) unchanged. Nothing marks a relayed line, so the lines serverless-offline
13.9 writes itself are recognised by their exact formats, read in its source (file named per
format below); every other non-blank line is a Lambda's. A Lambda line that is not one of the
Lambdas' structured JSON records (a print, a warning, a traceback) is therefore reported,
whatever it starts with.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Every field of the Lambdas' JSON records (shared_kernel/observability/logging.py).
REQUIRED_FIELDS = frozenset({"level", "message", "timestamp", "service"})

_HTTP_METHOD = r"[A-Z]+"  # any method a client sends (TRACE, QUERY, ...), upper case
_FUNCTION = r"\(λ: [A-Za-z0-9_-]+\)"

# The formats of the lines serverless-offline and the service's plugins write themselves.
OFFLINE_FORMATS = tuple(
    re.compile(pattern)
    for pattern in (
        # serverless-localstack (index.js), loaded by every function service
        r"Using serverless-localstack",
        r"serverless-localstack: .+",
        # ServerlessOffline.js
        r"Starting Offline at stage \S+ \(\S+\)",
        r"Got \w+ signal\. Offline Halting\.\.\.",
        r"Halting offline server",
        # lambda/HttpServer.js
        r"Offline \[http for lambda\] listening on https?://\S+",
        r"Function names exposed for local invocation by aws-sdk:",
        r" {3}\* [A-Za-z0-9_-]+: \S+",
        # events/schedule/Schedule.js
        r"Scheduling \[[A-Za-z0-9_-]+\] cron: (?:\[.+\].*|disabled)",
        r"Successfully invoked scheduled function: \[[A-Za-z0-9_-]+\]",
        # events/http/HttpServer.js: the route box, its errors, one line per request
        r"Configuring Authorization: \S+ \S+",
        r"[┌│└].*[┐│┘]",
        r"Server ready: https?://\S+ 🚀",
        rf"{_HTTP_METHOD} /\S* {_FUNCTION}",
        # events/http/createAuthScheme.js
        rf"Running Authorization function for [a-z]+ /\S* {_FUNCTION}",
        rf"Authorization function returned a successful response: {_FUNCTION}",
        rf"Authorization function returned an error response: {_FUNCTION}",
        # lambda/LambdaFunction.js
        rf"{_FUNCTION} RequestId: [0-9a-f-]+ {{2}}Duration: [0-9.]+ ms {{2}}"
        r"Billed Duration: [0-9]+ ms",
        # A request without the identity source (the serverless log writer prefixes errors
        # with U+00D7 or U+2716). No other error line is listed: a failed invocation is a finding.
        rf"[\u00d7\u2716] Identity Source is null for header \S+ {_FUNCTION}",
    )
)


def is_offline_line(line: str) -> bool:
    """True when serverless-offline (or a plugin it runs with) wrote the line itself."""
    return any(pattern.fullmatch(line) for pattern in OFFLINE_FORMATS)


def lambda_record(line: str) -> dict[str, Any] | None:
    """The Lambdas' structured record a line holds, or None when it is not one."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not REQUIRED_FIELDS <= set(record):
        return None
    return record


def metrics_record(line: str) -> dict[str, Any] | None:
    """The embedded-metric-format record (Powertools Metrics, CloudWatch EMF) a line holds,
    or None when it is not one: a JSON object whose `_aws` names CloudWatch metrics."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("_aws"), dict):
        return None
    return record if "CloudWatchMetrics" in record["_aws"] else None


@dataclass
class ServiceLog:
    """One service's log, split by writer."""

    offline: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    # The Lambdas' EMF metric lines (structured too, but metrics, not log records).
    metrics: list[dict[str, Any]] = field(default_factory=list)
    # Lines a Lambda wrote that are not a structured record: each one is a defect.
    unstructured: list[str] = field(default_factory=list)


def split_lines(lines: list[str]) -> ServiceLog:
    """Attribute each line to serverless-offline or to a Lambda (blank lines carry nothing:
    serverless-offline separates requests with them)."""
    split = ServiceLog()
    for line in lines:
        if not line.strip():
            continue
        if is_offline_line(line):
            split.offline.append(line)
            continue
        record = lambda_record(line)
        metrics = None if record is not None else metrics_record(line)
        if record is not None:
            split.records.append(record)
        elif metrics is not None:
            split.metrics.append(metrics)
        else:
            split.unstructured.append(line)
    return split


def read_service_log(path: Path) -> ServiceLog:
    """A service's log file, split by writer."""
    return split_lines(path.read_text(errors="replace").splitlines())
