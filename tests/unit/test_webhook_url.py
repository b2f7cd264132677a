"""The webhook URL rules (shared_kernel/domain/webhook_url.py): a table of SSRF attempts and of
URLs that must pass, with an injected resolver standing in for DNS."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from shared_kernel.domain.webhook_url import (
    CheckedUrl,
    UnsafeUrl,
    address_problem,
    check_webhook_url,
)

pytestmark = pytest.mark.unit

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
# What the fake DNS answers, by host name.
DNS: dict[str, list[str]] = {
    "merchant.example": [PUBLIC_V4],
    "dual.merchant.example": [PUBLIC_V4, PUBLIC_V6],
    "internal.merchant.example": ["10.0.0.7"],
    "rebind.merchant.example": [PUBLIC_V4, "127.0.0.1"],  # one bad address among good ones
    "metadata.merchant.example": ["169.254.169.254"],
    "v6-metadata.merchant.example": ["fd00:ec2::254"],
    "mapped.merchant.example": ["::ffff:192.168.1.1"],
    "nat64.merchant.example": ["64:ff9b::a00:1"],
    "cgnat.merchant.example": ["100.64.0.1"],
    "localhost": ["127.0.0.1", "::1"],
}


class FakeResolver:
    """Answers from DNS; records what it was asked (unknown names do not resolve)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append((host, port))
        if host not in DNS:
            raise OSError(f"{host} does not resolve")
        return DNS[host]


# (url, words of the refusal): every one must be refused in an AWS stage.
SSRF_ATTEMPTS = [
    ("http://merchant.example/hook", "https"),
    ("ftp://merchant.example/hook", "https"),
    ("https://127.0.0.1/hook", "loopback"),
    ("https://127.8.9.10/hook", "loopback"),
    ("https://localhost/hook", "loopback"),
    ("https://10.1.2.3/", "private"),
    ("https://172.16.0.1/", "private"),
    ("https://192.168.0.1/", "private"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("https://169.254.1.1/", "link-local"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://[::]/", "unspecified"),
    ("https://[::1]/", "loopback"),
    ("https://[fe80::1]/", "link-local"),
    ("https://[fe80::1%25eth0]/", "scoped IPv6"),
    ("https://[fc00::1]/", "private"),
    ("https://224.0.0.1/", "multicast"),
    ("https://239.255.255.250/", "multicast"),
    ("https://[ff02::1]/", "multicast"),
    ("https://240.0.0.1/", "240.0.0.1 is a private"),  # 3.11: private before reserved
    ("https://255.255.255.255/", "255.255.255.255 is a private"),
    ("https://100.64.0.1/", "not a public address"),
    ("https://192.0.2.1/", "private"),
    ("https://198.18.0.1/", "private"),
    ("https://[::ffff:127.0.0.1]/", "127.0.0.1"),
    ("https://[::ffff:a9fe:a9fe]/", "169.254.169.254"),
    ("https://[2002:7f00:1::]/", "127.0.0.1"),
    ("https://[2002:c0a8:101::]/", "192.168.1.1"),
    ("https://[64:ff9b::a00:1]/", "10.0.0.1"),
    ("https://[64:ff9b::7f00:1]/", "127.0.0.1"),
    ("https://[64:ff9b:1::1]/", "64:ff9b:1::1 is a"),  # reserved; private on 3.13
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "private"),
    ("https://2130706433/", "four decimal numbers"),
    ("https://0x7f000001/", "four decimal numbers"),
    ("https://0x7f.0.0.1/", "four decimal numbers"),
    ("https://0177.0.0.1/", "four decimal numbers"),
    ("https://127.1/", "four decimal numbers"),
    ("https://017700000001/", "four decimal numbers"),
    ("https://internal.merchant.example/hook", "10.0.0.7 is a private"),
    ("https://rebind.merchant.example/hook", "127.0.0.1 is a loopback"),
    ("https://metadata.merchant.example/", "metadata"),
    ("https://v6-metadata.merchant.example/", "metadata"),
    ("https://mapped.merchant.example/", "192.168.1.1"),
    ("https://nat64.merchant.example/", "10.0.0.1"),
    ("https://cgnat.merchant.example/", "not a public address"),
    ("https://unknown.merchant.example/", "does not resolve"),
    ("https://user:pass@merchant.example/", "user information"),
    ("https://merchant.example@127.0.0.1/", "user information"),
    ("https://@merchant.example/", "user information"),
    ("https://merchant.example:0/", "port"),
    ("https://merchant.example:65536/", "port"),
    ("https://merchant.example:99999/", "port"),
    ("https://merchant.example/hook#frag", "fragment"),
    ("https://merchant.example/ho ok", "spaces"),
    ("https://merchant.example\\@127.0.0.1/", "backslashes"),
    ("https://merchant.example/\x00", "control"),
    ("https:///hook", "host"),
    ("https://bücher.example/", "ASCII host"),
    ("https://" + "a" * 64 + ".example/", "ASCII host"),
    ("https://merchant.example/" + "a" * 2048, "2048"),
    ("http://127.0.0.1:3003/hook", "https"),  # the local receiver: local stage only
    ("", "must be a URL"),
]


@pytest.mark.parametrize(("url", "reason"), SSRF_ATTEMPTS)
def test_an_ssrf_attempt_is_refused_in_an_aws_stage(url: str, reason: str) -> None:
    """Each URL of the table is refused in an AWS stage, for the reason the table names."""
    with pytest.raises(UnsafeUrl) as refused:
        check_webhook_url(url, local_stage=False, resolve=FakeResolver())

    assert reason in str(refused.value)


def test_the_table_has_more_than_sixty_attempts() -> None:
    """The SSRF table is as large as its docstring claims (guards against a shrinking table)."""
    assert len(SSRF_ATTEMPTS) >= 60


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://merchant.example/hook?x=1",
            CheckedUrl(
                "https://merchant.example/hook?x=1",
                "https",
                "merchant.example",
                443,
                "/hook?x=1",
                (PUBLIC_V4,),
            ),
        ),
        (
            "HTTPS://Dual.Merchant.Example:8443",
            CheckedUrl(
                "HTTPS://Dual.Merchant.Example:8443",
                "https",
                "dual.merchant.example",
                8443,
                "/",
                (PUBLIC_V4, PUBLIC_V6),
            ),
        ),
        (
            f"https://{PUBLIC_V4}/h",
            CheckedUrl(f"https://{PUBLIC_V4}/h", "https", PUBLIC_V4, 443, "/h", (PUBLIC_V4,)),
        ),
        (
            f"https://[{PUBLIC_V6}]/h",
            CheckedUrl(f"https://[{PUBLIC_V6}]/h", "https", PUBLIC_V6, 443, "/h", (PUBLIC_V6,)),
        ),
    ],
)
def test_a_public_https_url_passes_with_every_address_it_resolves_to(
    url: str, expected: CheckedUrl
) -> None:
    """A public https URL passes; the answer holds every address checked, in DNS order."""
    assert expected == check_webhook_url(url, local_stage=False, resolve=FakeResolver())


