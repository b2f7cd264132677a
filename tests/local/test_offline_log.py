"""The split of a function service's log into serverless-offline's lines and the Lambdas'
records (local/offline_log.py): what the security battery's "every line is JSON" rests on."""

from __future__ import annotations

import json

import pytest

from local.offline_log import split_lines

pytestmark = pytest.mark.local

RECORD = json.dumps(
    {
        "level": "INFO",
        "location": "submit:49",
        "message": "payment accepted",
        "timestamp": "2026-12-01 19:37:45,256+0000",
        "service": "merchant-api",
        "correlation_id": "c-1",
    }
)
# Lines serverless-offline 13.9 wrote in a real run of the merchant API.
OFFLINE_LINES = [
    "Using serverless-localstack",
    "serverless-localstack: Reconfigured endpoints",
    "Starting Offline at stage local (eu-west-1)",
    "Offline [http for lambda] listening on http://127.0.0.1:47703",
    "Function names exposed for local invocation by aws-sdk:",
    "   * submitPayment: merchant-api-local-submitPayment",
    "Configuring Authorization: /merchant/{merchant_id}/payments authorizer",
    "┌──────────────────────────────────────────────────────────────────────────────┐",
    "│   POST | http://127.0.0.1:36347/merchant/{merchant_id}/payments              │",
    "└──────────────────────────────────────────────────────────────────────────────┘",
    "Server ready: http://127.0.0.1:36347 🚀",
    "Scheduling [reconcile] cron: [*/1 * * * *]",
    "Running Authorization function for post /merchant/265d/payments (λ: authorizer)",
    "\u00d7 Identity Source is null for header authorization (λ: authorizer)",
    "Authorization function returned a successful response: (λ: authorizer)",
    "POST /merchant/265d3736/payments (λ: submitPayment)",
    "(λ: submitPayment) RequestId: 257366f8-cd0f  Duration: 338.93 ms  Billed Duration: 339 ms",
]


def test_offline_lines_and_records_are_told_apart() -> None:
    """serverless-offline's lines are its own, a JSON record is a Lambda's, blanks are nothing."""
    split = split_lines([*OFFLINE_LINES, "", RECORD, "   "])

    assert (OFFLINE_LINES, [json.loads(RECORD)], []) == (
        split.offline,
        split.records,
        split.unstructured,
    )


@pytest.mark.parametrize(
    "line",
    [
        "payment accepted for merchant 265d",  # a print()
        "{not json at all",  # starts like JSON, is not
        '{"level": "INFO", "message": "no timestamp nor service"}',  # JSON, not our record
        "Traceback (most recent call last):",
        '  File "/var/task/handlers/submit_payment.py", line 3, in handler',
        "POST /merchant/x/payments (λ: submitPayment) and then some",  # near an offline format
        "[1, 2, 3]",
    ],
)
def test_a_lambda_line_that_is_not_a_structured_record_is_reported(line: str) -> None:
    """Plain text, broken JSON, a traceback or a record missing fields is unstructured."""
    split = split_lines([*OFFLINE_LINES, RECORD, line])

    assert ([line], 1) == (split.unstructured, len(split.records))


EMF_LINE = json.dumps(
    {
        "_aws": {
            "Timestamp": 1796158507350,
            "CloudWatchMetrics": [
                {
                    "Namespace": "PaymentGateway",
                    "Dimensions": [["stage", "service"]],
                    "Metrics": [{"Name": "PaymentsAccepted", "Unit": "Count"}],
                }
            ],
        },
        "stage": "local",
        "service": "merchant-api",
        "PaymentsAccepted": [1.0],
    }
)


def test_emf_metric_lines_are_metrics_and_other_json_is_not_structured() -> None:
    """A Powertools EMF line is a metrics record; a JSON line that is neither a log record
    nor names CloudWatch metrics stays unstructured (the battery fails on it)."""
    stray = json.dumps({"_aws": {"Timestamp": 1}, "PaymentsAccepted": [1.0]})

    split = split_lines([RECORD, EMF_LINE, stray])

    assert [json.loads(RECORD)] == split.records
    assert [json.loads(EMF_LINE)] == split.metrics
    assert [stray] == split.unstructured
