"""The bench's traffic model (bench/traffic.py) and template parsing (bench/cost.py), against
figures computed by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.cost import Model, Template, forward_ms, gb_seconds, runs_a_month, template_default
from bench.traffic import (
    Traffic,
    authorizer_misses_per_s,
    authorizer_runs_per_s,
    expected_batch_size,
    expected_min,
    traces_per_s,
    warm_containers,
    zipf_shares,
)

pytestmark = pytest.mark.unit


def test_a_batch_gathers_one_window_of_arrivals_after_its_first_message() -> None:
    """At 1 message/s, a 1 s window and batches of 2: 1 + P(N >= 1) = 2 - e^-1 messages."""
    assert 2 - math.exp(-1) == pytest.approx(expected_batch_size(1.0, 1.0, 2), rel=1e-12)


def test_a_batch_is_one_message_when_nothing_else_arrives_in_the_window() -> None:
    """With no batching window every invocation carries its first message only."""
    assert 1.0 == expected_batch_size(5.0, 0.0, 10)


def test_a_batch_is_full_when_the_window_holds_far_more_than_the_batch_size() -> None:
    """At 100 messages/s and a 1 s window, batches of 10 are full."""
    assert 10.0 == pytest.approx(expected_batch_size(100.0, 1.0, 10), abs=1e-9)


def test_expected_min_of_a_poisson_count() -> None:
    """E[min(N, 2)] for N ~ Poisson(1) = P(N >= 1) + P(N >= 2) = 2 - 3/e."""
    assert 2 - 3 * math.exp(-1) == pytest.approx(expected_min(1.0, 2), rel=1e-12)


def test_authorizer_cache_misses_once_per_ttl_plus_the_wait_for_the_next_request() -> None:
    """One request a second and a 300 s TTL: one authorizer run every 301 s."""
    assert 1 / 301 == pytest.approx(authorizer_misses_per_s(1.0, 300.0), rel=1e-12)


def test_without_a_cache_every_request_runs_the_authorizer() -> None:
    """TTL 0: as many runs as requests."""
    assert 2.5 == pytest.approx(authorizer_misses_per_s(2.5, 0.0), rel=1e-12)


def test_the_authorizer_cache_is_per_key() -> None:
    """Two keys sharing 2 requests/s equally, TTL 300 s: each misses every 301 s."""
    assert 2 / 301 == pytest.approx(authorizer_runs_per_s(2.0, [0.5, 0.5], 300.0), rel=1e-12)


def test_zipf_shares_of_three_merchants() -> None:
    """Shares proportional to 1, 1/2, 1/3: 6/11, 3/11, 2/11."""
    assert [6 / 11, 3 / 11, 2 / 11] == pytest.approx(zipf_shares(3, 1.0), rel=1e-12)


def test_xray_reservoir_takes_the_first_request_of_each_second_then_the_fixed_rate() -> None:
    """1 request/s, reservoir 1, then 5%: (1 - e^-1) + 0.05 * e^-1 traces a second."""
    expected = (1 - math.exp(-1)) + 0.05 * math.exp(-1)
    assert expected == pytest.approx(traces_per_s(1.0, 0.05, 1), rel=1e-12)


def test_xray_without_a_reservoir_traces_the_fixed_rate_only() -> None:
    """Reservoir 0 and 1%: 3 requests/s give 0.03 traces a second."""
    assert 0.03 == pytest.approx(traces_per_s(3.0, 0.01, 0), rel=1e-12)


def test_warm_containers_cover_all_but_less_than_one_invocation_per_window() -> None:
    """1/s of 100 ms in a 900 s window: 900 x P(N >= 2) = 4.2 >= 1, 900 x P(N >= 3) = 0.14."""
    assert 3 == warm_containers(1.0, 0.1, 900.0)


def test_a_rarely_invoked_function_keeps_one_container() -> None:
    """One invocation an hour never overlaps another."""
    assert 1 == warm_containers(1 / 3600, 0.1, 900.0)


def test_traffic_rates_follow_the_daily_profile_around_the_monthly_mean() -> None:
    """2,592,000 payments in a 30-day month is 1/s; weights 1 and 3 become 0.5/s and 1.5/s."""
    traffic = Traffic(2_592_000, profile=(1.0, 3.0))
    assert 1.0 == pytest.approx(traffic.mean_rate_per_s)
    assert [0.5, 1.5] == pytest.approx(traffic.hourly_rates())
    assert 2_592_000 == pytest.approx(traffic.monthly(traffic.hourly_rates()))


def test_each_key_of_a_merchant_carries_a_share_of_its_traffic() -> None:
    """Two merchants (Zipf 1: 2/3, 1/3), two keys each: 1/3, 1/3, 1/6, 1/6."""
    traffic = Traffic(1, merchants=2, zipf_exponent=1.0, keys_per_merchant=2)
    assert [1 / 3, 1 / 3, 1 / 6, 1 / 6] == pytest.approx(traffic.key_shares())


def test_template_values_are_read_through_their_defaults() -> None:
    """`${opt:region, 'eu-west-1'}` and `${env:X, '60'}` give their defaults; plain values stay."""
    assert "eu-west-1" == template_default("${opt:region, 'eu-west-1'}")
    assert "60" == template_default("${env:AUTHORIZER_TTL_S, '60'}")
    assert "300" == template_default(300)


def test_a_rate_schedule_runs_so_many_times_a_30_day_month() -> None:
    """rate(1 minute) is 43,200 runs; rate(5 minutes) 8,640; cron is refused."""
    assert 43_200 == runs_a_month("rate(1 minute)")
    assert 8_640 == runs_a_month("rate(5 minutes)")
    with pytest.raises(ValueError, match="only rate"):
        runs_a_month("cron(0 12 * * ? *)")


def test_lambda_bills_whole_milliseconds_at_the_memory_size() -> None:
    """10.2 ms at 512 MB bills 11 ms x 0.5 GB."""
    assert 0.011 * 0.5 == pytest.approx(gb_seconds(10.2, 512), rel=1e-12)


def test_the_forwarder_duration_is_interpolated_between_one_message_and_ten() -> None:
    """60 ms for one, 150 ms for ten: 5.5 messages take 105 ms."""
    assert 60 == forward_ms(1, 60, 150)
    assert 150 == forward_ms(10, 60, 150)
    assert 105 == pytest.approx(forward_ms(5.5, 60, 150))


def _template(window_s: float = 1.0, ttl_s: float = 300.0) -> Template:
    return Template(
        region="eu-west-1",
        batch_size=10,
        batching_window_s=window_s,
        authorizer_ttl_s=ttl_s,
        api_xray_rate=0.01,
        api_xray_reservoir=0,
        secrets=4,
        kms_keys=1,
        alarms=0,
        custom_metrics=0,
        schedule_runs_a_month={"reconcile": 43_200},
    )


def _measured() -> dict[str, Any]:
    """Warm-child figures of the shape the bench writes: one payment = 1 SendMessage,
    4 WRU + 2 index WRU, 3 RRU, a 1,500-byte item."""
    warm = {
        name: {"median_ms": 10.0}
        for name in ("submit_payment", "get_payment", "payment_updates", "authorizer", "reconcile")
    }
    return {
        "warm": warm,
        "forward_batch": {
            "one_message_median_ms": 60.0,
            "batch_of_10_median_ms": 150.0,
            "bank_delay_ms": 50.0,
        },
        "lifecycle": {
            "per_payment": {"sqs:SendMessage": 1.0, "dynamodb:PutItem": 2.0},
            "capacity_per_payment": {"rru": 3.0, "wru": 4.0, "gsi_wru": 2.0},
            "log_bytes_per_step": {"submit": 500.0},
            "item_bytes_after_submit": 1500,
        },
        "cold_lifecycle": {"per_step": {"submit": {"kms:GenerateDataKey": 1.0}}},
        "cold_authorizer": {"per_invocation": {"secretsmanager:GetSecretValue": 1.0}},
        "authorizer_calls": {"per_invocation": {"dynamodb:GetItem": 1.0}, "log_bytes": 100.0},
    }


MEMORY = {n: 512 for n in ("submit_payment", "get_payment", "payment_updates", "forward")}
MEMORY |= {"authorizer": 512, "reconcile": 512}


def test_without_a_batching_window_every_payment_is_its_own_forwarder_invocation() -> None:
    """Window 0: 1 M payments make 1 M forwarder runs, each with a receive and a delete."""
    model = Model(_measured(), MEMORY, 1_000_000, _template(window_s=0.0))
    assert 1_000_000 == pytest.approx(model.invocations()["forward"])
    assert 3_000_000 == pytest.approx(model.usage()["SQS requests"])


def test_without_an_authorizer_cache_every_merchant_request_runs_the_authorizer() -> None:
    """TTL 0: the POST and the status read each run it, 2 M runs for 1 M payments."""
    model = Model(_measured(), MEMORY, 1_000_000, _template(ttl_s=0.0))
    assert 2_000_000 == pytest.approx(model.invocations()["authorizer"])


def test_the_earlier_implementation_is_priced_from_its_own_request_counts() -> None:
    """4 invocations, 3 writes of a 1,500-byte item (2 WRU each), 3 consistent reads, 4 SQS
    calls and 1 secret read per payment."""
    earlier = Model(_measured(), MEMORY, 1_000_000, _template()).earlier_usage()
    assert 4_000_000 == pytest.approx(earlier["Lambda requests"])
    assert 6_000_000 == pytest.approx(earlier["DynamoDB write request units (table)"])
    assert 3_000_000 == pytest.approx(earlier["DynamoDB read request units"])
    assert 4_000_000 == pytest.approx(earlier["SQS requests"])
    assert 1_000_000 == pytest.approx(earlier["Secrets Manager API calls"])


def test_the_private_apis_endpoint_is_paid_per_az_hour() -> None:
    """2 AZs x 720 h x $0.011."""
    fixed = Model(_measured(), MEMORY, 1_000_000, _template()).fixed()
    (endpoint,) = [usd for item, usd in fixed.items() if item.startswith("VPC interface endpoint")]
    assert 2 * 720 * 0.011 == pytest.approx(endpoint)
