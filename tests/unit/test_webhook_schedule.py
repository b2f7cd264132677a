"""The webhook retry schedule of SPEC §10 and its hops through SQS's 900 s delay limit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared_kernel.application.webhook_schedule import (
    MAX_ATTEMPTS,
    Hop,
    RetrySchedule,
    hop_towards,
)

from .webhook_fakes import NOW

pytestmark = pytest.mark.unit

MINUTE, HOUR = 60, 3600


def test_the_schedule_is_nine_attempts_with_the_spec_waits() -> None:
    """Waits after attempts 1..8 are 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 24 h, 24 h; none
    after the ninth."""
    schedule = RetrySchedule()
    expected = [
        MINUTE,
        5 * MINUTE,
        30 * MINUTE,
        2 * HOUR,
        5 * HOUR,
        10 * HOUR,
        24 * HOUR,
        24 * HOUR,
    ]

    waits = [schedule.wait_after(n) for n in range(1, 10)]

    assert (9, [timedelta(seconds=s) for s in expected], None) == (
        MAX_ATTEMPTS,
        waits[:8],
        waits[8],
    )


def test_the_whole_schedule_lasts_about_three_days() -> None:
    """First attempt to last: 65 h 36 min (236 160 s)."""
    assert timedelta(hours=65, minutes=36) == RetrySchedule().total()


def test_the_scale_multiplies_every_wait_and_0_0001_runs_it_in_about_25_s() -> None:
    """WEBHOOK_RETRY_SCALE=0.0001: the first wait is 6 ms, the whole schedule 23.6 s of waits."""
    schedule = RetrySchedule(0.0001)

    assert (timedelta(milliseconds=6), 23.616) == (
        schedule.wait_after(1),
        round(schedule.total().total_seconds(), 3),
    )


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_a_scale_that_is_not_positive_is_refused(scale: float) -> None:
    """A zero or negative scale would retry in a tight loop: refused."""
    with pytest.raises(ValueError, match="positive"):
        RetrySchedule(scale)


def test_a_wait_sqs_can_make_is_one_hop_with_no_due_time() -> None:
    """Five minutes: one delay of 300 s, due on arrival."""
    assert Hop(300.0, None) == hop_towards(NOW + timedelta(minutes=5), NOW)


def test_a_longer_wait_hops_900_s_carrying_the_due_time() -> None:
    """Two hours: a delay of 900 s, carrying the due time on."""
    due = NOW + timedelta(hours=2)

    assert Hop(900.0, due) == hop_towards(due, NOW)


def test_hops_reach_the_due_time_exactly() -> None:
    """Following the hops of a 5 h wait takes 20 hops of 900 s, the last arriving on time."""
    due, now, hops = NOW + timedelta(hours=5), NOW, 0
    while True:
        hop = hop_towards(due, now)
        now += timedelta(seconds=hop.delay_s)
        hops += 1
        if hop.not_before is None:
            break

    assert (20, due) == (hops, now)


def test_a_due_time_in_the_past_is_due_now() -> None:
    """A late message is not delayed further."""
    assert Hop(0.0, None) == hop_towards(NOW - timedelta(seconds=5), NOW)


def test_the_sender_reads_its_scale_tables_and_queue_from_the_environment() -> None:
    """WEBHOOK_RETRY_SCALE, DELIVERIES_TABLE, EVENTS_TABLE and WEBHOOK_QUEUE_URL; the scale
    is 1 when unset (the schedule of SPEC §10 in AWS)."""
    from shared_kernel.settings import Settings

    base = {"PAYMENTS_TABLE": "p", "MERCHANTS_TABLE": "m"}
    tuned = Settings.from_env(
        {
            **base,
            "WEBHOOK_RETRY_SCALE": "0.0001",
            "DELIVERIES_TABLE": "d",
            "EVENTS_TABLE": "e",
            "WEBHOOK_QUEUE_URL": "http://q",
        }
    )

    assert ((0.0001, "d", "e", "http://q"), 1.0) == (
        (
            tuned.webhook_retry_scale,
            tuned.deliveries_table,
            tuned.events_table,
            tuned.webhook_queue_url,
        ),
        Settings.from_env(base).webhook_retry_scale,
    )


def test_the_composition_root_gives_the_sender_the_settings_scale_and_a_10_s_poster() -> None:
    """bootstrap wires DeliverToEndpoint with RetrySchedule(WEBHOOK_RETRY_SCALE), the HTTP
    poster (its default bound, TIMEOUT_S, is SPEC's 10 s), the events table, the endpoints
    table, and the registration's URL rules as the delivery's SSRF guard."""
    from shared_kernel.adapters.dynamodb.events import DynamoEventStore
    from shared_kernel.adapters.dynamodb.webhook_endpoints import DynamoWebhookEndpoints
    from shared_kernel.adapters.webhook_http import TIMEOUT_S, HttpWebhookPoster
    from shared_kernel.application.webhook_ports import UnsafeUrl
    from shared_kernel.bootstrap import build_gateway
    from shared_kernel.settings import Settings

    env = {
        "STAGE": "prod",
        "PAYMENTS_TABLE": "p",
        "MERCHANTS_TABLE": "m",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "WEBHOOK_RETRY_SCALE": "0.5",
        "DELIVERIES_TABLE": "d",
    }
    wired = build_gateway(Settings.from_env(env)).deliver_to_endpoint

    assert (RetrySchedule(0.5), True, 10.0, True, True) == (
        wired.schedule,
        isinstance(wired.poster, HttpWebhookPoster),
        TIMEOUT_S,
        isinstance(wired.events, DynamoEventStore),
        isinstance(wired.endpoints, DynamoWebhookEndpoints),
    )
    # Outside the local stage a loopback or private address is refused at delivery too.
    for url in ("http://127.0.0.1:3003/hooks", "https://10.0.0.7/hooks"):
        with pytest.raises(UnsafeUrl):
            wired.url_guard(url)
