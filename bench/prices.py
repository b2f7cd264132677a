"""Public on-demand list prices, US East (N. Virginia, us-east-1), in US dollars.

Taken on 2026-11-26 from the AWS pricing pages named beside each price (first paid tier,
no free tier, no savings plans). eu-west-1 is within a few percent for every item below
except DynamoDB (about 13% higher) and KMS/Secrets Manager/SQS/API Gateway (the same).
Re-check them on the pages before quoting them: this is the one file to change.
"""

from __future__ import annotations

REGION = "us-east-1"
TAKEN_ON = "2026-11-26"
SOURCES = {
    "apigateway": "https://aws.amazon.com/api-gateway/pricing/",
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "sqs": "https://aws.amazon.com/sqs/pricing/",
    "kms": "https://aws.amazon.com/kms/pricing/",
    "secretsmanager": "https://aws.amazon.com/secrets-manager/pricing/",
    "cloudwatch": "https://aws.amazon.com/cloudwatch/pricing/",
    "xray": "https://aws.amazon.com/xray/pricing/",
}

# API Gateway REST APIs, per request (first 333 million a month: $3.50 per million).
APIGW_REST_PER_REQUEST = 3.50 / 1e6
# API Gateway HTTP APIs, per request (first 300 million a month), for comparison only.
APIGW_HTTP_PER_REQUEST = 1.00 / 1e6
# Lambda: $0.20 per million requests; x86_64 duration $0.0000166667 per GB-second.
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000166667
# DynamoDB on-demand, Standard table class: $0.625 per million write request units,
# $0.125 per million read request units (prices since 2024-11-01).
DYNAMODB_PER_WRU = 0.625 / 1e6
DYNAMODB_PER_RRU = 0.125 / 1e6
# SQS standard queues: $0.40 per million requests (each 64 KB chunk is one request).
SQS_PER_REQUEST = 0.40 / 1e6
# KMS: $0.03 per 10,000 requests (symmetric keys); $1 per key-month.
KMS_PER_REQUEST = 0.03 / 10_000
KMS_PER_KEY_MONTH = 1.00
# Secrets Manager: $0.05 per 10,000 API calls; $0.40 per secret-month.
SECRETS_PER_CALL = 0.05 / 10_000
SECRETS_PER_SECRET_MONTH = 0.40
# CloudWatch Logs: $0.50 per GB ingested (standard log class).
LOGS_PER_GB_INGESTED = 0.50
# X-Ray: $5.00 per million traces recorded.
XRAY_PER_TRACE = 5.00 / 1e6
