"""Monthly cost at 1 M and 10 M payments a month, itemised, from a stated traffic model
(`bench.traffic`), the templates, and the figures the warm child measured (requests,
capacity units, durations, log bytes), at the eu-west-1 prices of `bench.prices`.

What comes from where:
* the templates: the forwarder's SQS event source (batchSize, maximumBatchingWindow), the
  authorizer's resultTtlInSeconds, the X-Ray sampling rule of the REST APIs, each
  function's memorySize, the region, the secrets, KMS keys, alarms and schedules;
* the traffic model: arrivals (Poisson per hour of a daily profile), the merchant mix
  (Zipf over MERCHANTS merchants, one API key each), from which the expected batch size,
  the authorizer's cache misses, the traces recorded and the warm containers follow;
* the bench's measurements: requests and DynamoDB units per lifecycle step, warm median
  durations (billed rounded up to 1 ms; the forwarder's interpolated between one message and
  a batch of 10 with the bank answering in 50 ms), log bytes per step, and the calls each
  function makes on its first invocation (repeated once per cache window per container).

Not counted: data transfer out, DynamoDB storage and backups, log storage, the free tiers.
The earlier implementation of this design is priced with the same model for comparison.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import prices
from bench.traffic import (
    Traffic,
    authorizer_runs_per_s,
    expected_batch_size,
    traces_per_s,
    warm_containers,
)
from bench.warm import SUBMIT_WITH_KEY

VOLUMES = (1_000_000, 10_000_000)
MERCHANTS = 200
ZIPF_EXPONENT = 1.0
# API requests of one payment: the POST and one status read (merchant API, authorised),
# and the bank's callback (private API).
MERCHANT_API_REQUESTS = 2
CALLBACK_REQUESTS = 1
# Lambda's own X-Ray sampling for functions it invokes itself (SQS, schedule); not
# configurable: 1 request a second, then 5%.
LAMBDA_XRAY_RATE = 0.05
LAMBDA_XRAY_RESERVOIR = 1
# Lambda's START/END/REPORT lines (and the X-Ray trace id line) per invocation.
PLATFORM_LOG_BYTES = 300
# The SQS event source long-polls with several pollers (5 at least) even when the queue
# is empty: one ReceiveMessage per poller per 20 s wait.
SQS_POLLERS = 5
SQS_LONG_POLL_S = 20
# The private API's interface endpoint, in the bank connection's VPC; the template takes
# its id as a param, so its AZs are a model input.
VPC_ENDPOINT_AZS = 2
# The bank's signed callback and its answer, through the endpoint.
CALLBACK_BYTES = 1_500
TARGET_USD_PER_MILLION = 15.0
KMS_AND_SECRETS_TARGET = 0.05
ROOT = Path(__file__).resolve().parent.parent
FUNCTION_STEPS = {
    "submit_payment": "submit",
    "forward": "forward",
    "payment_updates": "callback",
    "get_payment": "status read",
}


@dataclass(frozen=True)
class Template:
    """What the templates fix that the cost depends on."""

    region: str
    batch_size: int
    batching_window_s: float
    authorizer_ttl_s: float
    api_xray_rate: float
    api_xray_reservoir: int
    secrets: int
    kms_keys: int
    alarms: int
    custom_metrics: int
    schedule_runs_a_month: dict[str, float]


def template_default(value: Any) -> str:
    """A template value, or the default of a `${opt:x, 'default'}` / `${env:X, 'd'}`."""
    text = str(value)
    found = re.fullmatch(r"\$\{[^,]+,\s*'?([^'}]*)'?\s*\}", text)
    return found.group(1) if found else text


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def runs_a_month(expression: str) -> float:
    found = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if not found:
        raise ValueError(f"schedule {expression!r}: only rate(...) is modelled")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[found.group(2).rstrip("s")]
    return 30 * 86400 / (int(found.group(1)) * unit)


def template_inputs() -> Template:
    """Read the template values the model needs; fail if one cannot be found."""
    from bench.common import resources_template
    from local.cloudformation import load_yaml

    services = {p.parent.name: load_yaml(p) for p in ROOT.glob("services/*/serverless.yml")}
    regions = {template_default(doc["provider"]["region"]) for doc in services.values()}
    if regions != {prices.REGION}:
        raise ValueError(f"stages deploy to {regions}; prices are for {prices.REGION}")
    sqs = [
        event["sqs"]
        for event in services["bank-forwarder"]["functions"]["forward"]["events"]
        if "sqs" in event
    ]
    ttls = {
        float(template_default(node.get("resultTtlInSeconds", 300)))
        for node in _walk(services["merchant-api"]["functions"])
        if node.get("type") == "token"
    }
    if len(sqs) != 1 or len(ttls) != 1:
        raise ValueError(f"expected one SQS event source and one TTL, got {sqs}, {ttls}")
    resources = resources_template()
    (rule,) = [
        r["Properties"]["SamplingRule"]
        for r in resources.values()
        if r["Type"] == "AWS::XRay::SamplingRule"
    ]
    kinds = [r["Type"] for r in resources.values()]
    alarms = [
        node
        for doc in services.values()
        for node in _walk(doc)
        if node.get("Type") == "AWS::CloudWatch::Alarm"
    ]
    custom = {
        (str(a["Properties"].get("Namespace")), str(a["Properties"].get("MetricName")))
        for a in alarms
        if not str(a["Properties"].get("Namespace", "AWS/")).startswith("AWS/")
    }
    schedules = {
        name: runs_a_month(str(event["schedule"]))
        for doc in services.values()
        for name, function in (doc.get("functions") or {}).items()
        for event in function.get("events") or []
        if isinstance(event, dict) and "schedule" in event
    }
    return Template(
        region=prices.REGION,
        batch_size=int(sqs[0].get("batchSize", 10)),
        batching_window_s=float(sqs[0].get("maximumBatchingWindow", 0)),
        authorizer_ttl_s=ttls.pop(),
        api_xray_rate=float(rule["FixedRate"]),
        api_xray_reservoir=int(rule["ReservoirSize"]),
        secrets=kinds.count("AWS::SecretsManager::Secret"),
        kms_keys=kinds.count("AWS::KMS::Key"),
        alarms=len(alarms),
        custom_metrics=len(custom),
        schedule_runs_a_month=schedules,
    )


def cache_window_s() -> float:
    """The shortest cache lifetime of the secrets and data keys (seconds)."""
    from shared_kernel import settings
    from shared_kernel.adapters import kms

    ttl = settings.Settings.from_env({"PAYMENTS_TABLE": "-", "MERCHANTS_TABLE": "-"}).secrets_ttl_s
    return min(ttl, float(getattr(kms, "MAX_KEY_AGE_S", ttl)))


PRICES = {
    "API Gateway REST requests": prices.APIGW_REST_PER_REQUEST,
    "Lambda requests": prices.LAMBDA_PER_REQUEST,
    "Lambda GB-seconds": prices.LAMBDA_PER_GB_SECOND,
    "DynamoDB write request units (table)": prices.DYNAMODB_PER_WRU,
    "DynamoDB write request units (GSI)": prices.DYNAMODB_PER_WRU,
    "DynamoDB read request units": prices.DYNAMODB_PER_RRU,
    "SQS requests": prices.SQS_PER_REQUEST,
    "KMS requests": prices.KMS_PER_REQUEST,
    "Secrets Manager API calls": prices.SECRETS_PER_CALL,
    "CloudWatch Logs GB ingested": prices.LOGS_PER_GB_INGESTED,
    "X-Ray traces recorded": prices.XRAY_PER_TRACE,
    "VPC endpoint GB processed": prices.VPC_ENDPOINT_PER_GB,
}


def gb_seconds(duration_ms: float, memory_mb: int) -> float:
    """Billed GB-seconds of one invocation (duration rounded up to 1 ms)."""
    return math.ceil(duration_ms) / 1000 * memory_mb / 1024


def forward_ms(batch: float, one_ms: float, ten_ms: float) -> float:
    """The forwarder's duration for `batch` messages, linear between the measured one
    message and batch of 10."""
    return one_ms + (ten_ms - one_ms) * (batch - 1) / 9


class Model:
    """The traffic model applied to one monthly volume and the measured figures."""

    def __init__(
        self, measured: dict[str, Any], memory_mb: dict[str, int], payments: int, t: Template
    ) -> None:
        self.measured = measured
        self.memory = memory_mb
        self.template = t
        self.traffic = Traffic(payments, merchants=MERCHANTS, zipf_exponent=ZIPF_EXPONENT)
        self.seconds = self.traffic.seconds_an_hour_of_profile
        warm = measured["warm"]
        batch = measured["forward_batch"]
        self.one_ms = batch["one_message_median_ms"]
        self.ten_ms = batch["batch_of_10_median_ms"]
        self.duration_ms = {
            # With an Idempotency-Key, as in the lifecycle whose requests are counted.
            "submit_payment": warm.get(SUBMIT_WITH_KEY, warm["submit_payment"])["median_ms"],
            "get_payment": warm["get_payment"]["median_ms"],
            "payment_updates": warm["payment_updates"]["median_ms"],
            "authorizer": warm["authorizer"]["median_ms"],
        }
        rates = self.traffic.hourly_rates()
        self.rates = rates
        self.batches = [expected_batch_size(r, t.batching_window_s, t.batch_size) for r in rates]
        shares = self.traffic.key_shares()
        self.authorizer_rates = [
            authorizer_runs_per_s(MERCHANT_API_REQUESTS * r, shares, t.authorizer_ttl_s)
            for r in rates
        ]
        self.forward_rates = [r / b for r, b in zip(rates, self.batches, strict=True)]

    def function_rates(self, name: str) -> list[float]:
        """Invocations a second of a function, per hour of the profile."""
        if name == "authorizer":
            return self.authorizer_rates
        if name == "forward":
            return self.forward_rates
        return self.rates

    def function_ms(self, name: str, hour: int) -> float:
        """Duration of one invocation of a function in an hour of the profile."""
        if name == "forward":
            return forward_ms(self.batches[hour], self.one_ms, self.ten_ms)
        return float(self.duration_ms[name])

    def invocations(self) -> dict[str, float]:
        """Invocations a month per function."""
        names = [*FUNCTION_STEPS, "authorizer"]
        return {n: self.traffic.monthly(self.function_rates(n)) for n in names}

    def lambda_gb_seconds(self) -> float:
        """Billed GB-seconds a month."""
        total = 0.0
        for name in [*FUNCTION_STEPS, "authorizer"]:
            for hour, rate in enumerate(self.function_rates(name)):
                per_call = gb_seconds(self.function_ms(name, hour), self.memory[name])
                total += rate * self.seconds * per_call
        return total

    def once_per_window(self) -> dict[str, dict[str, float]]:
        """KMS and Secrets Manager calls of each function's first invocation."""
        cold = self.measured["cold_lifecycle"]["per_step"]
        calls = {f: dict(cold.get(step, {})) for f, step in FUNCTION_STEPS.items()}
        calls["authorizer"] = dict(self.measured["cold_authorizer"]["per_invocation"])
        return {
            f: {op: n for op, n in ops.items() if op.startswith(("kms:", "secretsmanager:"))}
            for f, ops in calls.items()
        }

    def containers(self, name: str, window: float) -> list[int]:
        """Warm containers of a function per hour of the profile."""
        return [
            warm_containers(rate, self.function_ms(name, hour) / 1000, window)
            for hour, rate in enumerate(self.function_rates(name))
        ]

    def kms_and_secrets(self) -> dict[str, float]:
        """KMS and Secrets Manager calls a month: the warm ones per payment, plus each
        container's first-invocation calls once per cache window in which it is invoked;
        a forwarder container decrypts the data key of every submit container."""
        window = cache_window_s()
        warm = self.measured["lifecycle"]["per_payment"]
        totals = {"kms": 0.0, "secretsmanager": 0.0}
        for op, n in warm.items():
            service = op.split(":", 1)[0]
            if service in totals:
                totals[service] += n * self.traffic.payments_a_month
        submit_containers = self.containers("submit_payment", window)
        for name, ops in self.once_per_window().items():
            rates = self.function_rates(name)
            containers = self.containers(name, window)
            for hour, rate in enumerate(rates):
                windows = self.seconds / window * (1 - math.exp(-rate * window))
                for op, n in ops.items():
                    times = n * containers[hour] * windows
                    if op == "kms:Decrypt":
                        times *= submit_containers[hour]
                    totals[op.split(":", 1)[0]] += times
        return totals

    def usage(self) -> dict[str, float]:
        """Units a month of each priced item."""
        life = self.measured["lifecycle"]
        payments = self.traffic.payments_a_month
        cap = life["capacity_per_payment"]
        per_payment = life["per_payment"]
        invocations = self.invocations()
        authorizer = self.measured["authorizer_calls"]
        authorizer_reads = sum(
            n for op, n in authorizer["per_invocation"].items() if op.startswith("dynamodb:")
        )
        sqs = sum(n for op, n in per_payment.items() if op.startswith("sqs:"))
        log_bytes = (
            sum(life["log_bytes_per_step"].values()) * payments
            + authorizer["log_bytes"] * invocations["authorizer"]
            + PLATFORM_LOG_BYTES * sum(invocations.values())
        )
        t = self.template
        api_rates = [(MERCHANT_API_REQUESTS + CALLBACK_REQUESTS) * r for r in self.rates]
        traces = self.traffic.monthly(
            [traces_per_s(r, t.api_xray_rate, t.api_xray_reservoir) for r in api_rates]
        ) + self.traffic.monthly(
            [traces_per_s(r, LAMBDA_XRAY_RATE, LAMBDA_XRAY_RESERVOIR) for r in self.forward_rates]
        )
        ks = self.kms_and_secrets()
        return {
            "API Gateway REST requests": (MERCHANT_API_REQUESTS + CALLBACK_REQUESTS) * payments,
            "Lambda requests": sum(invocations.values()),
            "Lambda GB-seconds": self.lambda_gb_seconds(),
            "DynamoDB write request units (table)": cap["wru"] * payments,
            "DynamoDB write request units (GSI)": cap["gsi_wru"] * payments,
            "DynamoDB read request units": cap["rru"] * payments
            + authorizer_reads * invocations["authorizer"],
            # SendMessage per payment; the event source's ReceiveMessage and
            # DeleteMessageBatch per batch.
            "SQS requests": sqs * payments + 2 * invocations["forward"],
            "KMS requests": ks["kms"],
            "Secrets Manager API calls": ks["secretsmanager"],
            "CloudWatch Logs GB ingested": log_bytes / 1e9,
            "X-Ray traces recorded": traces,
            "VPC endpoint GB processed": CALLBACK_BYTES * payments / 1e9,
        }

    def earlier_usage(self) -> dict[str, float]:
        """The earlier implementation under the same model: per payment 3 PutItems, 3
        (consistent) GetItems, GetQueueUrl + SendMessage per submit, a Secrets Manager read
        per forward, 4 Lambda invocations (submit, forward one message each, callback,
        status read) at this implementation's measured durations, the same three API
        requests. What the description does not name (KMS, logs per step, the GSI) is
        taken as this implementation's."""
        from bench.requests_count import read_units, write_units

        current = self.usage()
        payments = self.traffic.payments_a_month
        size = int(self.measured["lifecycle"]["item_bytes_after_submit"])
        gb_s = payments * sum(
            gb_seconds(ms, self.memory[name])
            for name, ms in {**self.duration_ms, "forward": self.one_ms}.items()
            if name != "authorizer"
        )
        life = self.measured["lifecycle"]
        log_bytes = (sum(life["log_bytes_per_step"].values()) + 4 * PLATFORM_LOG_BYTES) * payments
        api_rates = [(MERCHANT_API_REQUESTS + CALLBACK_REQUESTS) * r for r in self.rates]
        t = self.template
        traces = self.traffic.monthly(
            [traces_per_s(r, t.api_xray_rate, t.api_xray_reservoir) for r in api_rates]
        ) + self.traffic.monthly(
            [traces_per_s(r, LAMBDA_XRAY_RATE, LAMBDA_XRAY_RESERVOIR) for r in self.rates]
        )
        return {
            **current,
            "Lambda requests": 4.0 * payments,
            "Lambda GB-seconds": gb_s,
            "DynamoDB write request units (table)": 3.0 * write_units(size) * payments,
            "DynamoDB read request units": 3.0 * read_units(size, consistent=True) * payments,
            # GetQueueUrl + SendMessage, then ReceiveMessage + DeleteMessage per message.
            "SQS requests": 4.0 * payments,
            "Secrets Manager API calls": 1.0 * payments,
            "CloudWatch Logs GB ingested": log_bytes / 1e9,
            "X-Ray traces recorded": traces,
        }

    def fixed(self, emitted: list[str] | None = None) -> dict[str, float]:
        """Monthly costs that do not grow with payments; `emitted` names the custom metrics
        the handlers wrote in the bench run (EMF), each billed as a metric a month."""
        t = self.template
        custom = max(t.custom_metrics, len(emitted or []))
        hours = self.traffic.monthly([1.0] * len(self.rates)) / 3600
        scheduled: dict[str, float] = {}
        warm = self.measured["warm"]
        for name, runs in t.schedule_runs_a_month.items():
            ms = warm[name]["median_ms"]
            memory = self.memory[name]
            scheduled[f"schedule {name} ({runs:,.0f} runs: Lambda, 1 index Query, trace)"] = (
                runs
                * (
                    prices.LAMBDA_PER_REQUEST
                    + gb_seconds(ms, memory) * prices.LAMBDA_PER_GB_SECOND
                    + prices.DYNAMODB_PER_RRU / 2
                    + prices.XRAY_PER_TRACE  # alone in its second: Lambda's reservoir traces it
                    + PLATFORM_LOG_BYTES / 1e9 * prices.LOGS_PER_GB_INGESTED
                    + prices.SCHEDULED_RULE_PER_INVOCATION
                )
            )
        idle_polls = SQS_POLLERS * hours * 3600 / SQS_LONG_POLL_S
        return {
            f"KMS keys ({t.kms_keys})": t.kms_keys * prices.KMS_PER_KEY_MONTH,
            f"Secrets Manager secrets ({t.secrets})": t.secrets * prices.SECRETS_PER_SECRET_MONTH,
            f"VPC interface endpoint ({VPC_ENDPOINT_AZS} AZ x {hours:.0f} h)": VPC_ENDPOINT_AZS
            * hours
            * prices.VPC_ENDPOINT_PER_AZ_HOUR,
            **scheduled,
            f"CloudWatch alarms ({t.alarms})": t.alarms * prices.ALARM_PER_MONTH,
            f"custom metrics (EMF, {custom} seen in the bench run)": custom
            * prices.CUSTOM_METRIC_PER_MONTH,
            f"SQS event source idle polls ({SQS_POLLERS} pollers, {SQS_LONG_POLL_S} s)": idle_polls
            * prices.SQS_PER_REQUEST,
        }

    def inputs(self) -> dict[str, Any]:
        """What the model derived from the traffic, payment-weighted over the day."""
        payments = self.traffic.payments_a_month
        invocations = self.invocations()
        window = cache_window_s()
        return {
            "payments_a_month": payments,
            "mean_payments_per_s": self.traffic.mean_rate_per_s,
            "peak_payments_per_s": max(self.rates),
            "quietest_payments_per_s": min(self.rates),
            # Messages per forwarder invocation over the month (each hour's expectation,
            # weighted by that hour's invocations).
            "expected_batch_size": payments / invocations["forward"],
            "forwarder_invocations_per_payment": invocations["forward"] / payments,
            "authorizer_runs_per_authorised_request": invocations["authorizer"]
            / (MERCHANT_API_REQUESTS * payments),
            "xray_traces_per_payment": self.usage()["X-Ray traces recorded"] / payments,
            "peak_warm_containers": {
                name: max(self.containers(name, window)) for name in [*FUNCTION_STEPS, "authorizer"]
            },
        }


