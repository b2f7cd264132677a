"""CloudWatch metrics as Embedded Metric Format log lines (Powertools Metrics): no API call.

`metrics` is the process's Powertools Metrics; every handler flushes it with
`@metrics.log_metrics`, one EMF line per invocation holding the counts recorded without
dimensions of their own. A count or timing with dimensions (a status, a reason, an operation)
is written at once as its own EMF line, since one EMF line has one set of dimensions: built
by an `EphemeralMetrics` and written with ONE `write` call, so lines written by the
forwarder's threads at the same time never run into each other (Powertools' `single_metric`
prints the line and its newline as two writes, and two threads' lines came out as one).
Every metric carries `service` (POWERTOOLS_SERVICE_NAME) and `stage` (STAGE).

Outside Lambda (the operator CLI) `CloudWatchMetrics` puts the same metrics with the API.
docs/observability.md lists the metrics and the alarms built on them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import warnings
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, Metrics, MetricUnit

NAMESPACE = "PaymentGateway"
logger = logging.getLogger(__name__)

metrics = Metrics(namespace=NAMESPACE)
metrics.set_default_dimensions(stage=os.environ.get("STAGE", "local"))
# An invocation that recorded nothing (a replayed submission, an unknown key) is normal: keep
# Powertools' warning about it out of the function's logs, which are JSON lines only.
warnings.filterwarnings("ignore", message="No application metrics to publish")


class PowertoolsMetrics:
    """The Metrics port on Powertools: EMF lines on stdout, which Lambda ships to CloudWatch
    Logs and CloudWatch turns into metrics. Safe to share between threads (the forwarder's)."""

    def __init__(self, emf: Metrics = metrics, service: str | None = None) -> None:
        self._emf = emf
        self._service = service or os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
        self._lock = threading.Lock()

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        """Add `value` to `name`; with dimensions, written as its own EMF line now."""
        self._record(name, MetricUnit.Count, value, dimensions)

    def timing_ms(self, name: str, ms: float, **dimensions: str) -> None:
        """One duration of `name`; with dimensions, written as its own EMF line now."""
        self._record(name, MetricUnit.Milliseconds, ms, dimensions)

    def _record(
        self, name: str, unit: MetricUnit, value: float, dimensions: dict[str, str]
    ) -> None:
        if not dimensions:
            # Shared with the handler's flush; Powertools' metric set is a plain dict.
            with self._lock:
                self._emf.add_metric(name=name, unit=unit, value=value)
            return
        line = EphemeralMetrics(namespace=NAMESPACE)
        every = {"service": self._service, **self._emf.default_dimensions, **dimensions}
        for key, dimension in every.items():
            line.add_dimension(name=key, value=dimension)
        line.add_metric(name=name, unit=unit, value=value)
        sys.stdout.write(json.dumps(line.serialize_metric_set(), separators=(",", ":")) + "\n")
        sys.stdout.flush()  # in order with the log lines, which the logging handler flushes


class CloudWatchMetrics:
    """The Metrics port over CloudWatch's PutMetricData, one call per data point: for a
    process outside Lambda (the operator CLI), whose EMF lines would reach no CloudWatch.
    A metric CloudWatch refuses (no permission, throttled) is logged, never raised: the
    command it counts has already done its work."""

    def __init__(self, client: Any, service: str, stage: str) -> None:
        self._client = client
        self._dimensions = {"service": service, "stage": stage}

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        """Put one count of `name`."""
        self._put(name, "Count", value, dimensions)

    def timing_ms(self, name: str, ms: float, **dimensions: str) -> None:
        """Put one duration of `name`."""
        self._put(name, "Milliseconds", ms, dimensions)

    def _put(self, name: str, unit: str, value: float, dimensions: dict[str, str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        every = {**self._dimensions, **dimensions}
        try:
            self._client.put_metric_data(
                Namespace=NAMESPACE,
                MetricData=[
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in every.items()],
                        "Value": value,
                        "Unit": unit,
                    }
                ],
            )
        except (BotoCoreError, ClientError):
            logger.warning("metric not recorded", extra={"metric": name}, exc_info=True)
