"""The battery's charge oracle: what the gateway asked of the bank, judged from the bank
simulator's request log (`GET /_sim/requests`) rather than from the bank's own idempotency.

Definitions:

* A **known 202** is a 202 the gateway received: the simulator answered 202 and wrote the
  answer less than the gateway's bank read timeout (`BANK_READ_TIMEOUT_S`) after the POST
  arrived. A 202 held longer (the timeout fault) is an **unknown outcome** to the gateway.
* A **resend after a known 202** is any POST for a payment that arrived after a known 202
  for that payment had been written. Without crashes there must be none: the gateway had
  the answer and asked again. With crashes, one is excused when the 202 it follows was
  written inside a **kill window**: the span [start, failure] of a forwarder invocation
  that a SIGKILL made fail (local/event_sources.py `invoke_failures`), i.e. the batch was
  being processed when the 202 came, and died before it could store it. A resend that
  arrives sooner after the 202 than any retry of the same message could (`concurrent_s`,
  the forwarder's least back-off) is a **concurrent delivery**: a second message for the
  payment (the reconciler requeues a payment pending too long, e.g. behind the backlog a
  crash leaves) read it as pending before the first stored the 202. It is counted apart:
  none may happen without crashes; with crashes they count against the killed batches.
* An **extra charge under `idempotency: off`** is every accepted POST (202) of a payment
  after its first: what a bank without idempotency would have charged again. Each follows
  an earlier accepted POST, which was either a known 202 (the resend above), an unknown
  outcome (the gateway had to ask again), or not yet answered when the next POST arrived
  (two deliveries of the payment at once: `concurrent`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

# The log's outcomes of a POST that moved money: a charge, or an action executed.
MOVED_MONEY = frozenset({"charged", "applied"})


@dataclass(frozen=True)
class Window:
    """A span of `time.monotonic()` seconds (both ends included)."""

    start: float
    end: float

    def holds(self, moment: float) -> bool:
        """True when `moment` falls inside."""
        return self.start <= moment <= self.end


@dataclass
class ChargeReport:
    """The oracle's figures for one set of payments."""

    posts: int = 0
    answered_503: int = 0
    held_202: int = 0
    resends_after_known_202: list[str] = field(default_factory=list)
    excused_by_kill: list[str] = field(default_factory=list)
    concurrent_resends: list[str] = field(default_factory=list)
    extra_after_known: int = 0
    extra_after_unknown: int = 0
    extra_concurrent: int = 0
    accepted: dict[str, int] = field(default_factory=dict)
    charged: dict[str, int] = field(default_factory=dict)

    @property
    def unexcused_resends(self) -> list[str]:
        """Resends after a known 202 that neither a kill window nor a concurrent delivery
        explains."""
        explained = set(self.excused_by_kill) | set(self.concurrent_resends)
        return [r for r in self.resends_after_known_202 if r not in explained]

    @property
    def extra_charges(self) -> int:
        """Accepted POSTs beyond each payment's first: charges a bank without idempotency
        would have taken on top."""
        return self.extra_after_known + self.extra_after_unknown + self.extra_concurrent


def elapsed(post: dict[str, Any]) -> float:
    """Seconds from the POST's arrival to its answer being written (inf if never written)."""
    answered = post.get("answered_monotonic")
    if answered is None:
        return math.inf
    return float(answered) - float(post["received_monotonic"])


def is_known_202(post: dict[str, Any], read_timeout_s: float) -> bool:
    """A 202 written within the gateway's read timeout: the gateway had the answer."""
    return post["status"] == 202 and elapsed(post) < read_timeout_s


