"""Webhook signing secrets are shown once and nowhere else: not in any log line of any
process of the stack, not in the list, not on a replay."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from local.offline_log import read_service_log
from local.stack import LocalStack
from tests.security.support import FIGURES, auth

pytestmark = pytest.mark.security


def test_no_secret_is_in_any_log_or_later_answer(
    api: httpx.Client, stack: LocalStack, merchant: Any
) -> None:
    """Create (with a key, replayed once) and rotate twice: every secret shown is absent from
    the list, the replay, and every line of every log the stack wrote, whose lines about
    these requests were read (so the search was not of empty files)."""
    path = f"/merchant/{merchant.id}/webhook-endpoints"
    body = {
        "url": f"http://127.0.0.1:{stack.ports.webhook_sink}/webhooks/sec",
        "enabled_events": ["*"],
    }
    headers = {**auth(merchant.api_key), "Idempotency-Key": f"sec-{uuid.uuid4()}"}
    created = api.post(path, json=body, headers=headers)
    replay = api.post(path, json=body, headers=headers)
    endpoint_id = created.json()["id"]
    rotations = [
        api.post(
            f"{path}/{endpoint_id}/rotate-secret",
            json={"expires_in_hours": h},
            headers=auth(merchant.api_key),
        )
        for h in (1, 0)
    ]
    secrets = [created.json()["secret"], *(r.json()["secret"] for r in rotations)]
    listed = api.get(path, headers=auth(merchant.api_key)).text

    logs = {p.name: p.read_text(errors="replace") for p in sorted(stack.log_dir.glob("*.log"))}
    hits = [
        (name, secret[:10])
        for name, text in logs.items()
        for secret in secrets
        for form in (secret, secret.removeprefix("whsec_"))
        if form in text
    ]
    records = read_service_log(stack.log_dir / "merchant-api.log").records
    about = [r for r in records if r.get("endpoint_id") == endpoint_id]
    FIGURES["sentinel_places_scanned"] += sum(len(t.splitlines()) for t in logs.values())

    assert (201, 201, [200, 200]) == (
        created.status_code,
        replay.status_code,
        [r.status_code for r in rotations],
    )
    assert 3 == len(set(secrets))
    assert [] == [s for s in secrets if s in listed or s in replay.text]
    assert [] == hits
    assert {"webhook endpoint created", "webhook secret rotated"} <= {r["message"] for r in about}
