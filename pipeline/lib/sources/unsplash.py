"""The day's most-liked photos from Unsplash's editorial feed.

Unsplash removed `order_by` from `GET /photos` in September 2024: the feed is newest-first
only. So "the popular photos of day D" are computed: page back through the feed until the
photos are older than D, keep those that entered the feed on D (UTC), rank them by likes
(ties: earlier first, then id), take the top K.

Which timestamp says "on D": `promoted_at`, falling back to `created_at` when it is missing.
The editorial feed is ordered by when photos entered it (promotion), not by upload: a photo
uploaded on D-3 and promoted on D sits among D's photos. Only the promotion time falls
monotonically down the feed, so only it lets paging stop correctly ("this page ends before D,
every later page is older"); with `created_at` a photo of D could still turn up on any later
page. It also matches the product: the photos the editors put in front of everyone on D.

Paging starts at the page where D begins: page 1 when it reaches D, else the page found by
bisection on the page number using `X-Total` (about 1 + log2(pages) calls; see
`_first_page_of` and docs/unsplash.md). It stops when the last dated photo of a page is
older than D, when the feed ends (no `Link: rel="next"`, or an empty page), or when a
limit is reached:
- the page cap (`max_pages`) or this run's call budget (`call_budget`, which always keeps K
  calls for download tracking): if part of D was seen the day is ranked from that part and
  logged as incomplete; if D was not reached at all the day fails (retrying will not help);
- Unsplash's hourly limit: the next page is fetched only if `X-Ratelimit-Remaining` would
  still leave K tracking calls plus `reserve`; otherwise, and on 403-text/429, the day fails
  with `UnsplashRateLimited` saying when to retry.

Skipped (and logged with a count per reason): sponsored posts (`sponsorship` not null), assets
whose `asset_type` is present and not "photo", ids already seen on an earlier page, items
without an id, a date, an image URL or a `links.download_location`.

`ListedPhoto` fields filled: `source_id` = the Unsplash photo id; `display_url` =
`urls.regular` (ixid kept): the gallery must show the original from this URL (hotlinking);
`image_ref` = `urls.raw` + `w`, `fm=jpg`, `q=85`, `fit=max` (ixid kept), what is stored and
sent to the generator; `photographer_url` and `page_url` carry
`utm_source=<utm_source>&utm_medium=referral`; `published_at` = the time that put the photo on
D; `license` = "Unsplash License".

`credit` (JSON, for the gallery's credit line "Photo by NAME on Unsplash"):
- `provider`: "unsplash"
- `photo_id`: the Unsplash id
- `name`: the photographer's display name (never empty)
- `username`: the Unsplash username, or null
- `profile_url`: the photographer's profile, with UTM (link NAME to it)
- `unsplash_url`: https://unsplash.com/ with UTM (link "Unsplash" to it)
- `photo_page_url`: the photo's page on unsplash.com, with UTM
- `text`: "Photo by NAME on Unsplash" (plain text, e.g. for alt text)
- `display_url`: same as the row's `display_url` (hotlink for the original)
- `thumb_url`: `urls.small` (hotlink for thumbnails), or null
- `color`, `blur_hash`: placeholder colour and BlurHash, or null
- `created_at`, `promoted_at`: ISO-8601 UTC, or null
- `download_location`: the tracking URL (an API URL, no key in it); kept so an untracked
  photo can be tracked on a later run without listing the feed again
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pipeline.lib.sources import ListedPhoto
from pipeline.lib.sources.text import clean_text
from pipeline.lib.sources.unsplash_client import (
    ApiResponse,
    UnsplashClient,
    UnsplashConfig,
    UnsplashError,
)

log = logging.getLogger(__name__)

UNSPLASH_HOME = "https://unsplash.com/"  # attribution links only; never called
LICENSE = "Unsplash License"


@dataclass(frozen=True)
class _Candidate:
    item: dict[str, Any]
    id: str
    at: datetime  # promoted_at, or created_at when missing
    likes: int


class UnsplashSource:
    name = "unsplash"

    def __init__(self, config: UnsplashConfig, *, client: UnsplashClient | None = None):
        self.config = config
        self.client = client or UnsplashClient(config)
        self.feed_pages = 0
        self.day_complete: bool | None = None

    def close(self) -> None:
        self.client.close()

    # PhotoSource

    def day_photos(self, day: date, count: int) -> list[ListedPhoto]:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        if self.config.call_budget - self.client.api_calls < count + 1:
            raise UnsplashError(
                f"DOPPEL_UNSPLASH_CALL_BUDGET={self.config.call_budget} leaves no room for one "
                f"feed page plus {count} download-tracking calls; raise it to at least "
                f"{count + 1} (see docs/unsplash.md for the budget maths)"
            )
        seen: set[str] = set()
        skipped: Counter[str] = Counter()
        on_day: list[_Candidate] = []
        oldest_seen: datetime | None = None
        self.day_complete = False
        fetched: dict[int, ApiResponse] = {}
        start_page = self._first_page_of(day, end, count, fetched)
        path: str = "photos"
        params: dict[str, Any] | None = {"page": start_page, "per_page": self.config.per_page}
        stop = ""
        while True:
            number = _page_number(path, params)
            if number in fetched:  # fetched while jumping: not asked again
                page = fetched[number]
            else:
                stop = self._limit_reached(count, day)
                if stop:
                    break
                page = self._feed_page(path, params)
                if number is not None:
                    fetched[number] = page
            last_at: datetime | None = None
            for item in page.data:
                candidate = _candidate(item, seen, skipped)
                if candidate is None:
                    continue
                last_at = candidate.at
                oldest_seen = min(oldest_seen or candidate.at, candidate.at)
                if start <= candidate.at < end:
                    on_day.append(candidate)
            if not page.data or not page.next_url or (last_at is not None and last_at < start):
                self.day_complete = True
                break
            path, params = page.next_url, None  # follow the API's own absolute URL

        if skipped:
            log.info("%s: skipped feed items: %s", day, dict(skipped))
        if not self.day_complete:
            if not on_day and (oldest_seen is None or oldest_seen >= end):
                raise UnsplashError(
                    f"{day} lies further back in Unsplash's editorial feed than {stop} allows "
                    f"(the oldest photo reached entered the feed after {day}); raise "
                    "DOPPEL_UNSPLASH_MAX_PAGES / DOPPEL_UNSPLASH_CALL_BUDGET for old days. "
                    "Retrying as is will not help."
                )
            log.warning(
                "%s: only part of the day was covered (%s); ranking the %d photos seen",
                day,
                stop,
                len(on_day),
            )
        ranked = sorted(on_day, key=lambda c: (-c.likes, c.at, c.id))[:count]
        return [self._photo(c, rank) for rank, c in enumerate(ranked, start=1)]

    def _feed_page(self, path: str, params: dict[str, Any] | None) -> ApiResponse:
        page = self.client.get_json(path, params)
        self.feed_pages += 1
        if not isinstance(page.data, list):
            raise UnsplashError(
                f"Unsplash's feed page {self.feed_pages} is not a list of photos "
                f"({type(page.data).__name__}); the API may have changed"
            )
        return page

    def _first_page_of(
        self, day: date, end: datetime, count: int, fetched: dict[int, ApiResponse]
    ) -> int:
        """The feed page where `day` begins, found by bisection on the page number.

        Page 1 says how many pages there are (`X-Total`); while a page's last photo entered
        the feed on or after the end of `day`, the day lies further on. Cost: 1 call when
        page 1 reaches the day, else about 1 + log2(pages) calls (6 for 1,000 photos at 30 a
        page), instead of one call per page walked. The feed only grows at the front while
        we look, which moves photos to later pages, never earlier: starting at the page found
        misses none of the day's photos."""
        if self._limit_reached(count, day):
            return 1
        first = self._feed_page("photos", {"page": 1, "per_page": self.config.per_page})
        fetched[1] = first
        per_page = first.per_page or self.config.per_page
        last_at = _last_at(first.data)
        if not first.data or not first.total or last_at is None or last_at < end:
            return 1
        pages = -(-first.total // per_page)
        too_new, older = 1, pages + 1  # page `too_new` ends on/after `end`; `older` before it
        while older - too_new > 1 and not self._limit_reached(count, day):
            middle = (too_new + older) // 2
            page = self._feed_page("photos", {"page": middle, "per_page": per_page})
            fetched[middle] = page
            at = _last_at(page.data)
            if page.data and (at is None or at >= end):
                too_new = middle
            else:
                older = middle
        log.info("%s: the day starts at feed page %d of %d", day, older, pages)
        return min(older, pages)

    def fetch_image(self, photo: ListedPhoto) -> bytes:
        if photo.display_url:
            self.client.check_image_url(photo.display_url)  # the gallery will hotlink it
        return self.client.download_image(photo.image_ref)

    def track_use(self, photo: ListedPhoto) -> None:
        location = photo.credit.get("download_location")
        if not isinstance(location, str) or not location:
            raise UnsplashError(f"photo {photo.source_id} has no download_location to trigger")
        self.client.track_download(location)

    def tracking_calls_left(self) -> int | None:
        """Calls this run may still spend: its own budget, and Unsplash's hourly remainder
        less the reserve (0 once rate limited)."""
        left = self.config.call_budget - self.client.api_calls
        remaining = self.client.ratelimit_remaining
        if remaining is not None:
            left = min(left, remaining - self.config.reserve)
        return max(0, left)

    # Reporting

    def run_metadata(self) -> dict[str, Any]:
        """Figures for the asset's output metadata (the Prometheus exporter reads the keys)."""
        figures: dict[str, Any] = {
            "unsplash_api_calls": self.client.api_calls,
            "unsplash_feed_pages": self.feed_pages,
        }
        if self.client.ratelimit_remaining is not None:
            figures["unsplash_ratelimit_remaining"] = self.client.ratelimit_remaining
        if self.day_complete is not None:
            figures["unsplash_day_complete"] = self.day_complete
        return figures

    # Internals

    def _limit_reached(self, count: int, day: date) -> str:
        """Why no further feed page may be fetched ("" if one may)."""
        if self.feed_pages >= self.config.max_pages:
            return f"the page cap of {self.config.max_pages} pages"
        # One more page must still leave `count` calls for download tracking.
        if self.config.call_budget - self.client.api_calls - 1 < count:
            return f"the call budget of {self.config.call_budget} calls"
        remaining = self.client.ratelimit_remaining
        keep = count + self.config.reserve
        if remaining is not None and remaining - 1 < keep:
            raise self.client.rate_limited_error(
                f"X-Ratelimit-Remaining is {remaining} and {keep} are kept for download "
                f"tracking and the reserve, before {day} was fully listed"
            )
        return ""

    def _photo(self, c: _Candidate, rank: int) -> ListedPhoto:
        item = c.item
        user = _dict(item.get("user"))
        links = _dict(item.get("links"))
        urls = _dict(item.get("urls"))
        username = clean_text(user.get("username"), 100)
        parts = (clean_text(user.get("first_name"), 100), clean_text(user.get("last_name"), 100))
        full_name = " ".join(n for n in parts if n)
        name = (
            clean_text(user.get("name"), 100) or full_name or username or "an Unsplash photographer"
        )
        utm = self._utm
        profile = _https(_dict(user.get("links")).get("html")) or (
            f"{UNSPLASH_HOME}@{quote(username, safe='')}" if username else UNSPLASH_HOME
        )
        page = _https(links.get("html")) or f"{UNSPLASH_HOME}photos/{quote(c.id, safe='')}"
        raw, regular = _str(urls.get("raw")), _str(urls.get("regular"))
        # imgix resizing on the raw URL; ixid and the other parameters are kept.
        sized = {"w": self.config.image_width, "fm": "jpg", "q": 85, "fit": "max"}
        image_ref = _with_query(raw, **sized) if raw else regular or ""
        display_url = regular or _str(urls.get("small")) or image_ref
        description = clean_text(item.get("description"), 1000)
        alt = clean_text(item.get("alt_description"), 1000)
        return ListedPhoto(
            source=self.name,
            source_id=c.id,
            rank=rank,
            image_ref=image_ref,
            title=(description or alt or "")[:200] or None,
            description=alt or description,  # the caption is the better prompt seed
            width=_int(item.get("width")),
            height=_int(item.get("height")),
            likes=c.likes,
            published_at=c.at,
            photographer_name=name,
            photographer_url=utm(profile),
            page_url=utm(page),
            display_url=display_url,
            license=LICENSE,
            credit={
                "provider": "unsplash",
                "photo_id": c.id,
                "name": name,
                "username": username,
                "profile_url": utm(profile),
                "unsplash_url": utm(UNSPLASH_HOME),
                "photo_page_url": utm(page),
                "text": f"Photo by {name} on Unsplash",
                "display_url": display_url,
                "thumb_url": _str(urls.get("small")),
                "color": clean_text(item.get("color"), 16),
                "blur_hash": clean_text(item.get("blur_hash"), 200),
                "created_at": _iso(_time(item.get("created_at"))),
                "promoted_at": _iso(_time(item.get("promoted_at"))),
                "download_location": _str(links.get("download_location")),
            },
        )

    def _utm(self, url: str) -> str:
        return _with_query(url, utm_source=self.config.utm_source, utm_medium="referral")


def _candidate(item: Any, seen: set[str], skipped: Counter[str]) -> _Candidate | None:
    """A feed item fit to rank, or None (with the reason counted)."""
    if not isinstance(item, dict):
        skipped["not an object"] += 1
        return None
    photo_id = clean_text(item.get("id"), 255)
    if not photo_id:
        skipped["no id"] += 1
        return None
    if photo_id in seen:
        skipped["duplicate id"] += 1
        return None
    seen.add(photo_id)
    if item.get("sponsorship"):
        skipped["sponsored"] += 1
        return None
    asset_type = item.get("asset_type")
    if asset_type is not None and asset_type != "photo":
        skipped[f"asset_type={str(asset_type)[:20]}"] += 1
        return None
    at = _time(item.get("promoted_at")) or _time(item.get("created_at"))
    if at is None:
        skipped["no promoted_at/created_at"] += 1
        return None
    urls = _dict(item.get("urls"))
    if not (_str(urls.get("raw")) or _str(urls.get("regular"))):
        skipped["no image URL"] += 1
        return None
    if not _str(_dict(item.get("links")).get("download_location")):
        skipped["no download_location"] += 1
        return None
    likes = _int(item.get("likes")) or 0
    return _Candidate(item, photo_id, at, max(likes, 0))


def _last_at(items: Any) -> datetime | None:
    """When the last dated photo of a feed page entered the feed."""
    for item in reversed(items if isinstance(items, list) else []):
        item = _dict(item)
        at = _time(item.get("promoted_at")) or _time(item.get("created_at"))
        if at is not None:
            return at
    return None


def _page_number(path: str, params: dict[str, Any] | None) -> int | None:
    value = params.get("page") if params else dict(parse_qsl(urlsplit(path).query)).get("page")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _with_query(url: str, **params: object) -> str:
    """`url` with `params` set (replacing same-named ones); every other parameter is kept."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _time(value: Any) -> datetime | None:
    """ISO-8601 with `Z` or an offset (both occur) → aware UTC; anything else → None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    """A URL or token as given, or None if it is not one clean line (a URL is never cut)."""
    if not isinstance(value, str) or not value or len(value) > 4096:
        return None
    return value if clean_text(value, 4096) == value and " " not in value else None


def _https(value: Any) -> str | None:
    """Only https links reach the gallery (no javascript:, data: or plain-http URLs)."""
    url = _str(value)
    return url if url and url.startswith("https://") else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None