def by_payment(
    posts: Iterable[dict[str, Any]], key: str = "payment_request_id"
) -> dict[str, list[dict[str, Any]]]:
    """The POSTs of each payment id (or of each `key`: `action_id` for the log's captures,
    voids and refunds), in arrival order (entries with no valid id left out)."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for post in sorted(posts, key=lambda p: int(p["seq"])):
        if post.get(key):
            grouped[post[key]].append(post)
    return dict(grouped)


def judge(
    posts: Iterable[dict[str, Any]],
    payment_ids: Iterable[str],
    read_timeout_s: float,
    kill_windows: Sequence[Window] = (),
    concurrent_s: float = 0.0,
    key: str = "payment_request_id",
) -> ChargeReport:
    """The figures of `payment_ids` from the request log `posts` (see the module docstring);
    with `key="action_id"`, of the actions of those ids, judged alike."""
    grouped = by_payment(posts, key)
    report = ChargeReport()
    for payment_id in payment_ids:
        mine = grouped.get(payment_id, [])
        report.posts += len(mine)
        report.answered_503 += sum(1 for p in mine if p["status"] == 503)
        accepted = [p for p in mine if p["status"] == 202]
        report.held_202 += sum(1 for p in accepted if not is_known_202(p, read_timeout_s))
        report.accepted[payment_id] = len(accepted)
        report.charged[payment_id] = sum(1 for p in mine if p["outcome"] in MOVED_MONEY)
        _resends(report, payment_id, mine, read_timeout_s, kill_windows, concurrent_s)
        _extra_charges(report, accepted, read_timeout_s)
    return report


def _resends(
    report: ChargeReport,
    payment_id: str,
    mine: list[dict[str, Any]],
    read_timeout_s: float,
    kill_windows: Sequence[Window],
    concurrent_s: float,
) -> None:
    known = [p for p in mine if is_known_202(p, read_timeout_s)]
    for post in mine:
        earlier = [k for k in known if k["answered_monotonic"] <= post["received_monotonic"]]
        if not earlier:
            continue
        follows = max(earlier, key=lambda k: float(k["answered_monotonic"]))
        later = float(post["received_monotonic"]) - float(follows["answered_monotonic"])
        label = (
            f"{payment_id} POST #{post['seq']} after the 202 of #{follows['seq']}"
            f" (written in {elapsed(follows):.3f}s at {follows['answered_monotonic']:.3f},"
            f" resent {later:.3f}s later)"
        )
        report.resends_after_known_202.append(label)
        if any(w.holds(float(follows["answered_monotonic"])) for w in kill_windows):
            report.excused_by_kill.append(label)
        elif later < concurrent_s:
            report.concurrent_resends.append(label)


def _extra_charges(
    report: ChargeReport, accepted: list[dict[str, Any]], read_timeout_s: float
) -> None:
    for before, post in pairwise(accepted):
        answered = before.get("answered_monotonic")
        if answered is None or answered > post["received_monotonic"]:
            if is_known_202(before, read_timeout_s):
                report.extra_concurrent += 1
            else:
                report.extra_after_unknown += 1
        elif is_known_202(before, read_timeout_s):
            report.extra_after_known += 1
        else:
            report.extra_after_unknown += 1


def fail_all_probability(attempts: int, error_rate: float, first_post_503: bool) -> float:
    """Probability that every one of `attempts` POSTs is refused, so the bank never accepts
    the payment: each draws the 503 fault with `error_rate`; the 503-first card also refuses
    the first POST that passes the draw. A timed-out POST is not a failure: the bank accepted
    it, and the gateway's last attempt finds it there."""
    all_503 = error_rate**attempts
    if not first_post_503:
        return all_503
    one_passes = attempts * (1 - error_rate) * error_rate ** (attempts - 1)
    return all_503 + one_passes


def upper_bound(probabilities: Sequence[float], tail: float = 1e-6) -> int:
    """The smallest k with P(X > k) <= `tail`, X the number of successes of independent
    trials with these probabilities (Poisson binomial, computed exactly)."""
    distribution = [1.0]
    for p in probabilities:
        grown = [0.0] * (len(distribution) + 1)
        for k, mass in enumerate(distribution):
            grown[k] += mass * (1 - p)
            grown[k + 1] += mass * p
        distribution = grown
    above = 1.0
    for k, mass in enumerate(distribution):
        above -= mass
        if above <= tail:
            return k
    return len(probabilities)
