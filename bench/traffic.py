"""The traffic model the cost is computed from: how payments arrive, and what the AWS
machinery in front of the functions (SQS event source, authorizer cache, X-Ray sampling,
Lambda's execution environments) makes of that arrival rate.

Arrivals are Poisson within each hour of the day, at a rate that follows a stated daily
profile (`DAILY_PROFILE`, 24 hourly weights). Every quantity that depends on the rate
non-linearly (batch size, cache hits, traces, warm containers) is computed per hour of the
profile and summed, never from the monthly mean. Pure functions, no I/O: the template
values they need are passed in (`bench.cost` reads them from the templates).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

DAYS_A_MONTH = 30
SECONDS_AN_HOUR = 3600
# A European merchant day: quiet at night, a morning ramp, a long day and an evening peak.
# Weights are relative; they are normalised to a mean of 1 (index 0 = 00:00-01:00 UTC).
DAILY_PROFILE: tuple[float, ...] = (
    *(0.3, 0.2, 0.2, 0.2, 0.3, 0.5),
    *(0.8, 1.1, 1.4, 1.5, 1.5, 1.5),
    *(1.6, 1.5, 1.4, 1.4, 1.4, 1.5),
    *(1.6, 1.5, 1.3, 1.0, 0.7, 0.5),
)


def poisson_pmf(mean: float, n: int) -> float:
    """P(N = n) for N ~ Poisson(mean)."""
    if mean == 0:
        return 1.0 if n == 0 else 0.0
    return math.exp(n * math.log(mean) - mean - math.lgamma(n + 1))


def poisson_tail(mean: float, n: int) -> float:
    """P(N >= n) for N ~ Poisson(mean)."""
    return max(0.0, 1.0 - sum(poisson_pmf(mean, k) for k in range(n)))


def expected_min(mean: float, cap: int) -> float:
    """E[min(N, cap)] for N ~ Poisson(mean): sum over k < cap of P(N > k)."""
    return sum(poisson_tail(mean, k + 1) for k in range(cap))


def expected_batch_size(rate_per_s: float, window_s: float, batch_size: int) -> float:
    """Messages in an SQS-triggered invocation: the event source starts a batch with the
    first message, then gathers for up to `window_s` (MaximumBatchingWindowInSeconds) or
    until `batch_size` messages. With Poisson arrivals that is 1 + min(N, batch_size - 1),
    N ~ Poisson(rate x window). One poller is assumed: AWS's several pollers split the
    messages, so real batches can only be smaller (more invocations)."""
    return 1.0 + expected_min(rate_per_s * window_s, batch_size - 1)


def authorizer_misses_per_s(rate_per_s: float, ttl_s: float) -> float:
    """Authorizer runs a second for one key's Poisson request stream: a miss caches the
    answer for `ttl_s`, the next miss is the first request after it expires, so misses are
    a renewal process with mean period ttl + 1/rate."""
    if rate_per_s <= 0:
        return 0.0
    return 1.0 / (ttl_s + 1.0 / rate_per_s)


def zipf_shares(count: int, exponent: float) -> list[float]:
    """Shares of traffic of `count` merchants whose sizes follow Zipf's law (the k-th
    largest is proportional to 1/k**exponent); they sum to 1."""
    weights = [1.0 / (k**exponent) for k in range(1, count + 1)]
    total = sum(weights)
    return [w / total for w in weights]


def authorizer_runs_per_s(rate_per_s: float, key_shares: Sequence[float], ttl_s: float) -> float:
    """Authorizer runs a second for `rate_per_s` authorised requests split over API keys by
    `key_shares`; API Gateway caches per key (the Authorization header is the identity
    source)."""
    return sum(authorizer_misses_per_s(rate_per_s * share, ttl_s) for share in key_shares)


def traces_per_s(rate_per_s: float, fixed_rate: float, reservoir: int) -> float:
    """Traces X-Ray records a second for a Poisson request stream under a sampling rule:
    the first `reservoir` requests of each second, then `fixed_rate` of the rest."""
    kept = expected_min(rate_per_s, reservoir)
    return kept + fixed_rate * (rate_per_s - kept)


def warm_containers(rate_per_s: float, duration_s: float, window_s: float) -> int:
    """Execution environments a function keeps busy over one cache window: the smallest
    c >= 1 such that fewer than one invocation per window finds c invocations already
    running (in flight ~ Poisson(rate x duration), Little's law). Each one repeats its
    first invocation's secret and data-key fetches once per window."""
    in_flight = rate_per_s * duration_s
    arrivals = rate_per_s * window_s
    containers = 1
    while arrivals * poisson_tail(in_flight, containers) >= 1.0:
        containers += 1
    return containers


@dataclass(frozen=True)
class Traffic:
    """Payments a month, how they arrive, and who sends them."""

    payments_a_month: int
    profile: tuple[float, ...] = DAILY_PROFILE
    merchants: int = 200
    zipf_exponent: float = 1.0
    keys_per_merchant: int = 1
    hour_weights: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        mean = sum(self.profile) / len(self.profile)
        object.__setattr__(self, "hour_weights", tuple(w / mean for w in self.profile))

    @property
    def seconds_an_hour_of_profile(self) -> float:
        """Seconds a month spent in each hour of the profile."""
        return DAYS_A_MONTH * 24 * SECONDS_AN_HOUR / len(self.profile)

    @property
    def mean_rate_per_s(self) -> float:
        """Payments a second, averaged over the month."""
        return self.payments_a_month / (DAYS_A_MONTH * 86400)

    def hourly_rates(self) -> list[float]:
        """Payments a second in each hour of the profile."""
        return [self.mean_rate_per_s * w for w in self.hour_weights]

    def key_shares(self) -> list[float]:
        """Share of the authorised requests each API key carries."""
        per_merchant = zipf_shares(self.merchants, self.zipf_exponent)
        return [
            s / self.keys_per_merchant for s in per_merchant for _ in range(self.keys_per_merchant)
        ]

    def monthly(self, per_second: list[float]) -> float:
        """A monthly total from a per-second figure for each hour of the profile."""
        return sum(per_second) * self.seconds_an_hour_of_profile
