"""The system resolver, as the webhook URL rules need it (shared_kernel/domain/webhook_url.py):
every address a host name resolves to, so that each one is checked, not just the first."""

from __future__ import annotations

import socket


def resolve_addresses(host: str, port: int) -> list[str]:
    """Every IPv4 and IPv6 address `getaddrinfo` gives for `host` (TCP), without repeats;
    raises OSError (socket.gaierror) when it does not resolve."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))
