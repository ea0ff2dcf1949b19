"""The SSRF guard: refuse to fetch anything on a private, loopback or otherwise internal address.

Værn fetches URLs that strangers control (links on hate pages, redirects), so a crawl must never
become a way to reach the machine it runs on or the municipality's internal network. Every
request the crawler makes — start URLs, search URLs, followed links, redirect targets, robots.txt
— passes `NetGuardMiddleware`, which resolves the host name and refuses the request when any
address it resolves to is private, loopback, link-local, multicast, reserved, unspecified or
otherwise not globally routable, unless the host is listed in `network.allow_private_hosts`.
IPv6 forms that carry an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64) are judged by it too.
Only http and https are fetched at all.

`network.allow_private_hosts` entries are host names (compared case-insensitively), IP
addresses, or networks in CIDR form (`10.20.0.0/16`). A listed name allows that name whatever it
resolves to; a listed address or network allows those addresses under any name.

DNS rebinding: the browser's connections cannot rebind: its guard proxy (crawler/guardproxy.py)
connects to the very address `connect_address()` judged. Scrapy's HTTP downloader still resolves
the name a second time to connect, so a name server that answers differently the second time
can slip past there; closing that means pinning Scrapy's connection to the checked address in
the download handler. Until then, run Værn where the resolver is trusted.

`NetGuard.check()` / `NetGuard.check_async()` are usable outside Scrapy too; the guard proxy asks
`connect_address()` about every connection a browser makes, and the feed poll connects to the
address `connect_address_blocking()` judged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

from vaern.errors import BlockedAddress

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})


# RFC 6052: where a NAT64 prefix of each length (those 64:ff9b::/96 and 64:ff9b:1::/48 allow)
# carries the IPv4 address, as octet indices into the 16 bytes; octet 8 is reserved and skipped.
_RFC6052_OCTETS = {
    48: (6, 7, 9, 10),
    56: (7, 9, 10, 11),
    64: (9, 10, 11, 12),
    96: (12, 13, 14, 15),
}
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
# Local-use NAT64 (RFC 8215): the operator picks a prefix of /48 or longer inside it, so the
# IPv4 address may sit at any position those lengths use (/96, the usual one, is judged first).
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


def refused_reason(address: IPAddress) -> str | None:
    """Why this address may not be fetched, or None when it is a public address.

    IPv6 forms that carry an IPv4 address and reach it (IPv4-mapped, 6to4, Teredo, NAT64) are
    judged by the IPv4 address they carry as well: 2002:7f00:1:: is a way to 127.0.0.1.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            # ::ffff:127.0.0.1 reaches 127.0.0.1; judge the IPv4 address it carries.
            address = address.ipv4_mapped
        else:
            refused = [(form, r) for form, carried in embedded_ipv4(address) if (r := _flag_reason(carried))]
            if refused:
                # Unused positions hold zero bits: "unspecified" names the address only as a last resort.
                form, reason = next((x for x in refused if x[1] != "unspecified"), refused[0])
                return f"{form} form of {'an' if reason[0] in 'aeiou' else 'a'} {reason}"
    return _flag_reason(address)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address leads to, with the name of its form: 6to4 (2002::/16,
    the IPv4 address in bits 16-47), Teredo (2001::/32: the client, bit-inverted in the last 32
    bits, and the Teredo server, which relays may contact too), NAT64 (64:ff9b::/96, and every
    position a local-use prefix in 64:ff9b:1::/48 may use). IPv4-mapped addresses are not
    listed here: they are the IPv4 address."""
    if address.sixtofour is not None:
        return [("6to4", address.sixtofour)]
    if address.teredo is not None:
        server, client = address.teredo
        return [("Teredo", client), ("Teredo", server)]
    if address in _NAT64_WELL_KNOWN:
        return [("NAT64", _rfc6052(address, 96))]
    if address in _NAT64_LOCAL_USE:
        return [("NAT64", _rfc6052(address, length)) for length in (96, 64, 56, 48)]
    return []


def _rfc6052(address: ipaddress.IPv6Address, prefix_length: int) -> ipaddress.IPv4Address:
    packed = address.packed
    return ipaddress.IPv4Address(bytes(packed[i] for i in _RFC6052_OCTETS[prefix_length]))


def _flag_reason(address: IPAddress) -> str | None:
    for flag, label in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(address, flag):
            return label
    if not address.is_global:
        # Shared address space (100.64.0.0/10) and similar special-purpose ranges.
        return "not globally routable"
    return None


class NetGuard:
    """Decides whether a URL may be fetched; see the module docstring for the rules."""

    def __init__(self, allow_private_hosts: Iterable[str] = ()) -> None:
        self._names: set[str] = set()
        self._networks: list[IPNetwork] = []
        for entry in allow_private_hosts:
            entry = entry.strip().strip("[]")
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._names.add(entry.lower().rstrip("."))
        # Resolved addresses per host name for the life of this guard (one crawl).
        self._resolved: dict[str, list[IPAddress]] = {}

    def _address_allowed(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self._networks)

    def _split(self, url: str) -> tuple[str, IPAddress | None]:
        """The URL's host (lower-case) and, when the host is an IP literal, its address."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            raise BlockedAddress(f"refused {url}: only http and https URLs are fetched")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise BlockedAddress(f"refused {url}: no host")
        try:
            return host, ipaddress.ip_address(host)
        except ValueError:
            return host, None

    def _judge(self, url: str, host: str, addresses: list[IPAddress]) -> None:
        if not addresses:
            raise BlockedAddress(f"refused {url}: {host} does not resolve")
        for address in addresses:
            reason = refused_reason(address)
            if reason is not None and not self._address_allowed(address):
                what = host if str(address) == host else f"{host} resolves to {address}, which"
                raise BlockedAddress(
                    f"refused {url}: {what} is a {reason} address not in network.allow_private_hosts"
                )

    def check(self, url: str) -> None:
        """Raise BlockedAddress unless `url` may be fetched. Resolves the host (blocking)."""
        host = self._judged_without_lookup(url)
        if host is not None:
            self._resolved[host] = _addresses(_getaddrinfo_blocking(host))
            self._judge(url, host, self._resolved[host])

    async def check_async(self, url: str) -> None:
        """Like `check`, resolving the host without blocking the event loop."""
        host = self._judged_without_lookup(url)
        if host is not None:
            self._resolved[host] = _addresses(await _getaddrinfo(host))
            self._judge(url, host, self._resolved[host])

    async def connect_address(self, url: str) -> IPAddress:
        """The address to connect to for `url`: one of those the guard judged, so the connection
        goes where the check looked (no second lookup a name server could answer differently).
        Raises BlockedAddress like `check`."""
        unjudged = self._judged_without_lookup(url)  # raises when refused without a lookup
        host, literal = self._split(url)
        if literal is not None:
            return literal
        if host not in self._resolved:
            self._resolved[host] = _addresses(await _getaddrinfo(host))
            if unjudged is not None:
                self._judge(url, host, self._resolved[host])
        if not self._resolved[host]:
            raise BlockedAddress(f"refused {url}: {host} does not resolve")
        return self._resolved[host][0]

    def connect_address_blocking(self, url: str) -> IPAddress:
        """`connect_address` for code outside an event loop (the feed poll, crawler/feedpoll.py)."""
        unjudged = self._judged_without_lookup(url)
        host, literal = self._split(url)
        if literal is not None:
            return literal
        if host not in self._resolved:
            self._resolved[host] = _addresses(_getaddrinfo_blocking(host))
            if unjudged is not None:
                self._judge(url, host, self._resolved[host])
        if not self._resolved[host]:
            raise BlockedAddress(f"refused {url}: {host} does not resolve")
        return self._resolved[host][0]

    def _judged_without_lookup(self, url: str) -> str | None:
        """Judge `url` where no name lookup is needed (an allowed name, an IP literal, a host
        resolved before); return the host still to look up, else None."""
        host, literal = self._split(url)
        if host in self._names:
            return None
        if literal is not None:
            self._judge(url, host, [literal])
            return None
        if host in self._resolved:
            self._judge(url, host, self._resolved[host])
            return None
        return host


