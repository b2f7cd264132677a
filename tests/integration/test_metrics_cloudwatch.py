"""The operator's metrics (CloudWatchMetrics, PutMetricData) against moto server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from botocore.session import get_session

from shared_kernel.bootstrap import build_gateway
from shared_kernel.observability.metrics import NAMESPACE, CloudWatchMetrics
from shared_kernel.settings import Settings

from .conftest import REGION, ClientFactory, unique

pytestmark = pytest.mark.integration


def test_an_operator_count_is_put_with_service_and_stage(
    aws_endpoint: str, aws_client: ClientFactory
) -> None:
    """The gateway's operator metrics put one data point of 3 in PaymentGateway, with the
    dimensions service=operator and the stage (what `dlq redrive` records)."""
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
    gateway.operator_metrics.count("DlqMessagesRedriven", 3)

    cloudwatch = aws_client("cloudwatch")
    listed = cloudwatch.list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "stage", "Value": stage}]
    )["Metrics"]
    assert [("DlqMessagesRedriven", {"service": "operator", "stage": stage})] == [
        (m["MetricName"], {d["Name"]: d["Value"] for d in m["Dimensions"]}) for m in listed
    ]
    query = {
        "Id": "redriven",
        "MetricStat": {
            "Metric": {
                "Namespace": NAMESPACE,
                "MetricName": "DlqMessagesRedriven",
                "Dimensions": listed[0]["Dimensions"],
            },
            "Period": 60,
            "Stat": "Sum",
        },
    }
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[query],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
    )["MetricDataResults"]
    assert [[3.0]] == [r["Values"] for r in data]


def test_a_metric_cloudwatch_cannot_take_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With CloudWatch unreachable the count returns normally and a warning names it."""
    client = get_session().create_client(
        "cloudwatch",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    metrics = CloudWatchMetrics(client, "operator", "local")
    with caplog.at_level(logging.WARNING):
        metrics.count("DlqMessagesRedriven", 1)
    assert [("metric not recorded", "DlqMessagesRedriven")] == [
        (r.getMessage(), getattr(r, "metric", None)) for r in caplog.records
    ]
