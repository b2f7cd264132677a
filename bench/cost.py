"""Cost per million payments, itemised, from the measured request counts, capacity units,
warm durations and log bytes, at the prices of `bench.prices`.

Assumptions (each one a constant here, printed with the result):
* one payment = POST (merchant API), one status read (GET), one bank callback (REST API,
  private), the forwarder's share of a full batch of 10 (SQS event source: one
  ReceiveMessage and one DeleteMessageBatch per batch);
* the authorizer's answer is cached by API Gateway for 300 s per key, so it runs on a small
  share of requests (`AUTHORIZER_RUNS_PER_PAYMENT`);
* Lambda bills each invocation's duration rounded up to 1 ms at the function's memory size
  (serverless.yml); durations are the warm medians measured locally (submit's with an
  Idempotency-Key), the forwarder's is the batch of 10 with the bank answering in 50 ms;
* X-Ray: the REST APIs sample by the resources service's sampling rule (its fixed rate
  and per-second reservoir, read from the template), the SQS-triggered forwarder by
  Lambda's fixed default (1 request a second, then 5%); a reservoir takes the first
  request(s) of each second, counted at MONTHLY_PAYMENTS with requests spread evenly
  (Poisson);
* Lambda's platform log lines (START, END, REPORT) add about 300 bytes per invocation.
"""

from __future__ import annotations

import math
from typing import Any

from bench import prices
from bench.warm import SUBMIT_WITH_KEY

PAYMENTS = 1_000_000
# Volume at which calls made once per container and cache window (secrets, data keys) are
# spread over payments; one warm container per function (more containers: more calls).
MONTHLY_PAYMENTS = 1_000_000
FORWARD_BATCH = 10
AUTHORIZER_RUNS_PER_PAYMENT = 0.1
# Lambda's own X-Ray sampling (not configurable): 1 request a second, then 5%.
LAMBDA_XRAY_RESERVOIR = 1
LAMBDA_XRAY_RATE = 0.05
SECONDS_A_MONTH = 30 * 86400
PLATFORM_LOG_BYTES = 300
TARGET_USD = 15.0


def api_sampling_rule() -> tuple[float, int]:
    """(fixed rate, reservoir per second) of the sampling rule of the REST APIs, from the
    resources template."""
    from bench.common import resources_template

    for resource in resources_template().values():
        if resource["Type"] == "AWS::XRay::SamplingRule":
            rule = resource["Properties"]["SamplingRule"]
            return float(rule["FixedRate"]), int(rule["ReservoirSize"])
    return 0.05, 1  # X-Ray's default rule


def _secret_count() -> int:
    from bench.common import resources_template

    kinds = [r["Type"] for r in resources_template().values()]
    return kinds.count("AWS::SecretsManager::Secret")


def traces_per_payment(requests_per_payment: float, rate: float, reservoir: int) -> float:
    """Traces X-Ray records per payment: in each second the first `reservoir` requests,
    then `rate` of the rest, at MONTHLY_PAYMENTS spread evenly over the month (Poisson)."""
    mean = requests_per_payment * MONTHLY_PAYMENTS / SECONDS_A_MONTH  # requests a second
    # E[min(N, reservoir)] for N ~ Poisson(mean).
    pmf, below, in_reservoir = math.exp(-mean), 0.0, 0.0
    for n in range(reservoir):
        in_reservoir += n * pmf
        below += pmf
        pmf *= mean / (n + 1)
    in_reservoir += reservoir * (1.0 - below)
    per_second = in_reservoir + rate * (mean - in_reservoir)
    return per_second * SECONDS_A_MONTH / MONTHLY_PAYMENTS


def cache_window_s() -> float:
    """The shortest cache lifetime of the secrets and data keys (seconds)."""
    from shared_kernel import settings
    from shared_kernel.adapters import kms

    ttl = settings.Settings.from_env({"PAYMENTS_TABLE": "-", "MERCHANTS_TABLE": "-"}).secrets_ttl_s
    return min(ttl, float(getattr(kms, "MAX_KEY_AGE_S", ttl)))


def amortised_kms_and_secrets(measured: dict[str, Any]) -> dict[str, Any]:
    """KMS and Secrets Manager calls per payment in steady state: the warm per-payment
    calls, plus the calls each function makes once per cache window (its first
    invocation's), spread over the payments of one window at MONTHLY_PAYMENTS."""
    window = cache_window_s()
    per_window = MONTHLY_PAYMENTS * window / (30 * 86400)
    once: dict[str, float] = {}
    for source in (
        measured["cold_lifecycle"]["per_payment"],
        measured["cold_authorizer"]["per_invocation"],
    ):
        for op, n in source.items():
            if op.startswith(("kms:", "secretsmanager:")):
                once[op] = once.get(op, 0.0) + n
    warm = {
        op: n
        for op, n in measured["lifecycle"]["per_payment"].items()
        if op.startswith(("kms:", "secretsmanager:"))
    }
    kms_calls = (
        sum(n for op, n in warm.items() if op.startswith("kms:"))
        + sum(n for op, n in once.items() if op.startswith("kms:")) / per_window
    )
    secrets_calls = (
        sum(n for op, n in warm.items() if op.startswith("secretsmanager:"))
        + sum(n for op, n in once.items() if op.startswith("secretsmanager:")) / per_window
    )
    return {
        "cache_window_s": window,
        "monthly_payments": MONTHLY_PAYMENTS,
        "payments_per_window": per_window,
        "once_per_window": once,
        "warm_per_payment": warm,
        "kms_per_payment": kms_calls,
        "secrets_per_payment": secrets_calls,
        "per_payment": kms_calls + secrets_calls,
        "target": 0.05,
        "met": kms_calls + secrets_calls <= 0.05,
    }