def _priced(units: dict[str, float], payments: int) -> tuple[list[dict[str, Any]], float]:
    lines: list[dict[str, Any]] = [
        {
            "item": item,
            "units_a_month": n,
            "units_per_payment": n / payments,
            "usd_a_month": n * PRICES[item],
        }
        for item, n in units.items()
    ]
    return lines, sum(line["usd_a_month"] for line in lines)


def monthly(measured: dict[str, Any], memory_mb: dict[str, int]) -> dict[str, Any]:
    """The cost at each of VOLUMES, with the model's inputs, and the earlier
    implementation's under the same model."""
    t = template_inputs()
    volumes = []
    for payments in VOLUMES:
        model = Model(measured, memory_mb, payments, t)
        lines, variable = _priced(model.usage(), payments)
        earlier_lines, earlier_variable = _priced(model.earlier_usage(), payments)
        fixed = model.fixed(measured.get("emf_metrics", []))
        fixed_usd = sum(fixed.values())
        total = variable + fixed_usd
        earlier_total = earlier_variable + fixed_usd
        units = model.usage()
        per_payment_ks = (units["KMS requests"] + units["Secrets Manager API calls"]) / payments
        volumes.append(
            {
                "model": model.inputs(),
                "lines": lines,
                "variable_usd": variable,
                "fixed_usd_a_month": fixed,
                "fixed_usd": fixed_usd,
                "total_usd": total,
                "usd_per_million_payments": total / payments * 1e6,
                "kms_and_secrets_per_payment": per_payment_ks,
                "kms_and_secrets_met": per_payment_ks <= KMS_AND_SECRETS_TARGET,
                "earlier": {
                    "lines": earlier_lines,
                    "variable_usd": earlier_variable,
                    "total_usd": earlier_total,
                    "usd_per_million_payments": earlier_total / payments * 1e6,
                },
                "earlier_over_current": earlier_total / total,
            }
        )
    return {
        "region": t.region,
        "price_list_date": prices.PRICE_LIST_DATE,
        "template": asdict(t),
        "traffic": {
            "arrivals": "Poisson within each hour; hourly rate = mean x profile weight",
            "daily_profile_weights": list(Traffic(1).hour_weights),
            "merchants": MERCHANTS,
            "merchant_sizes": f"Zipf, exponent {ZIPF_EXPONENT:g}, one API key each",
            "api_requests_per_payment": {
                "merchant API (POST, GET)": MERCHANT_API_REQUESTS,
                "bank callback (private)": CALLBACK_REQUESTS,
            },
            "xray_lambda_default": [LAMBDA_XRAY_RESERVOIR, LAMBDA_XRAY_RATE],
            "vpc_endpoint_azs": VPC_ENDPOINT_AZS,
            "cache_window_s": cache_window_s(),
            "bank_delay_ms": measured["forward_batch"]["bank_delay_ms"],
        },
        "volumes": volumes,
        "target_usd_per_million": TARGET_USD_PER_MILLION,
        "kms_and_secrets_target": KMS_AND_SECRETS_TARGET,
    }


