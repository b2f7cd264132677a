"""Fault injection for tests (SPEC §5): errors, latency, timeouts, lost/duplicate/late callbacks,
and the bank's mode (``idempotency: off``, a bank that has lost its key store).

``PUT /_sim/faults`` replaces the whole setting: a field left out goes back to its default, so
a test states every fault it relies on and never inherits one from an earlier test. The mode
(``PUT /_sim/mode``) is set apart, with the same replace semantics, so that clearing the
faults between tests does not silently turn the bank's idempotency back on mid-scenario.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from banksim.validation import FieldError

MAX_DELAY_MS = 600_000
MAX_DUPLICATES = 100

_RATES = ("error_rate", "timeout_rate", "drop_callback_rate")
_DURATIONS = ("timeout_ms", "latency_ms")


@dataclass(frozen=True)
class Faults:
    """The fault settings currently in force; the defaults inject nothing."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_ms: int = 5000
    latency_ms: int = 0
    drop_callback_rate: float = 0.0
    duplicate_callbacks: int = 1
    out_of_order: bool = False
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The settings as ``GET /_sim/faults`` shows them."""
        return asdict(self)


IDEMPOTENCY_VALUES = ("on", "off")


@dataclass(frozen=True)
class Mode:
    """How the bank treats a repeated Idempotency-Key: ``on`` answers the first charge again,
    ``off`` charges every accepted POST (a bank whose key store expired)."""

    idempotency: str = "on"

    @property
    def idempotent(self) -> bool:
        """True when a repeat is answered without a second charge."""
        return self.idempotency == "on"

    def to_json(self) -> dict[str, Any]:
        """The mode as ``GET /_sim/mode`` shows it."""
        return asdict(self)


class FaultsValidationError(ValueError):
    """A fault (or mode) body was rejected; ``details`` lists every failing field."""

    def __init__(self, details: list[FieldError], message: str = "invalid fault settings") -> None:
        super().__init__(message)
        self.details = details


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_faults(body: Any) -> Faults:
    """Faults from a ``PUT /_sim/faults`` body; raise FaultsValidationError listing all errors."""
    if not isinstance(body, dict):
        not_object: FieldError = {"field": "body", "message": "must be a JSON object"}
        raise FaultsValidationError([not_object])
    known = {f.name for f in fields(Faults)}
    unknown = sorted(set(body) - known)
    errors = [{"field": name, "message": "is not a known fault"} for name in unknown]
    for name in _RATES:
        if name in body and not (_is_number(body[name]) and 0 <= body[name] <= 1):
            errors.append({"field": name, "message": "must be a number from 0 to 1"})
    for name in _DURATIONS:
        value = body.get(name, 0)
        if not (_is_int(value) and 0 <= value <= MAX_DELAY_MS):
            message = f"must be an integer from 0 to {MAX_DELAY_MS}"
            errors.append({"field": name, "message": message})
    dup = body.get("duplicate_callbacks", 1)
    if not (_is_int(dup) and 1 <= dup <= MAX_DUPLICATES):
        message = f"must be an integer from 1 to {MAX_DUPLICATES}"
        errors.append({"field": "duplicate_callbacks", "message": message})
    if not isinstance(body.get("out_of_order", False), bool):
        errors.append({"field": "out_of_order", "message": "must be a boolean"})
    seed = body.get("seed")
    if seed is not None and not _is_int(seed):
        errors.append({"field": "seed", "message": "must be an integer or null"})
    if errors:
        raise FaultsValidationError(errors)
    values = {name: body[name] for name in known if name in body}
    for name in _RATES:
        if name in values:
            values[name] = float(values[name])
    return Faults(**values)


def parse_mode(body: Any) -> Mode:
    """The mode from a ``PUT /_sim/mode`` body; raise FaultsValidationError listing all errors."""
    if not isinstance(body, dict):
        not_object: FieldError = {"field": "body", "message": "must be a JSON object"}
        raise FaultsValidationError([not_object], "invalid mode")
    known = {f.name for f in fields(Mode)}
    errors: list[FieldError] = [
        {"field": name, "message": "is not a known mode"} for name in sorted(set(body) - known)
    ]
    value = body.get("idempotency", "on")
    if value not in IDEMPOTENCY_VALUES:
        errors.append({"field": "idempotency", "message": 'must be "on" or "off"'})
    if errors:
        raise FaultsValidationError(errors, "invalid mode")
    return Mode(idempotency=value)


class FaultInjector:
    """The current faults and one random source, so a seeded run draws the same faults again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()
        self._mode = Mode()
        self._rng = random.Random()

    @property
    def current(self) -> Faults:
        """A snapshot of the settings (immutable, so callers need no lock)."""
        with self._lock:
            return self._faults

    def set(self, faults: Faults) -> None:
        """Replace the settings and restart the random source from the new seed."""
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    @property
    def mode(self) -> Mode:
        """The bank's mode (immutable snapshot)."""
        with self._lock:
            return self._mode

    def set_mode(self, mode: Mode) -> None:
        """Replace the mode; the faults and the random source are left as they are."""
        with self._lock:
            self._mode = mode

    def reset(self) -> None:
        """Back to no faults at all and an idempotent bank."""
        self.set(Faults())
        self.set_mode(Mode())

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``; draws nothing for 0 or 1 to keep seeded runs stable."""
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        with self._lock:
            return self._rng.random() < rate
