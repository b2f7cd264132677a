"""Scheduled (and on demand): move stuck payments on — see application/reconcile.py."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger
from shared_kernel.observability.metrics import metrics
from shared_kernel.observability.tracing import traced

logger = get_logger("bank-forwarder")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@traced("bank-forwarder")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run one reconciler pass and report its counts."""
    try:
        report = asdict(gateway().reconcile())
    except Exception:
        logger.exception("reconciler pass failed")
        return {"ok": False}
    logger.info("reconciled", extra=report)
    return {"ok": True, **report}
