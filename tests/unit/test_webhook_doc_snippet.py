"""The signature check docs/webhooks.md gives merchants, run as the page prints it: it accepts
what the gateway signs (any v1 of any live secret, within 300 s) and refuses everything else."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SNIPPET = re.compile(r"<!-- verify-snippet -->\n```python\n(.*?)```", re.DOTALL)
BODY = b'{"id":"evt","type":"payment.succeeded","data":{"object":{"id":"p"}}}'
OLD = "whsec_" + "o" * 43
NEW = "whsec_" + "n" * 43
T = 1_796_378_400


def signature(secret: str, t: int, body: bytes = BODY) -> str:
    """HMAC-SHA256 hex of `<t>.<body>` under the secret's UTF-8 bytes (SPEC §10), computed
    here independently of the snippet."""
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def snippet() -> Callable[..., bool]:
    """The page's code, executed in a namespace of its own; its verify function."""
    found = SNIPPET.search(DOC.read_text(encoding="utf-8"))
    assert found is not None, "docs/webhooks.md lost its verify snippet"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - our own doc
    verify: Callable[..., bool] = namespace["verify_gateway_signature"]
    return verify


@pytest.mark.parametrize(
    ("header", "secrets", "now", "expected"),
    [
        pytest.param(f"t={T},v1={signature(NEW, T)}", [NEW], T, True, id="one-secret"),
        pytest.param(
            f"t={T},v1={signature(NEW, T)},v1={signature(OLD, T)}",
            [OLD],
            T + 1,
            True,
            id="rotation-old-secret-matches-second-v1",
        ),
        pytest.param(
            f"t={T},v1={signature(NEW, T)},v1={signature(OLD, T)}",
            [NEW],
            T,
            True,
            id="rotation-new-secret",
        ),
        pytest.param(f"t={T},v1={signature(NEW, T)}", [OLD], T, False, id="wrong-secret"),
        pytest.param(f"t={T},v1={signature(NEW, T)}", [NEW], T + 300, True, id="300s-old"),
        pytest.param(f"t={T},v1={signature(NEW, T)}", [NEW], T + 301, False, id="301s-old"),
        pytest.param(f"t={T},v1={signature(NEW, T)}", [NEW], T - 301, False, id="from-future"),
        pytest.param(f"t={T + 1},v1={signature(NEW, T)}", [NEW], T, False, id="t-changed"),
        pytest.param(f"v1={signature(NEW, T)}", [NEW], T, False, id="no-t"),
        pytest.param(f"t={T}", [NEW], T, False, id="no-v1"),
        pytest.param("", [NEW], T, False, id="empty"),
        pytest.param(f"t={T},v1={signature(NEW, T).upper()}", [NEW], T, False, id="upper-hex"),
        pytest.param(f"t={T},v0={signature(NEW, T)}", [NEW], T, False, id="other-scheme"),
    ],
)
def test_the_documented_check_accepts_only_a_fresh_signature_of_a_known_secret(
    header: str, secrets: list[str], now: int, expected: bool
) -> None:
    """Each header against the snippet's verdict."""
    assert expected == snippet()(BODY, header, secrets, now=now)


def test_the_documented_check_refuses_a_changed_body() -> None:
    """One byte changed in the body: refused (the raw body is what is signed)."""
    header = f"t={T},v1={signature(NEW, T)}"

    assert (True, False) == (
        snippet()(BODY, header, [NEW], now=T),
        snippet()(BODY.replace(b"succeeded", b"succeedeD"), header, [NEW], now=T),
    )
