"""The operator's metrics (CloudWatchMetrics, PutMetricData) against moto server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared_kernel.bootstrap import build_gateway
from shared_kernel.observability.metrics import DLQ_REDRIVEN, NAMESPACE, record_dlq_redrive
from shared_kernel.settings import Settings

from .conftest import REGION, ClientFactory, unique

pytestmark = pytest.mark.integration


def test_a_dlq_redrive_puts_its_count_with_service_and_stage(
    aws_endpoint: str, aws_client: ClientFactory
) -> None:
    """`record_dlq_redrive` through the gateway's operator metrics: one data point of 3
    messages in PaymentGateway, dimensions service=operator and the stage."""
    stage = unique("stage")
    gateway = build_gateway(
        Settings.from_env(
            {
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": aws_endpoint,
                "STAGE": stage,
                "PAYMENTS_TABLE": "unused",
                "MERCHANTS_TABLE": "unused",
            }
        )
    )
    now = datetime.now(UTC)
    record_dlq_redrive(gateway.operator_metrics, 3)

    listed = aws_client("cloudwatch").list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "stage", "Value": stage}]
    )["Metrics"]
    assert [
        (DLQ_REDRIVEN, {"service": "operator", "stage": stage}),
    ] == [(m["MetricName"], {d["Name"]: d["Value"] for d in m["Dimensions"]}) for m in listed]
    data = aws_client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "redriven",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": DLQ_REDRIVEN,
                        "Dimensions": listed[0]["Dimensions"],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
    )["MetricDataResults"]
    assert [[3.0]] == [r["Values"] for r in data]
