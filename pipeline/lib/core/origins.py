"""The one reading of web origins (scheme, host, port) and of the service URLs built on them.

The image allow-list (DOPPEL_UNSPLASH_IMAGE_HOSTS), the URL policy's checks of the URLs an
API returns, the gallery's Content-Security-Policy and the base URLs of Unsplash, OpenAI and
img2img all go through here, on httpx's own URL parser (the one that connects), so a form
one of them accepts means the same to the others.

An origin is written `host` (https on 443), `host:port`, `https://host[:port]` or
`http://host:port`: scheme and host in any case, with or without a trailing slash, a default
port given or not, an IPv6 address in brackets, an international name in either form (kept
as punycode). A path, query, fragment or credentials make it not an origin.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated

import httpx
from pydantic import AfterValidator

DEFAULT_PORTS = {"https": 443, "http": 80}
LOOPBACK_NAMES = frozenset({"localhost"})
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OriginError(ValueError):
    """Not an origin (or not one this use allows); the message says why, in one line."""


@dataclass(frozen=True)
class Origin:
    scheme: str  # "https" or "http"
    host: str  # lower-case ASCII; an IPv6 address without its brackets
    port: int  # always given: the scheme's default when the text had none

    def __str__(self) -> str:
        """The origin as browsers write it (RFC 6454): the default port left out."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"

    @property
    def ip(self) -> IPAddress | None:
        """The host as an IP address, if it is one."""
        return ip_of(self.host)

    @property
    def is_loopback(self) -> bool:
        address = self.ip
        return address.is_loopback if address is not None else self.host in LOOPBACK_NAMES


def parse_origin(text: str) -> Origin:
    """An origin from its written form (see the module docstring); raises OriginError."""
    entry = text.strip()
    if not entry:
        raise OriginError("an empty entry is not an origin")
    url = _url(entry if "://" in entry else f"https://{entry}", entry)
    if url.raw_path not in (b"", b"/") or url.query or url.fragment:
        raise OriginError(f"{entry!r} is not an origin: write scheme://host[:port], no path")
    return origin_of_url(url, shown=entry)


def origin_of_url(url: str | httpx.URL, *, shown: str | None = None) -> Origin:
    """The origin a URL connects to (its path and query aside); raises OriginError.
    `shown`: how to name the URL in the message (as the user wrote it)."""
    parsed = url if isinstance(url, httpx.URL) else _url(url, url)
    shown = (shown or str(url))[:100]
    scheme = parsed.scheme
    if scheme not in DEFAULT_PORTS:
        raise OriginError(f"{shown!r}: {scheme or 'no'} scheme, not http(s)")
    if parsed.userinfo:
        raise OriginError(f"{parsed.host!r}: credentials do not belong in a URL")
    port = parsed.port if parsed.port is not None else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise OriginError(f"{shown!r}: port {port} is out of range")
    return Origin(scheme, _host(parsed.raw_host.decode("ascii", "replace"), shown), port)


def image_origin(entry: str) -> Origin:
    """An entry of the image allow-list. Plain http only for a loopback address with its
    port (the tests), and no IPv6 address: browsers ignore one in a Content-Security-Policy,
    so the gallery could not show the images."""
    origin = parse_origin(entry)
    if origin.scheme == "http" and not (origin.is_loopback and _has_port(entry)):
        raise OriginError(
            f"{entry.strip()!r}: plain http only for a loopback address with its port "
            "(http://127.0.0.1:8123); list https hosts, optionally with a port"
        )
    if isinstance(origin.ip, ipaddress.IPv6Address):
        raise OriginError(
            f"{entry.strip()!r}: browsers ignore an IPv6 address in the gallery's "
            "Content-Security-Policy; use a host name (localhost for ::1)"
        )
    return origin


def service_url(url: str) -> str:
    """A service's base URL (Unsplash, OpenAI, img2img) with a trailing slash: https, or
    plain http only to a loopback address, so a key or a password never crosses a network
    in clear. Raises OriginError."""
    base = url.strip()
    origin = origin_of_url(base)
    if origin.scheme != "https" and not origin.is_loopback:
        raise OriginError(
            "must be an https:// URL (plain http only for 127.0.0.1, ::1 or localhost), "
            f"got {base[:100]!r}"
        )
    return base if base.endswith("/") else base + "/"


def _checked_service_url(url: str) -> str:
    service_url(url)
    return url  # as written: the clients add the slash themselves


ServiceUrl = Annotated[str, AfterValidator(_checked_service_url)]
"""A config field holding a service's base URL, checked by `service_url` when it is set."""


def ip_of(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _url(text: str, shown: str) -> httpx.URL:
    try:
        return httpx.URL(text)
    except httpx.InvalidURL:
        raise OriginError(f"{shown[:100]!r} is not a URL") from None


def _host(raw: str, shown: str) -> str:
    host = raw.lower().strip("[]")
    address = ip_of(host)
    if address is not None:
        return str(address)  # one spelling per address ("FE80::01" → "fe80::1")
    labels = host.removesuffix(".").split(".")
    if not host or not all(_LABEL.match(label) for label in labels) or len(host) > 253:
        raise OriginError(f"{shown!r}: {raw or 'no host'!r} is not a host name")
    if labels[-1].isdigit():  # "127.1": resolvers read it as an address, browsers too
        raise OriginError(f"{shown!r}: {raw!r} is neither a host name nor an IP address")
    return host.removesuffix(".")


def _has_port(entry: str) -> bool:
    """Whether the written entry names its port (`http://127.0.0.1` alone does not)."""
    netloc = entry.strip().split("://", 1)[-1].split("/", 1)[0]
    return re.search(r":\d+$", netloc) is not None
