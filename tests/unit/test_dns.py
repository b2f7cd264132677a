"""The system resolver of the webhook URL rules: every address, and a bounded wait."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from shared_kernel.adapters.dns import resolve_addresses

pytestmark = pytest.mark.unit


def test_every_address_is_returned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """All of getaddrinfo's addresses, IPv4 and IPv6, in its order, without repeats."""
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)),
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800::1", 443, 0, 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_, **__: answers)

    assert ["93.184.215.14", "2606:2800::1"] == resolve_addresses("merchant.example", 443)


def test_a_lookup_that_hangs_counts_as_not_resolving(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver slower than the timeout: OSError after about the timeout, not its wait."""

    def slow(*_: Any, **__: Any) -> list[Any]:
        time.sleep(2)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()

    with pytest.raises(OSError, match=r"did not resolve within 0\.2 s"):
        resolve_addresses("slow.example", 443, timeout_s=0.2)
    assert time.monotonic() - started < 1.5


def test_a_name_that_does_not_resolve_is_an_os_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """getaddrinfo's own error is raised as it is."""

    def fail(*_: Any, **__: Any) -> list[Any]:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)

    with pytest.raises(socket.gaierror):
        resolve_addresses("nowhere.example", 443)