def per_million(measured: dict[str, Any], memory_mb: dict[str, int]) -> dict[str, Any]:
    """The itemised cost of a million payments; `measured` is the warm child's results."""
    lifecycle = measured["lifecycle"]
    per_payment: dict[str, float] = lifecycle["per_payment"]
    amortised = amortised_kms_and_secrets(measured)
    capacity: dict[str, float] = lifecycle["capacity_per_payment"]
    warm = measured["warm"]
    batch = measured["forward_batch"]
    authorizer = measured["authorizer_calls"]["per_invocation"]

    def ops(service: str) -> float:
        return sum(n for op, n in per_payment.items() if op.startswith(service + ":"))

    invocations = {
        "submit_payment": 1.0,
        "get_payment": 1.0,
        "payment_updates": 1.0,
        "forward": 1.0 / FORWARD_BATCH,
        "authorizer": AUTHORIZER_RUNS_PER_PAYMENT,
    }
    durations_ms = {
        # With an Idempotency-Key, as in the lifecycle whose requests are counted above.
        "submit_payment": warm.get(SUBMIT_WITH_KEY, warm["submit_payment"])["median_ms"],
        "get_payment": warm["get_payment"]["median_ms"],
        "payment_updates": warm["payment_updates"]["median_ms"],
        "forward": batch["batch_of_10_median_ms"],
        "authorizer": warm["authorizer"]["median_ms"],
    }
    gb_seconds = sum(
        invocations[name] * math.ceil(durations_ms[name]) / 1000 * memory_mb[name] / 1024
        for name in invocations
    )
    api_requests = 3.0
    sqs_requests = ops("sqs") + 2.0 / FORWARD_BATCH
    authorizer_reads = AUTHORIZER_RUNS_PER_PAYMENT * sum(
        n for op, n in authorizer.items() if op.startswith("dynamodb:")
    )
    rru = capacity["rru"] + authorizer_reads
    wru = capacity["wru"]
    gsi_wru = capacity["gsi_wru"]
    log_bytes = sum(lifecycle["log_bytes_per_step"].values()) + PLATFORM_LOG_BYTES * sum(
        invocations.values()
    )
    api_rate, api_reservoir = api_sampling_rule()
    secrets = _secret_count()
    traces = traces_per_payment(api_requests, api_rate, api_reservoir) + traces_per_payment(
        invocations["forward"], LAMBDA_XRAY_RATE, LAMBDA_XRAY_RESERVOIR
    )
    items = {
        "API Gateway REST requests": (api_requests, prices.APIGW_REST_PER_REQUEST),
        "Lambda requests": (sum(invocations.values()), prices.LAMBDA_PER_REQUEST),
        "Lambda GB-seconds": (gb_seconds, prices.LAMBDA_PER_GB_SECOND),
        "DynamoDB write request units (table)": (wru, prices.DYNAMODB_PER_WRU),
        "DynamoDB write request units (GSI)": (gsi_wru, prices.DYNAMODB_PER_WRU),
        "DynamoDB read request units": (rru, prices.DYNAMODB_PER_RRU),
        "SQS requests": (sqs_requests, prices.SQS_PER_REQUEST),
        "KMS requests": (amortised["kms_per_payment"], prices.KMS_PER_REQUEST),
        "Secrets Manager API calls": (amortised["secrets_per_payment"], prices.SECRETS_PER_CALL),
        "CloudWatch Logs GB ingested": (log_bytes / 1e9, prices.LOGS_PER_GB_INGESTED),
        "X-Ray traces recorded": (traces, prices.XRAY_PER_TRACE),
    }
    lines = [
        {
            "item": name,
            "units_per_payment": units,
            "unit_price_usd": price,
            "usd_per_million": units * price * PAYMENTS,
        }
        for name, (units, price) in items.items()
    ]
    total = sum(line["usd_per_million"] for line in lines)
    return {
        "region": prices.REGION,
        "prices_taken_on": prices.TAKEN_ON,
        "lines": lines,
        "total_usd_per_million": total,
        "target_usd": TARGET_USD,
        "met": total <= TARGET_USD,
        "kms_and_secrets": amortised,
        "assumptions": {
            "forward_batch": FORWARD_BATCH,
            "authorizer_runs_per_payment": AUTHORIZER_RUNS_PER_PAYMENT,
            "xray_api_rule": {"fixed_rate": api_rate, "reservoir_per_s": api_reservoir},
            "xray_lambda_default": {
                "fixed_rate": LAMBDA_XRAY_RATE,
                "reservoir_per_s": LAMBDA_XRAY_RESERVOIR,
            },
            "platform_log_bytes_per_invocation": PLATFORM_LOG_BYTES,
        },
        "fixed_monthly_usd": {
            "KMS key": prices.KMS_PER_KEY_MONTH,
            f"Secrets Manager secrets ({secrets})": secrets * prices.SECRETS_PER_SECRET_MONTH,
            "reconciler (every minute, 1 Query)": 43_200
            * (
                prices.LAMBDA_PER_REQUEST
                + math.ceil(warm["reconcile"]["median_ms"])
                / 1000
                * memory_mb["reconcile"]
                / 1024
                * prices.LAMBDA_PER_GB_SECOND
                + prices.DYNAMODB_PER_RRU / 2
            ),
        },
        "what_if": {
            "merchant API on an HTTP API (POST + GET)": 2
            * (prices.APIGW_HTTP_PER_REQUEST - prices.APIGW_REST_PER_REQUEST)
            * PAYMENTS,
            "one KMS request per payment (no data-key cache)": (1.0 - ops("kms"))
            * prices.KMS_PER_REQUEST
            * PAYMENTS,
        },
    }
