"""Exponential back-off with jitter: how long to wait before the next try of something.

Used by the forwarder (how long a message stays invisible before its next delivery) and the
reconciler (when to ask the bank again about a silent payment).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits of min(base * 2**(attempt - 1), cap) seconds, jittered down by up to half.

    "Equal jitter": the wait is at least half the exponential step, so retries spread out
    without ever coming back at once.
    """

    base_s: float
    cap_s: float
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("back-off needs 0 < base <= cap")

    def step(self, attempt: int) -> float:
        """The un-jittered wait after try number `attempt` (1 for the first)."""
        exponent = min(max(attempt, 1) - 1, 62)
        return float(min(self.base_s * 2.0**exponent, self.cap_s))

    def delay(self, attempt: int) -> float:
        """The jittered wait after try number `attempt`, in [step / 2, step] seconds."""
        step = self.step(attempt)
        return step / 2 + step / 2 * self.jitter()
