"""Which URLs from an API response (and their redirects) may be fetched at all.

A URL is allowed only when its scheme, host and port are on the allow-list exactly (a bare host
means https on 443). Plain http is allowed only for a loopback address listed with its port
(`http://127.0.0.1:8123`, the tests). IP literals are refused otherwise, and a host name is
resolved first: if any of its addresses is private, loopback, link-local (cloud metadata at
169.254.169.254), shared, reserved or multicast, the URL is refused. The check runs before any
connection is opened.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

DEFAULT_PORTS = {"https": 443, "http": 80}
LOOPBACK_NAMES = frozenset({"localhost"})

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(Exception):
    """The URL breaks the policy; fetching it later will not change that."""


class UrlUnresolved(Exception):
    """The host name does not resolve now (it may later)."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def is_loopback_exception(self) -> bool:
        return self.scheme == "http"


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlUnresolved(f"cannot resolve {host}: {exc}") from None
    return [str(info[4][0]) for info in infos]


def parse_origins(entries: Iterable[str]) -> tuple[Origin, ...]:
    """Allow-list entries: `host` (https on 443), `https://host[:port]`, or
    `http://<loopback>:<port>`. Raises ValueError for anything else."""
    origins = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        url = httpx.URL(entry if "://" in entry else f"https://{entry}")
        host = url.host.lower()
        if url.scheme == "https":
            origins.append(Origin("https", host, url.port or 443))
            continue
        if url.scheme == "http" and url.port is not None and _is_loopback_name(host):
            origins.append(Origin("http", host, url.port))
            continue
        raise ValueError(
            f"image host {entry!r} is not allowed: list https hosts (optionally with a port), "
            "or plain http only for a loopback address with its port (http://127.0.0.1:8123)"
        )
    return tuple(origins)


class UrlPolicy:
    def __init__(self, allowed: Iterable[Origin], *, resolve: Resolver = system_resolver):
        self.allowed = frozenset(allowed)
        self._resolve = resolve

    def check(self, url: str | httpx.URL) -> httpx.URL:
        """The parsed URL if it may be fetched; raises UrlRefused (or UrlUnresolved)."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except httpx.InvalidURL:
            raise UrlRefused(f"unusable URL {str(url)[:100]!r}") from None
        scheme, host = parsed.scheme, parsed.host.lower()
        if scheme not in DEFAULT_PORTS or not host:
            raise UrlRefused(f"{scheme or 'no'} scheme: only https (or listed loopback http)")
        origin = Origin(scheme, host, parsed.port or DEFAULT_PORTS[scheme])
        if origin not in self.allowed:
            listed = ", ".join(sorted(str(o) for o in self.allowed)) or "nothing"
            raise UrlRefused(f"{origin} is not on the allow-list ({listed})")
        literal = _ip(host)
        if origin.is_loopback_exception:  # listed explicitly for tests: loopback only
            addresses = [literal] if literal else self._addresses(origin)
            if not all(a.is_loopback for a in addresses):
                raise UrlRefused(f"{host} is listed as loopback but is not")
            return parsed
        if literal is not None:
            raise UrlRefused(f"{host} is an IP address; images come from named hosts")
        for address in self._addresses(origin):
            if not _public(address):
                raise UrlRefused(f"{host} resolves to the non-public address {address}")
        return parsed

    def _addresses(self, origin: Origin) -> list[IPAddress]:
        found = [_ip(a.split("%", 1)[0]) for a in self._resolve(origin.host, origin.port)]
        addresses = [a for a in found if a is not None]
        if not addresses:
            raise UrlUnresolved(f"{origin.host} has no usable address")
        return addresses


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_loopback_name(host: str) -> bool:
    literal = _ip(host)
    return literal.is_loopback if literal is not None else host in LOOPBACK_NAMES
