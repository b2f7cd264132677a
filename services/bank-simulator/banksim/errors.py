"""The error body every non-2xx answer carries (SPEC §3 "Errors", reused by the bank in §4)."""

from __future__ import annotations

from typing import Any

from banksim.validation import FieldError


def error_body(
    code: str,
    message: str,
    details: list[FieldError] | None = None,
) -> dict[str, Any]:
    """``{"error": {"code", "message", "details"}}``; ``details`` is empty unless fields failed."""
    return {"error": {"code": code, "message": message, "details": list(details or [])}}
