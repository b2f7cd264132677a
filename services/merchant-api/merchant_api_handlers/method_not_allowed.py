"""Any method a merchant route does not declare — 405 with the `Allow` header (RFC 9110).

API Gateway sends a resource's undeclared methods to its `ANY` method, which is this
function; the declared ones keep their own integrations. It touches nothing and needs no key.
"""

from __future__ import annotations

from typing import Any

from shared_kernel.api.merchant import method_not_allowed


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer 405 method_not_allowed naming the methods the resource has."""
    return method_not_allowed(event)