def render(cost: dict[str, Any]) -> str:
    """The model's inputs and the itemised cost at each volume, side by side."""
    t = cost["template"]
    tr = cost["traffic"]
    vols = cost["volumes"]
    out = [
        f"cost model ({cost['region']}, prices of {cost['price_list_date']})",
        f"  arrivals: {tr['arrivals']}; profile weights (00-23 UTC) "
        + " ".join(f"{w:.2f}" for w in tr["daily_profile_weights"]),
        f"  merchants: {tr['merchants']}, {tr['merchant_sizes']}; authorizer TTL "
        f"{t['authorizer_ttl_s']:g} s (merchant-api template)",
        f"  SQS event source: batch size {t['batch_size']}, batching window "
        f"{t['batching_window_s']:g} s (bank-forwarder template); bank answers in "
        f"{tr['bank_delay_ms']:g} ms",
        f"  X-Ray: APIs rule {t['api_xray_rate']:g} + reservoir {t['api_xray_reservoir']}/s "
        f"(resources template); forwarder Lambda default {LAMBDA_XRAY_RESERVOIR}/s + "
        f"{LAMBDA_XRAY_RATE:g}",
        f"  secrets/data keys cached {tr['cache_window_s']:g} s per container; "
        f"VPC endpoint in {tr['vpc_endpoint_azs']} AZs",
    ]
    header = ["", *(f"{v['model']['payments_a_month'] / 1e6:g} M payments/month" for v in vols)]
    rows: list[list[str]] = [header]

    def model_row(label: str, fmt: str, key: str) -> None:
        rows.append([label, *(fmt.format(v["model"][key]) for v in vols)])

    model_row("payments/s: mean", "{:.2f}", "mean_payments_per_s")
    model_row("payments/s: peak hour", "{:.2f}", "peak_payments_per_s")
    model_row("messages per forwarder invocation", "{:.2f}", "expected_batch_size")
    model_row("forwarder invocations / payment", "{:.3f}", "forwarder_invocations_per_payment")
    model_row(
        "authorizer runs / authorised request", "{:.3f}", "authorizer_runs_per_authorised_request"
    )
    model_row("X-Ray traces / payment", "{:.4f}", "xray_traces_per_payment")
    rows.append(
        [
            "peak warm containers (submit/fwd/cb/get/auth)",
            *("/".join(str(n) for n in v["model"]["peak_warm_containers"].values()) for v in vols),
        ]
    )
    for index, line in enumerate(vols[0]["lines"]):
        cells = [v["lines"][index] for v in vols]
        rows.append(
            [
                f"{line['item']}",
                *(f"${c['usd_a_month']:,.2f} ({c['units_per_payment']:.4g}/pmt)" for c in cells),
            ]
        )
    rows.append(["variable, a month", *(f"${v['variable_usd']:,.2f}" for v in vols)])
    for item in vols[0]["fixed_usd_a_month"]:
        rows.append([f"fixed: {item}", *(f"${v['fixed_usd_a_month'][item]:,.2f}" for v in vols)])
    rows.append(["total, a month", *(f"${v['total_usd']:,.2f}" for v in vols)])
    rows.append(["per million payments", *(f"${v['usd_per_million_payments']:.2f}" for v in vols)])
    rows.append(
        [
            "earlier implementation, per million",
            *(
                f"${v['earlier']['usd_per_million_payments']:.2f} "
                f"({v['earlier_over_current']:.2f}x this one)"
                for v in vols
            ),
        ]
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        out.append("  " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    return "\n".join(out)
