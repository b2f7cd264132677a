"""Use case: run a submission at most once per (merchant, route, Idempotency-Key), replaying
its answer. Used by the payment submit (its route is the default scope) and by the captures,
voids and refunds of a payment (scoped to the payment's action route).

A request that passed validation first claims its scope with a conditional write (never
read-then-write); the claim is the only idempotency write. It carries the id the submission
stores its payment under, and the answer is not stored: a replay rebuilds it from that
payment. Whoever loses the race reads the record: a different request hash is
`IdempotencyKeyReused`; a stored payment is replayed; otherwise the first request is
`IdempotencyInProgress`, unless its claim's lock has passed (the function that held it died,
since the lock outlives the function's timeout), in which case the claim is taken over with
another conditional write and the submission resumes with the same id. A submission that
raises releases its claim: its lock ends at once, so a retry runs without waiting, with the
same submission id (the failure may have come after the payment was stored, e.g. a lost
PutItem answer, and then the retry replays it). A submission that raises one of the caller's
`refusals` (a 4xx decided after the claim: an action the payment's state refuses) stored
nothing, so its claim is forgotten instead: a retry with the key, whatever its body, is
judged afresh.

The request hash is an HMAC-SHA256 keyed with a secret over the canonical JSON of the body:
the body holds a card number, and an unkeyed hash of a card number is card data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar
from uuid import UUID

from shared_kernel.application.errors import IdempotencyInProgress, IdempotencyKeyReused
from shared_kernel.application.ports import Clock, IdempotencyClaim, IdempotencyStore, IdGenerator

logger = logging.getLogger(__name__)

RETENTION = timedelta(hours=24)
# Longer than the submit function's timeout (10 s): a claim whose lock has passed belongs
# to an invocation that is certainly over.
LOCK = timedelta(seconds=30)
# Separates these hashes from every other use of the same secret (the API-key hashes).
_HASH_CONTEXT = b"gateway/idempotency-request/v1\n"
# Claiming can lose to a record that then vanishes (TTL) or expires; a few rounds
# settle any such race, after which the caller is told to retry.
_CLAIM_ROUNDS = 3

# What a submission answers (submit_once_per_key.py: the payment it stored).
Answer = TypeVar("Answer")


def scope_of(merchant_id: UUID, key: str, route: str | None = None) -> str:
    """The record key of a merchant's Idempotency-Key: `<merchant_id>#<key>` for the submit
    route, `<merchant_id>/<route>#<key>` for another (e.g. `payment/<id>/refunds`). The
    character after the merchant's UUID tells the two apart, and a route holds no `#`, so no
    key of one route can name another route's scope."""
    if route is None:
        return f"{merchant_id}#{key}"
    if "#" in route:
        raise ValueError("a route holds no '#'")
    return f"{merchant_id}/{route}#{key}"


def request_hash(secret: bytes, body: Mapping[str, object]) -> str:
    """HMAC-SHA256 (hex) of the body's canonical JSON (sorted keys, no spaces), keyed."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(secret, _HASH_CONTEXT + canonical.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotentAnswer(Generic[Answer]):
    """The answer to give: fresh from the submission, or the first one replayed."""

    answer: Answer
    replayed: bool


@dataclass(frozen=True, slots=True)
class _Claimed:
    """The scope is ours: our owner token, the submission id, whether it resumes an
    abandoned claim."""

    owner: str
    submission_id: UUID
    resumed: bool


@dataclass(frozen=True, slots=True)
class IdempotentSubmit:
    """Run `submit` once per (merchant, key) within the retention; replay its answer after."""

    store: IdempotencyStore
    clock: Clock
    new_id: IdGenerator
    secret: bytes
    retention: timedelta = RETENTION
    lock: timedelta = LOCK

    def __call__(
        self,
        merchant_id: UUID,
        key: str,
        body: Mapping[str, object],
        submit: Callable[[UUID, bool], Answer],
        replay: Callable[[UUID], Answer | None],
        *,
        route: str | None = None,
        refusals: tuple[type[BaseException], ...] = (),
    ) -> IdempotentAnswer[Answer]:
        """The fresh or replayed answer; `submit(submission_id, resumed)` runs at most once
        per claim, `resumed` when an abandoned claim was taken over; `replay(submission_id)`
        answers a repeat once the answer's object is stored. `route` scopes the key (None:
        the submit route); a `refusals` error from `submit` forgets the claim.

        Raises IdempotencyKeyReused (same key, different body) or IdempotencyInProgress
        (the first request with this key is still running).
        """
        scope = scope_of(merchant_id, key, route)
        claimed = self._claim(scope, request_hash(self.secret, body), replay)
        if isinstance(claimed, IdempotentAnswer):
            return claimed
        try:
            answer = submit(claimed.submission_id, claimed.resumed)
        except refusals:
            self.store.forget(scope, claimed.owner)
            raise
        except BaseException:
            self.store.release(scope, claimed.owner, self.clock.now())
            raise
        return IdempotentAnswer(answer, replayed=False)

    def _claim(
        self, scope: str, fingerprint: str, replay: Callable[[UUID], Answer | None]
    ) -> _Claimed | IdempotentAnswer[Answer]:
        """The scope once it is ours, or the first answer, replayed."""
        for _ in range(_CLAIM_ROUNDS):
            now = self.clock.now()
            claim = IdempotencyClaim(
                scope=scope,
                request_hash=fingerprint,
                owner=self.new_id().hex,
                submission_id=self.new_id(),
                claimed_at=now,
                expires_at=now + self.retention,
                locked_until=now + self.lock,
            )
            if self.store.claim(claim):
                return _Claimed(claim.owner, claim.submission_id, resumed=False)
            record = self.store.get(scope)
            if record is None or record.expires_at < now:
                continue  # removed or expired since the claim failed: claim again
            if not hmac.compare_digest(record.request_hash, fingerprint):
                raise IdempotencyKeyReused(scope)
            answer = replay(record.submission_id)
            if answer is not None:
                return IdempotentAnswer(answer, replayed=True)
            if record.locked_until > now:
                raise IdempotencyInProgress(scope)
            if self.store.take_over(scope, record.owner, claim.owner, claim.locked_until):
                logger.warning("took over an abandoned idempotency claim")
                return _Claimed(claim.owner, record.submission_id, resumed=True)
        raise IdempotencyInProgress(scope)
