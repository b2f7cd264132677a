"""The retry schedule of webhook deliveries (SPEC §10) and how its waits ride on SQS.

Nine attempts in all: the first when the event is recorded, then one after each wait of
1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 24 h and 24 h (about three days); after the ninth
failure the delivery is `failed` for that endpoint. `scale` multiplies every wait (local
runs and tests set WEBHOOK_RETRY_SCALE, e.g. 0.0001 runs the whole schedule in about 25 s);
it never touches the 10 s timeout of one attempt.

An SQS message can be delayed at most 900 s, so a longer wait is several hops through the
queue: each hop carries the time the attempt is due (`not_before`) and is delayed by what is
left of it, at most 900 s (docs/decisions.md, "Webhook retries in hops").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# The waits after attempts 1 to 8, in seconds.
RETRY_WAITS_S: tuple[float, ...] = (60, 300, 1800, 7200, 18000, 36000, 86400, 86400)
MAX_ATTEMPTS = len(RETRY_WAITS_S) + 1
SQS_MAX_DELAY_S = 900.0


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """When the attempt after a failed one is due, with every wait multiplied by `scale`."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError("the retry scale must be positive")

    def wait_after(self, attempt: int) -> timedelta | None:
        """The wait after failed attempt number `attempt` (1-based); None after the last."""
        if not 1 <= attempt < MAX_ATTEMPTS:
            return None
        return timedelta(seconds=RETRY_WAITS_S[attempt - 1] * self.scale)

    def total(self) -> timedelta:
        """The whole schedule's waiting time, first attempt to last."""
        return timedelta(seconds=sum(RETRY_WAITS_S) * self.scale)


@dataclass(frozen=True, slots=True)
class Hop:
    """One SQS delay on the way to a due time: `delay_s` now, and the due time to carry
    when the delay does not reach it (None: the message is due when it arrives)."""

    delay_s: float
    not_before: datetime | None


def hop_towards(due: datetime, now: datetime) -> Hop:
    """The next hop of a message due at `due`: the whole wait if SQS can delay it that
    long, else 900 s with the due time carried on."""
    left = max((due - now).total_seconds(), 0.0)
    if left <= SQS_MAX_DELAY_S:
        return Hop(left, None)
    return Hop(SQS_MAX_DELAY_S, due)
