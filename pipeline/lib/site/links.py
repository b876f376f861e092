"""URLs on the gallery's pages: only http(s) links, Unsplash's referral parameters, slugs.

Names, descriptions and prompts are escaped by the templates; a URL also needs its scheme
checked, since `javascript:alert(1)` survives HTML escaping intact.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

UTM_SOURCE = "doppel"
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def safe_url(url: object) -> str | None:
    """`url` if it is an absolute http(s) URL with a host, else None (the link is dropped)."""
    return _safe_url(url) if isinstance(url, str) else None


@lru_cache(maxsize=65536)  # profile and home links repeat on thousands of pages
def _safe_url(url: str) -> str | None:
    url = url.strip()
    if not url or _CONTROL.search(url) or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return url


def with_utm(url: object, source: str = UTM_SOURCE) -> str | None:
    """The URL with Unsplash's referral pair; an existing `utm_source` is kept as it is."""
    url = safe_url(url)
    return None if url is None else _with_utm(url, source)


@lru_cache(maxsize=65536)
def _with_utm(url: str, source: str) -> str:
    parts = urlsplit(url)
    if "utm_source=" in parts.query and "utm_medium=" in parts.query:
        return url  # the usual case: the source already tagged it
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = {name for name, _ in query}
    if "utm_source" not in names:
        query.append(("utm_source", source))
    if "utm_medium" not in names:
        query.append(("utm_medium", "referral"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def sized_hotlink(url: str | None, width: int) -> str | None:
    """An Unsplash image URL resized by its image service (`w`, `fit=max`); `ixid` is kept."""
    url = safe_url(url)
    if url is None:
        return None
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "w"]
    if not any(k == "fit" for k, _ in query):
        query.append(("fit", "max"))
    query.append(("w", str(width)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def slug(text: object, limit: int = 60) -> str:
    """File-name-safe: ASCII letters, digits, `-` and `_` only; never empty."""
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "-", str(text or "")).strip("-_").lower()
    return cleaned[:limit].strip("-_") or "x"


def relative(root: str, path: str) -> str:
    """A site path as seen from a page `root` ("" or "../" …); absolute URLs pass through."""
    if "://" in path:
        return path
    return root + path


def share_facts(
    title: str, description: str, image: dict[str, Any] | None, path: str
) -> dict[str, Any]:
    """A page's Open Graph / Twitter card facts. `image` is one of the page's image dicts
    (its src relative to the page at `path`); its src becomes a path from the site's root,
    which the template makes absolute when the site's address is known."""
    src = image["src"] if image else None
    up = "../" * path.count("/")
    if src and "://" not in src and src.startswith(up):
        src = src[len(up) :]
    return {"title": title, "description": description, "image": src, "path": path}
