"""The SSRF guard's address rules (no network: IP literals and names from /etc/hosts only)."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from vaern.crawler.netguard import NetGuard, embedded_ipv4, refused_reason
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


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # 6to4 (2002::/16): the IPv4 address in bits 16-47.
        ("2002:7f00:1::", "6to4 form of a loopback"),
        ("2002:a00:1:1234::1", "6to4 form of a private"),
        ("2002:c0a8:101::", "6to4 form of a private"),
        ("2002:a9fe:a9fe::", "6to4 form of a link-local"),
        ("2002:6440:1::", "6to4 form of a not globally routable"),
        ("2002::1", "6to4 form of an unspecified"),
        ("2002:808:808::1", None),  # 8.8.8.8: 6to4 of a public address is public
        # Teredo (2001::/32): the client's IPv4 address bit-inverted in the last 32 bits
        # (server 65.54.227.120 in bits 32-63).
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo form of a loopback"),  # client 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo form of a private"),  # client 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3f57:fefe", "Teredo form of a private"),  # client 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:5601:5601", "Teredo form of a link-local"),  # client 169.254.169.254
        ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "Teredo form of a private"),  # server 10.0.0.1, client 8.8.8.8
        # NAT64: the well-known prefix 64:ff9b::/96 carries the IPv4 address in its last 32 bits;
        # the local-use 64:ff9b:1::/48 at the place its operator's prefix length puts it.
        ("64:ff9b::7f00:1", "NAT64 form of a loopback"),
        ("64:ff9b::a9fe:a9fe", "NAT64 form of a link-local"),
        ("64:ff9b::c0a8:101", "NAT64 form of a private"),
        ("64:ff9b:1::a00:1", "NAT64 form of a private"),  # a /96 local-use prefix
        ("64:ff9b:1::7f00:1", "NAT64 form of a loopback"),
    ],
)
def test_ipv6_forms_carrying_an_ipv4_address_are_judged_by_that_address(address: str, reason: str | None) -> None:
    assert refused_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("64:ff9b:1:ffff:7f:0:100::", "127.0.0.1"),  # a /64 prefix: bits 72-103
        ("64:ff9b:1:ff7f:0:1::", "127.0.0.1"),  # a /56 prefix: bits 56-63, 72-95
        ("64:ff9b:1:7f00:0:100::", "127.0.0.1"),  # a /48 prefix: bits 48-63, 72-87
        ("64:ff9b:1:a00:0:100::", "10.0.0.1"),
    ],
)
def test_a_local_use_nat64_address_is_judged_at_every_place_its_prefix_length_may_put_the_ipv4_address(
    address: str, carried: str
) -> None:
    ipv6 = ipaddress.IPv6Address(address)
    assert ("NAT64", ipaddress.IPv4Address(carried)) in embedded_ipv4(ipv6)
    reason = refused_reason(ipv6)
    assert reason is not None and reason.startswith("NAT64 form of")


def test_a_6to4_literal_of_loopback_is_refused_even_with_loopback_allowed() -> None:
    # allow_private_hosts names addresses, not other routes to them.
    with pytest.raises(BlockedAddress, match=r"2002:7f00:1:: is a 6to4 form of a loopback address"):
        NetGuard(["127.0.0.1"]).check("http://[2002:7f00:1::]:8000/")


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
