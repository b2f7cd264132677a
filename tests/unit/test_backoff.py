"""Backoff: exponential waits with equal jitter, capped."""

from __future__ import annotations

import pytest

from shared_kernel.application.backoff import Backoff

pytestmark = pytest.mark.unit


def test_steps_double_from_the_base_up_to_the_cap() -> None:
    """Attempts 1..6 with base 2 s and cap 20 s wait 2, 4, 8, 16, 20, 20 s (no jitter)."""
    backoff = Backoff(2.0, 20.0)
    assert [2.0, 4.0, 8.0, 16.0, 20.0, 20.0] == [backoff.step(n) for n in range(1, 7)]


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 4.0), (0.5, 6.0), (1.0, 8.0)])
def test_jitter_keeps_the_wait_between_half_and_the_whole_step(
    draw: float, expected: float
) -> None:
    """The third wait of a 2 s back-off is 8 s jittered into [4, 8] by the random draw."""
    assert expected == Backoff(2.0, 300.0, jitter=lambda: draw).delay(3)


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    """An attempt count far past the cap's exponent neither overflows nor exceeds the cap."""
    assert 300.0 == Backoff(2.0, 300.0, jitter=lambda: 1.0).delay(10_000)


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 1.0), (5.0, 1.0)])
def test_nonsense_settings_are_refused(base: float, cap: float) -> None:
    """A base that is not positive, or a cap below the base, is a configuration error."""
    with pytest.raises(ValueError, match="back-off"):
        Backoff(base, cap)