def test_the_resolver_is_asked_for_the_host_and_port() -> None:
    """A host name is resolved (with the URL's port); an IP literal never is."""
    resolver = FakeResolver()

    check_webhook_url("https://merchant.example:8443/", local_stage=False, resolve=resolver)
    check_webhook_url(f"https://{PUBLIC_V4}/", local_stage=False, resolve=resolver)

    assert [("merchant.example", 8443)] == resolver.asked


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://127.0.0.1:3003/hook", "127.0.0.1", 3003),
        ("http://localhost:3003", "localhost", 3003),
        ("HTTP://LOCALHOST:9/x", "localhost", 9),
    ],
)
def test_the_local_stage_accepts_the_local_receiver(url: str, host: str, port: int) -> None:
    """Locally, http on 127.0.0.1 or localhost with a port passes, addressed to 127.0.0.1
    (never resolved: localhost may also be ::1)."""
    resolver = FakeResolver()

    checked = check_webhook_url(url, local_stage=True, resolve=resolver)

    assert (host, port, ("127.0.0.1",), []) == (
        checked.host,
        checked.port,
        checked.addresses,
        resolver.asked,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",  # no port
        "http://localhost/hook",
        "http://127.0.0.2:3003/",
        "http://10.0.0.1:3003/",
        "http://[::1]:3003/",
        "http://merchant.example:80/",
        "http://user@127.0.0.1:3003/",
        "http://127.0.0.1:0/",
        "https://127.0.0.1:3003/",
        "http://2130706433:3003/",
    ],
)
def test_the_local_stage_accepts_nothing_else_local(url: str) -> None:
    """Locally, every other loopback, private or http URL is still refused."""
    with pytest.raises(UnsafeUrl):
        check_webhook_url(url, local_stage=True, resolve=FakeResolver())


def test_the_local_stage_still_accepts_public_https() -> None:
    """Locally a public https URL passes as in AWS."""
    checked = check_webhook_url(
        "https://merchant.example/", local_stage=True, resolve=FakeResolver()
    )

    assert (PUBLIC_V4,) == checked.addresses


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", "is a reserved address"),  # no DNS answer needs a mapped address
        ("224.0.0.1", "is a multicast address"),  # is_global is True on Python 3.11
        ("64:ff9b::a00:1", "wraps 10.0.0.1, which is a private address"),  # likewise
        ("not-an-ip", "is not an IP address"),
    ],
)
def test_address_problem_unwraps_what_is_global_gets_wrong(
    address: str, problem: str | None
) -> None:
    """Multicast and wrapped private addresses are refused whatever `is_global` says."""
    assert problem == address_problem(address)
