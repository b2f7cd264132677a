"""Use case: move the messages of the payment queue's dead-letter queue back to the queue
(an operator's `dlq redrive`, once the fault that sent them there is fixed).

At least once, never at most once: a letter is deleted from the dead-letter queue only after
the payment queue accepted it. A crash between the two leaves it in both, and the forwarder
treats the duplicate as it treats any (forwarding is idempotent per payment). A letter the
payment queue refused stays in the dead-letter queue and reappears there when its
visibility timeout ends, after this run (which stops at the first empty read).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared_kernel.application.ports import NO_METRICS, DeadLetterQueue, Metrics

BATCH = 10  # SQS's largest receive and send batch


@dataclass(frozen=True, slots=True)
class RedriveReport:
    """What one redrive did: letters moved to the queue, and letters the queue refused."""

    moved: int
    refused: int


@dataclass(frozen=True, slots=True)
class RedriveDeadLetters:
    """Send dead letters back to the payment queue, each deleted only once it is there."""

    dead_letters: DeadLetterQueue
    metrics: Metrics = NO_METRICS

    def __call__(self, limit: int | None = None) -> RedriveReport:
        """Move letters until the dead-letter queue reads empty or `limit` were taken."""
        moved = refused = 0
        while limit is None or moved + refused < limit:
            wanted = BATCH if limit is None else min(BATCH, limit - moved - refused)
            letters = self.dead_letters.take(wanted)
            if not letters:
                break
            accepted = self.dead_letters.send_back(letters)
            if accepted:
                self.dead_letters.delete(accepted)
            moved += len(accepted)
            refused += len(letters) - len(accepted)
        self.metrics.count("DlqMessagesRedriven", moved)
        self.metrics.count("DlqMessagesRefused", refused)
        return RedriveReport(moved, refused)
