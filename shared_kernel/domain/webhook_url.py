"""The rules of a merchant's webhook URL (SPEC §10), checked at registration and again by the
sender before each delivery (DNS can change in between): `check_webhook_url` parses the URL,
resolves its host with the resolver it is given and returns the addresses it checked, which
are the only ones a delivery may connect to.

AWS stages accept only `https` URLs whose host resolves to public addresses only: every
address the resolver returns must be globally routable unicast. Refused: loopback, private,
link-local (the metadata service 169.254.169.254 among them), unique-local (fd00:ec2::254),
multicast, reserved, unspecified, shared (CGNAT 100.64.0.0/10), documentation and
benchmarking ranges, and any IPv6 form that wraps an IPv4 address (IPv4-mapped, 6to4, NAT64,
Teredo) whose IPv4 address is one of those: Python 3.11's `is_global` calls 224.0.0.1 and
64:ff9b::a00:1 global, so the wrapped address is unwrapped and checked itself. A host spelt
as a number that is not a dotted quad (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) is
refused: resolvers read those as IPv4 addresses, so they are addresses in disguise.

The local stage (`make start`) also accepts `http://127.0.0.1:<port>` and
`http://localhost:<port>` (a port given): the local webhook receiver. Nothing else local.

No user information (`user:pass@`), no fragment, ports 1 to 65535, hosts in ASCII (IDNs in
their punycode form), at most 2048 characters.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
LOCAL_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"}
# The cloud's instance metadata service, IPv4 and IPv6 (named in the refusal).
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# Ranges `is_global` does not cover on every supported Python (3.11 to 3.13).
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # shared address space (CGNAT)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo is unwrapped before this)
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# A last label of digits or hex: resolvers read such a host as an IPv4 number.
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$)({_LABEL}\.)*{_LABEL}")
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")

LOCAL_ONLY = "must be an https URL, or http://127.0.0.1:<port> or http://localhost:<port>"
# host, port -> every address it resolves to (textual IPs); raises OSError if it does not.
Resolver = Callable[[str, int], Sequence[str]]


class UnsafeUrl(ValueError):
    """The URL breaks a rule; the message says which, for the merchant to read."""


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A URL that passed: its parts, and the addresses its host resolved to (all checked).
    A delivery connects to one of `addresses`, sending `host` as Host and TLS server name."""

    url: str
    scheme: str
    host: str
    port: int
    target: str  # path and query, at least "/"
    addresses: tuple[str, ...]


def address_problem(text: str) -> str | None:
    """Why an address may not receive webhooks in an AWS stage, or None if it is public."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "is not an IP address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "is a scoped IPv6 address"
        for wrapped in _wrapped_ipv4(address):
            problem = address_problem(str(wrapped))
            if problem is not None:
                return f"wraps {wrapped}, which {problem}"
    if address in METADATA_ADDRESSES:
        return "is the cloud metadata service"
    for kind, refused in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if refused:
            return f"is a {kind} address"
    if any(address in network for network in _NOT_PUBLIC if network.version == address.version):
        return "is not a public address"
    if not address.is_global:
        return "is not a public address"
    return None


def _wrapped_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def check_webhook_url(url: object, *, local_stage: bool, resolve: Resolver) -> CheckedUrl:
    """The checked URL and the addresses it may be delivered to; raises UnsafeUrl naming the
    first rule it breaks. `local_stage` adds the loopback receiver URLs of `make start`."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("must be a URL")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"must be at most {MAX_URL_LENGTH} characters")
    if _FORBIDDEN_CHARACTERS.search(url):
        raise UnsafeUrl("must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("must be a URL with a valid host and a port from 1 to 65535") from None
    scheme = parts.scheme.lower()
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("must not contain user information")
    if parts.fragment or url.endswith("#"):
        raise UnsafeUrl("must not have a fragment")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("must name a host")
    if port == 0:
        raise UnsafeUrl("must use a port from 1 to 65535")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # Exactly host:port, the port given: the local receiver, nothing else on this machine.
    if local_stage and scheme == "http" and parts.netloc.lower() == f"{host}:{port}":
        if host not in LOCAL_HOSTS:
            raise UnsafeUrl(LOCAL_ONLY)
        return CheckedUrl(url, scheme, host, int(port or 0), target, (LOCAL_HOSTS[host],))
    if scheme != "https":
        raise UnsafeUrl(LOCAL_ONLY if local_stage else "must be an https URL")
    port = 443 if port is None else port
    return CheckedUrl(url, scheme, host, port, target, _public_addresses(host, port, resolve))


def _public_addresses(host: str, port: int, resolve: Resolver) -> tuple[str, ...]:
    literal = _ip_literal(host)
    if literal is not None:
        addresses: Sequence[str] = [literal]
    else:
        if not _HOST_NAME.fullmatch(host):
            raise UnsafeUrl("must have a valid ASCII host name (an IDN in its punycode form)")
        if _NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]):
            raise UnsafeUrl("must spell an IPv4 host as four decimal numbers (a.b.c.d)")
        try:
            addresses = resolve(host, port)
        except OSError:
            raise UnsafeUrl("has a host that does not resolve") from None
        if not addresses:
            raise UnsafeUrl("has a host that does not resolve")
    checked = []
    for address in dict.fromkeys(addresses):
        problem = address_problem(address)
        if problem is not None:
            raise UnsafeUrl(f"must resolve to public addresses only: {address} {problem}")
        checked.append(address)
    return tuple(checked)


def _ip_literal(host: str) -> str | None:
    """The host's IP address if it is an IPv4 dotted quad or an IPv6 literal, else None."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if "%" in host:  # an IPv6 zone (fe80::1%eth0): never a public address
        raise UnsafeUrl("must not name an IPv6 zone")
    return None
