"""The system resolver, as the webhook URL rules need it (shared_kernel/domain/webhook_url.py):
every address a host name resolves to, so that each one is checked, not just the first.

`getaddrinfo` takes no timeout and a slow DNS server could hold a request (or a delivery)
for its whole run, so the lookup runs in a daemon thread and is abandoned after
`timeout_s` (it then counts as not resolving)."""

from __future__ import annotations

import socket
import threading

TIMEOUT_S = 2.0


def resolve_addresses(host: str, port: int, timeout_s: float = TIMEOUT_S) -> list[str]:
    """Every IPv4 and IPv6 address `getaddrinfo` gives for `host` (TCP), without repeats;
    raises OSError when it does not resolve within `timeout_s`."""
    answer: list[list[str] | OSError] = []

    def look_up() -> None:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            answer.append(list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found)))
        except OSError as error:
            answer.append(error)

    thread = threading.Thread(target=look_up, name="resolve", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not answer:
        raise OSError(f"{host} did not resolve within {timeout_s} s")
    if isinstance(answer[0], OSError):
        raise answer[0]
    return answer[0]
