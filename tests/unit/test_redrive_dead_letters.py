"""The dead-letter redrive use case: at least once, in batches, bounded by a limit."""

from __future__ import annotations

import pytest

from shared_kernel.application.redrive_dead_letters import RedriveDeadLetters, RedriveReport

from .fakes import FakeDeadLetterQueue

pytestmark = pytest.mark.unit


def test_every_letter_is_sent_back_then_deleted_in_batches_of_ten() -> None:
    """12 letters: two batches, each sent to the queue before it is deleted from the DLQ."""
    letters = [f"m{n}" for n in range(12)]
    dead_letters = FakeDeadLetterQueue(list(letters))

    report = RedriveDeadLetters(dead_letters)()

    first, second = letters[:10], letters[10:]
    assert RedriveReport(moved=12, refused=0) == report
    assert letters == dead_letters.queue
    assert [
        ("take", first),
        ("send_back", first),
        ("delete", first),
        ("take", second),
        ("send_back", second),
        ("delete", second),
        ("take", []),
    ] == dead_letters.calls


def test_a_letter_the_queue_refuses_is_not_deleted() -> None:
    """A refused letter stays in the dead-letter queue (not deleted) and is counted."""
    dead_letters = FakeDeadLetterQueue(["a", "b", "c"], refuse={"b"})

    report = RedriveDeadLetters(dead_letters)()

    assert RedriveReport(moved=2, refused=1) == report
    assert ("delete", ["a", "c"]) == dead_letters.calls[2]


def test_a_batch_the_queue_refuses_entirely_deletes_nothing() -> None:
    """No delete call at all when the queue accepted none of a batch."""
    dead_letters = FakeDeadLetterQueue(["a"], refuse={"a"})

    report = RedriveDeadLetters(dead_letters)()

    assert RedriveReport(moved=0, refused=1) == report
    assert ["take", "send_back", "take"] == [operation for operation, _ in dead_letters.calls]


def test_the_limit_bounds_how_many_letters_are_taken() -> None:
    """limit=13 of 25: takes 10 then 3, and leaves the other 12 in the dead-letter queue."""
    dead_letters = FakeDeadLetterQueue([f"m{n}" for n in range(25)])

    report = RedriveDeadLetters(dead_letters)(limit=13)

    taken = [len(bodies) for operation, bodies in dead_letters.calls if operation == "take"]
    assert (RedriveReport(moved=13, refused=0), [10, 3], 12) == (
        report,
        taken,
        len(dead_letters.waiting),
    )