async def _getaddrinfo(host: str) -> list[Any]:
    try:
        return await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []


def _getaddrinfo_blocking(host: str) -> list[Any]:
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []


def _addresses(infos: list[Any]) -> list[IPAddress]:
    out: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        # Drop an IPv6 zone id ("fe80::1%eth0") before parsing.
        text = str(sockaddr[0]).split("%", 1)[0]
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address not in out:
            out.append(address)
    return out


class BlockedRequest(IgnoreRequest):
    """Raised for a request the guard refused; `reason` says why. The errback reports it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NetGuardMiddleware:
    """Scrapy downloader middleware applying `NetGuard` to every request, redirects included.

    It sits before every other downloader middleware (order 50), so a refused URL never reaches
    the robots.txt middleware (which would fetch the refused host's robots.txt) or the network.
    Redirects come back through the scheduler as new requests and pass here again.
    Setting: NETGUARD_ALLOW_PRIVATE_HOSTS (from `network.allow_private_hosts`).
    """

    def __init__(self, guard: NetGuard, crawler: Crawler) -> None:
        self.guard = guard
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetGuardMiddleware:
        return cls(NetGuard(crawler.settings.getlist("NETGUARD_ALLOW_PRIVATE_HOSTS")), crawler)

    async def process_request(self, request: Request) -> None:
        try:
            await self.guard.check_async(request.url)
        except BlockedAddress as exc:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("netguard/blocked")
            raise BlockedRequest(str(exc)) from None


def refused_start_urls(sites: Iterable[Any], allow_private_hosts: Iterable[str]) -> list[str]:
    """`vaern check`'s warnings for start URLs this guard will refuse: an IP literal or
    `localhost` in a private, loopback or link-local range that `network.allow_private_hosts`
    does not allow. Names are not looked up here; the crawl judges every address it connects to,
    and `vaern status` shows its refusals."""
    candidates = []
    for site in sites:
        for url in site.start_urls:
            host = (urlsplit(url).hostname or "").rstrip(".").lower()
            if host != "localhost" and not host.endswith(".localhost"):
                try:
                    ipaddress.ip_address(host)
                except ValueError:
                    continue
            candidates.append((site.id, url))
    if not candidates:
        return []
    guard = NetGuard(allow_private_hosts)
    out = []
    for site_id, url in candidates:
        try:
            guard.check(url)
        except BlockedAddress as exc:
            out.append(f"site {site_id}: start URL {exc}: the crawl will not fetch it "
                       "(add the host to network.allow_private_hosts if it is meant)")
    return out
