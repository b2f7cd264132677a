"""Identifiers: payments and merchants are named by random UUIDs (version 4)."""

from __future__ import annotations

from uuid import UUID


def parse_uuid(value: object) -> UUID | None:
    """The UUID spelled by `value` (canonical 36-character form), or None if it is not one."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        parsed = UUID(value)
    except ValueError:
        return None
    return parsed if str(parsed) == value.lower() else None
