"""Which URLs from an API response (and their redirects) may be fetched at all.

A URL is allowed only when its scheme, host and port are on the allow-list exactly (a bare host
means https on 443; origins are read by `pipeline.lib.core.origins`, as the gallery's
Content-Security-Policy reads them). Plain http is allowed only for a loopback address listed
with its port (`http://127.0.0.1:8123`, the tests). IP literals are refused otherwise, and a
host name is resolved first: if any of its addresses is private, loopback, link-local (cloud
metadata at 169.254.169.254), shared, reserved or multicast, the URL is refused. The check runs
before any connection is opened.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpx

from pipeline.lib.core.origins import (
    IPAddress,
    Origin,
    OriginError,
    image_origin,
    ip_of,
    origin_of_url,
)

Resolver = Callable[[str, int], list[str]]


class UrlRefused(Exception):
    """The URL breaks the policy; fetching it later will not change that."""


class UrlUnresolved(Exception):
    """The host name does not resolve now (it may later)."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlUnresolved(f"cannot resolve {host}: {exc}") from None
    return [str(info[4][0]) for info in infos]


def parse_origins(entries: Iterable[str]) -> tuple[Origin, ...]:
    """The allow-list from its entries (`pipeline.lib.core.origins.image_origin`: `host`,
    `https://host[:port]`, or `http://<loopback>:<port>`); blanks are skipped. Raises
    OriginError (a ValueError) for anything else."""
    return tuple(image_origin(entry) for entry in entries if entry.strip())


class UrlPolicy:
    def __init__(self, allowed: Iterable[Origin], *, resolve: Resolver = system_resolver):
        self.allowed = frozenset(allowed)
        self._resolve = resolve

    def check(self, url: str | httpx.URL) -> httpx.URL:
        """The parsed URL if it may be fetched; raises UrlRefused (or UrlUnresolved)."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
            origin = origin_of_url(parsed)
        except httpx.InvalidURL:
            raise UrlRefused(f"unusable URL {str(url)[:100]!r}") from None
        except OriginError as exc:
            raise UrlRefused(str(exc)) from None
        if origin not in self.allowed:
            listed = ", ".join(sorted(str(o) for o in self.allowed)) or "nothing"
            raise UrlRefused(f"{origin} is not on the allow-list ({listed})")
        literal = origin.ip
        if origin.scheme == "http":  # listed explicitly for tests: loopback only
            addresses = [literal] if literal else self._addresses(origin)
            if not all(a.is_loopback for a in addresses):
                raise UrlRefused(f"{origin.host} is listed as loopback but is not")
            return parsed
        if literal is not None:
            raise UrlRefused(f"{origin.host} is an IP address; images come from named hosts")
        for address in self._addresses(origin):
            if not _public(address):
                raise UrlRefused(f"{origin.host} resolves to the non-public address {address}")
        return parsed

    def _addresses(self, origin: Origin) -> list[IPAddress]:
        found = [ip_of(a.split("%", 1)[0]) for a in self._resolve(origin.host, origin.port)]
        addresses = [a for a in found if a is not None]
        if not addresses:
            raise UrlUnresolved(f"{origin.host} has no usable address")
        return addresses


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast
