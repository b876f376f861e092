"""What lets people follow and share the gallery: an Atom feed of the days, a sitemap, and
the Open Graph / Twitter card facts of the day and pair pages.

Links are relative to the file they are in (valid in Atom, resolved against the feed's own
address) unless the site's public address is known (`site_url`, DOPPEL_SITE_URL): then they
are absolute, as link previews and the sitemap protocol need. Without it there is no sitemap.
Times come from the days themselves, never from the clock, so a rebuild gives the same bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from xml.etree import ElementTree as ET

from pipeline.lib.site.media import Media
from pipeline.lib.site.pages.shared import (
    Pair,
    day_label,
    day_path,
    lookalike_image,
    month_path,
    photo_image,
)

FEED_PATH = "feed.xml"
SITEMAP_PATH = "sitemap.xml"  # the index of the sitemap's parts under sitemaps/
PAGES_SITEMAP = "sitemaps/pages.xml"
FEED_PAIRS = 10  # pairs shown per day entry
ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"


def day_end(day: str) -> str:
    """The moment a day's partition closes (UTC): when its entry is 'updated'."""
    return f"{(date.fromisoformat(day) + timedelta(days=1)).isoformat()}T00:00:00Z"


def _url(site_url: str | None, path: str) -> str:
    if "://" in path:
        return path
    return f"{site_url.rstrip('/')}/{path}" if site_url else path


def _credit_text(pair: Pair) -> str:
    c = pair.credit
    name = c.get("name") or "an unknown photographer"
    if c.get("kind") == "unsplash":
        return f"Photo by {name} on Unsplash"
    return f"Photo by {name}" + (f" · {c['license']}" if c.get("license") else "")


def _entry_html(pairs: list[Pair], media: dict[str, Media], site_url: str | None) -> str:
    body = ET.Element("div")
    for pair in pairs[:FEED_PAIRS]:
        photo = photo_image(pair, media, "", large=False)
        lookalike = lookalike_image(pair, media, "", large=False)
        if photo is None or lookalike is None or pair.status != "succeeded":
            continue
        p = ET.SubElement(body, "p")
        link = ET.SubElement(p, "a", href=_url(site_url, pair.path))
        for image in (photo, lookalike):
            ET.SubElement(link, "img", src=_url(site_url, image["src"]), alt=image["alt"])
        ET.SubElement(body, "p").text = f"{pair.title}. {_credit_text(pair)}"
    # XML serialisation escapes "<" in attributes too, whatever a feed reader makes of them
    return ET.tostring(body, encoding="unicode", method="xml")


def feed_xml(
    newest: list[tuple[str, list[Pair]]], media: dict[str, Media], site_url: str | None
) -> str:
    """An Atom feed with one entry per day (`newest`: newest day first)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        el.text = text
        return el

    add(feed, "id", uuid.uuid5(uuid.NAMESPACE_URL, site_url or "doppel").urn)
    add(feed, "title", "Doppel: photos and their machine-made look-alikes")
    add(feed, "updated", day_end(newest[0][0]) if newest else "1970-01-01T00:00:00Z")
    add(feed, "link", rel="self", href=_url(site_url, FEED_PATH))
    add(feed, "link", rel="alternate", type="text/html", href=_url(site_url, "index.html"))
    author = add(feed, "author")
    add(author, "name", "Doppel")
    for day, pairs in newest:
        made = sum(1 for p in pairs if p.status == "succeeded")
        entry = add(feed, "entry")
        add(entry, "id", uuid.uuid5(uuid.NAMESPACE_URL, f"doppel/day/{day}").urn)
        add(entry, "title", f"{day_label(day)}: {len(pairs)} photos, {made} look-alikes")
        add(entry, "updated", day_end(day))
        add(entry, "link", rel="alternate", type="text/html", href=_url(site_url, day_path(day)))
        add(entry, "content", _entry_html(pairs, media, site_url), type="html")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode")


def sitemap_paths(months: list[str]) -> list[str]:
    """The sitemap's parts: the site's pages, then a part per month of its pair pages.

    One list of every page would pass the protocol's 50,000 URLs per file within a few years
    of days, and be written again at each build; a month's part changes with that month only.
    """
    return [PAGES_SITEMAP, *(month_sitemap_path(m) for m in months)]


def month_sitemap_path(month: str) -> str:
    return f"sitemaps/{month}.xml"


def sitemap_index_xml(parts: list[str], site_url: str) -> str:
    """`sitemap.xml`: the index of the sitemap's parts (`sitemap_paths`)."""
    ET.register_namespace("", SITEMAP)
    index = ET.Element(f"{{{SITEMAP}}}sitemapindex")
    for part in parts:
        sitemap = ET.SubElement(index, f"{{{SITEMAP}}}sitemap")
        ET.SubElement(sitemap, f"{{{SITEMAP}}}loc").text = _url(site_url, part)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(index, encoding="unicode")


def pages_sitemap_xml(days: list[str], site_url: str, extra: tuple[str, ...] = ()) -> str:
    """The site's own pages, its months' and its days' (`days`: every day shown)."""
    urlset, add = _urlset(site_url)
    newest = days[-1] if days else None
    for path in ("index.html", "game.html", "stats.html", "about.html", *extra):
        add(path, newest)
    for month in sorted({d[:7] for d in days}):
        add(month_path(month))
    for day in days:
        add(day_path(day), day)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(urlset, encoding="unicode")


def month_sitemap_xml(days: list[tuple[str, list[str]]], site_url: str) -> str:
    """A month's pair pages (`days`: the month's days and their pairs' slugs)."""
    urlset, add = _urlset(site_url)
    for day, slugs in days:
        for slug in slugs:
            add(f"pairs/{day}/{slug}.html", day)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(urlset, encoding="unicode")


def _urlset(site_url: str) -> tuple[ET.Element, Callable[..., None]]:
    ET.register_namespace("", SITEMAP)
    urlset = ET.Element(f"{{{SITEMAP}}}urlset")

    def add(path: str, lastmod: str | None = None) -> None:
        url = ET.SubElement(urlset, f"{{{SITEMAP}}}url")
        ET.SubElement(url, f"{{{SITEMAP}}}loc").text = _url(site_url, path)
        if lastmod:
            ET.SubElement(url, f"{{{SITEMAP}}}lastmod").text = lastmod

    return urlset, add
