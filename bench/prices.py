"""Public on-demand list prices for EU (Ireland), eu-west-1 — the region every stage deploys
to (`provider.region` of each service) — in US dollars.

First paid tier of each price, no free tier, no savings plans, x86_64 Lambda. The figures
are the eu-west-1 column of the AWS pricing pages named in SOURCES as they stood on
PRICE_LIST_DATE; they were written down from those pages, not fetched by the bench, so
re-check them on the pages before quoting a figure. This is the one file to change.
"""

from __future__ import annotations

REGION = "eu-west-1"
PRICE_LIST_DATE = "2026-12-01"
SOURCES = {
    "apigateway": "https://aws.amazon.com/api-gateway/pricing/",
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "sqs": "https://aws.amazon.com/sqs/pricing/",
    "kms": "https://aws.amazon.com/kms/pricing/",
    "secretsmanager": "https://aws.amazon.com/secrets-manager/pricing/",
    "cloudwatch": "https://aws.amazon.com/cloudwatch/pricing/",
    "xray": "https://aws.amazon.com/xray/pricing/",
    "privatelink": "https://aws.amazon.com/privatelink/pricing/",
    "eventbridge": "https://aws.amazon.com/eventbridge/pricing/",
}

# API Gateway REST APIs (edge-optimised, regional and private alike), per request, first
# 333 million a month.
APIGW_REST_PER_REQUEST = 3.50 / 1e6
# Lambda: $0.20 per million requests; x86_64 duration $0.0000166667 per GB-second.
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000166667
# DynamoDB on-demand, Standard table class, Ireland: half the list price before the
# 2024-11-01 reduction ($1.4135 per million write request units, $0.283 per million read).
DYNAMODB_PER_WRU = 1.4135 / 2 / 1e6
DYNAMODB_PER_RRU = 0.283 / 2 / 1e6
# SQS standard queues: $0.40 per million requests (each 64 KB chunk is one request).
SQS_PER_REQUEST = 0.40 / 1e6
# KMS: $0.03 per 10,000 requests (symmetric keys); $1 per key-month (each of the first two
# automatic rotations adds $1 a month: $2 in the second year, $3 from the third).
KMS_PER_REQUEST = 0.03 / 10_000
KMS_PER_KEY_MONTH = 1.00
# Secrets Manager: $0.05 per 10,000 API calls; $0.40 per secret-month.
SECRETS_PER_CALL = 0.05 / 10_000
SECRETS_PER_SECRET_MONTH = 0.40
# CloudWatch Logs, Ireland: $0.57 per GB ingested (standard log class).
LOGS_PER_GB_INGESTED = 0.57
# CloudWatch: $0.10 per standard-resolution alarm metric a month; $0.30 per custom metric
# a month (first 10,000).
ALARM_PER_MONTH = 0.10
CUSTOM_METRIC_PER_MONTH = 0.30
# X-Ray: $5.00 per million traces recorded.
XRAY_PER_TRACE = 5.00 / 1e6
# PrivateLink interface endpoint, Ireland: $0.011 per endpoint per Availability Zone-hour,
# $0.01 per GB processed (first PB).
VPC_ENDPOINT_PER_AZ_HOUR = 0.011
VPC_ENDPOINT_PER_GB = 0.01
# EventBridge charges for published custom, partner and cross-account events, not for a
# rule's scheduled triggers: priced at 0 (were it $1 per million, the reconciler's 43,200
# runs a month would add $0.04). The schedule costs its Lambda runs.
SCHEDULED_RULE_PER_INVOCATION = 0.0
