"""The SSRF guard's address rules (no network: IP literals and names from /etc/hosts only)."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from vaern.crawler.netguard import NetGuard, refused_reason
from vaern.errors import BlockedAddress


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata endpoints live here
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "private"),  # reserved; Python counts 240/4 as private too
        ("100.64.0.1", "not globally routable"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: judged as the IPv4 address it carries
        ("::ffff:10.0.0.1", "private"),
        ("8.8.8.8", None),
        ("91.198.174.192", None),
        ("2a00:1450:4001:80e::200e", None),
    ],
)
def test_refused_reason(address: str, reason: str | None) -> None:
    assert refused_reason(ipaddress.ip_address(address)) == reason


def test_private_ip_literals_are_refused_unless_listed() -> None:
    guard = NetGuard(["127.0.0.1"])
    guard.check("http://127.0.0.1:8000/side")
    with pytest.raises(BlockedAddress, match=r"127\.0\.0\.2 is a loopback address not in network\.allow_private_hosts"):
        guard.check("http://127.0.0.2:8000/side")
    with pytest.raises(BlockedAddress, match="private"):
        guard.check("http://192.168.0.10/")
    with pytest.raises(BlockedAddress, match="loopback"):
        guard.check("http://[::1]:8080/")


def test_public_ip_literals_pass_without_any_lookup() -> None:
    NetGuard().check("http://93.184.216.34/")
    NetGuard().check("https://[2606:2800:220:1:248:1893:25c8:1946]/")


def test_networks_in_cidr_form_allow_every_address_in_them() -> None:
    guard = NetGuard(["10.20.0.0/16"])
    guard.check("http://10.20.5.6/")
    with pytest.raises(BlockedAddress):
        guard.check("http://10.21.0.1/")


def test_names_are_resolved_and_judged_by_their_addresses() -> None:
    with pytest.raises(BlockedAddress, match=r"localhost resolves to (127\.0\.0\.1|::1), which is a loopback address"):
        NetGuard(["192.168.0.0/16"]).check("http://LOCALHOST:8000/")
    # Every address the name resolves to must be allowed (localhost may also be ::1).
    NetGuard(["127.0.0.0/8", "::1"]).check("http://localhost:8000/")


def test_a_listed_name_is_allowed_whatever_it_resolves_to() -> None:
    NetGuard(["LocalHost"]).check("http://localhost./x")


def test_other_spellings_of_loopback_are_caught_by_resolving_them() -> None:
    guard = NetGuard()
    for url in ("http://2130706433/", "http://0x7f.1/", "http://127.1/"):
        with pytest.raises(BlockedAddress, match="loopback"):
            guard.check(url)


def test_only_http_and_https_are_fetched() -> None:
    for url in ("file:///etc/passwd", "ftp://93.184.216.34/x", "gopher://93.184.216.34/", "data:text/html,hi"):
        with pytest.raises(BlockedAddress, match="only http and https"):
            NetGuard(["0.0.0.0/0"]).check(url)


def test_check_async_applies_the_same_rules() -> None:
    async def both() -> None:
        guard = NetGuard(["127.0.0.1", "::1"])
        await guard.check_async("http://localhost:1/")
        with pytest.raises(BlockedAddress, match="loopback"):
            await guard.check_async("http://127.0.0.3/")

    asyncio.run(both())


def test_the_address_to_connect_to_is_the_one_judged() -> None:
    """The guard proxy connects where the guard looked: a literal as written, a name as it
    resolved when judged (no second lookup), an allowed name whatever it resolves to."""

    async def judge() -> list[str]:
        guard = NetGuard(["127.0.0.1", "localhost"])
        found = [str(await guard.connect_address("http://127.0.0.1:8080/api")),
                 str(await guard.connect_address("http://localhost:8080/"))]
        for url in ("http://127.0.0.2:8080/api", "http://[::ffff:127.0.0.2]/", "http://no-such-host.invalid/"):
            with pytest.raises(BlockedAddress, match="refused"):
                await guard.connect_address(url)
        return found

    literal, name = asyncio.run(judge())
    assert literal == "127.0.0.1" and name in ("127.0.0.1", "::1")
