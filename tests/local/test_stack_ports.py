"""`make start` (`python -m local.stack`) checks every port before it starts anything, and
names a busy one with the variable that moves it instead of failing half-way with a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import Ports, PortsUnavailable, free_port, free_ports, port_free

pytestmark = pytest.mark.local

ROOT = Path(__file__).resolve().parents[2]
PORT_VARIABLES = (
    "MERCHANT_API_PORT",
    "CALLBACK_API_PORT",
    "BANK_SIMULATOR_PORT",
    "AWS_EMULATOR_PORT",
    "WEBHOOK_SINK_PORT",
)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 this test listens on for its whole duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def run_stack(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m local.stack` with `env` added; stopped with SIGTERM (its own clean stop)
    if it is still running after 60 s, which would mean the check let it start."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize("variable", PORT_VARIABLES)
def test_a_taken_port_stops_make_start_before_anything_starts(
    variable: str, taken_port: int
) -> None:
    """A busy public port: exit 1, a message naming the port and its variable, no traceback,
    nothing started (every part announces itself on stdout first) and the other ports free."""
    ports = {name: str(free_port()) for name in PORT_VARIABLES}
    ports[variable] = str(taken_port)

    result = run_stack(ports)

    assert 1 == result.returncode, result.stdout + result.stderr
    assert f"port {taken_port} on 127.0.0.1" in result.stderr
    assert f"set {variable} to a free port" in result.stderr
    assert "Traceback" not in result.stderr
    assert "" == result.stdout
    others = [int(port) for name, port in ports.items() if name != variable]
    assert [True] * len(others) == [port_free(port) for port in others]


def test_two_parts_given_one_port_are_both_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two variables set to the same port: one problem naming both variables."""
    shared, *distinct = free_ports(len(PORT_VARIABLES) + 1)
    for name, port in zip(PORT_VARIABLES, distinct, strict=True):
        monkeypatch.setenv(name, str(port))
    monkeypatch.setenv("MERCHANT_API_PORT", str(shared))
    monkeypatch.setenv("CALLBACK_API_PORT", str(shared))

    problems = Ports.from_env().problems()

    assert [
        f"the merchant API (MERCHANT_API_PORT) and the bank callback API (CALLBACK_API_PORT) "
        f"are both port {shared}: move one"
    ] == problems


def test_a_port_that_is_not_a_number_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port variable that is not a port number is refused by name, not with a ValueError."""
    monkeypatch.setenv("BANK_SIMULATOR_PORT", "30o2")

    with pytest.raises(PortsUnavailable, match=r"BANK_SIMULATOR_PORT='30o2' is not a port"):
        Ports.from_env()


def test_free_ports_have_no_problem() -> None:
    """Ports nothing listens on pass the check (it does not cry wolf)."""
    assert [] == Ports.all_free().problems()
