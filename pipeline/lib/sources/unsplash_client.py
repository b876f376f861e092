"""HTTP client for the Unsplash API and the image CDN behind it.

What it guarantees (the contract is in docs/unsplash.md and the shared API notes):

- The access key travels only in the `Authorization: Client-ID …` header, only to the origin
  of the configured base URL, and never in a URL, log line or error message. Absolute URLs
  the API returns (`Link: rel="next"`, `links.download_location`) are followed as given,
  query string (`ixid`) intact, but only on that same origin.
- Every API request, retries included, is counted; `call_budget` is a hard stop, and the
  last `X-Ratelimit-Remaining` is kept so callers can stop before Unsplash's hourly limit.
- 429, and 403 with a text body or `X-Ratelimit-Remaining: 0`, mean "rate limited": raised
  as `UnsplashRateLimited` (a `SourceUnavailable` saying when to retry); after that no
  request is sent at all (no hot loop).
- Images come only from URLs the URL policy allows (`pipeline.lib.sources.url_policy`: scheme, host
  and port allow-listed, no private addresses), redirects included and each checked before it
  is followed; capped in bytes while streaming, checked for an image content type and decoded
  under a pixel cap. A refused URL raises `PhotoRefused`; other failures `PhotoFetchError`
  or `ImageError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.lib.core import clock
from pipeline.lib.core.http import HttpRetry, send_with_retries
from pipeline.lib.core.images import decode_image
from pipeline.lib.core.origins import OriginError, ServiceUrl, origin_of_url, service_url
from pipeline.lib.core.replies import ReplyTooLarge, capped_replies
from pipeline.lib.sources import (
    PhotoFetchError,
    PhotoRefused,
    SourceConfigError,
    SourceLimitReached,
    SourceUnavailable,
)
from pipeline.lib.sources.url_policy import UrlPolicy, UrlRefused, UrlUnresolved, parse_origins

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.unsplash.com/"
DEFAULT_IMAGE_HOSTS = ("images.unsplash.com",)
# Unsplash's limits are per hour and it documents no reset header: an hour is the honest wait.
RATE_LIMIT_RETRY_S = 3600.0
# An outage, timeout or garbled page is usually over within minutes.
OUTAGE_RETRY_S = 600.0
MAX_IMAGE_REDIRECTS = 3
# Download tracking is retried over runs (bounded in `collect`), so one try per run.
TRACKING_RETRY = HttpRetry(attempts=1)


class UnsplashError(SourceUnavailable):
    """An API call failed, so the day cannot be collected now; the message says what to do."""


class UnsplashRateLimited(UnsplashError, SourceLimitReached):
    """Unsplash's hourly request limit is used up (or would be by the next call)."""


class UnsplashBudgetSpent(UnsplashError, SourceLimitReached):
    """This run's own API-call budget (`call_budget`) is spent."""


class UnsplashConfig(BaseModel):
    """Everything the Unsplash source needs, and the one declaration of its settings
    (DOPPEL_UNSPLASH_<FIELD>; pipeline/lib/settings.py nests it). The access key is given
    by the resource from UNSPLASH_ACCESS_KEY and never dumped (`exclude`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    access_key: str = Field(default="", repr=False, exclude=True)
    base_url: ServiceUrl = Field(
        default=DEFAULT_BASE_URL, description="https; plain http only on loopback."
    )
    per_page: int = Field(default=30, ge=1, le=30, description="Feed page size (max 30).")
    max_pages: int = Field(
        default=10, ge=1, le=100, description="Editorial feed pages a day may read at most."
    )
    call_budget: int = Field(
        default=20,
        ge=2,
        description="API requests per day run (feed pages, retries, download tracking).",
    )
    reserve: int = Field(
        default=2,
        ge=0,
        description="Hourly requests left unused, on top of the day's download tracking.",
    )
    image_hosts: tuple[str, ...] = Field(
        default=DEFAULT_IMAGE_HOSTS,
        description="Comma-separated origins images may come from: host, https://host:port, "
        "http://127.0.0.1:PORT.",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    image_timeout_s: float = Field(default=30.0, gt=0, le=600)
    retry_attempts: int = Field(default=3, ge=1, le=10)
    retry_backoff_s: float = Field(default=0.5, ge=0, le=60)
    image_width: int = Field(
        default=1536, ge=64, le=4096, description="Long side the originals are fetched at."
    )
    max_image_bytes: int = Field(default=20 * 2**20, ge=1)
    max_reply_bytes: int = Field(
        default=4 * 2**20,
        ge=1024,
        description="An API answer (a feed page: 30 photos are about 150 kB) larger than this "
        "is refused.",
    )
    max_image_pixels: int = Field(default=25_000_000, ge=1)
    utm_source: str = Field(
        default="doppel", description="Your Unsplash app's name, for utm_source on credits."
    )

    @field_validator("image_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        # The environment gives one string; blanks between commas are no host.
        if isinstance(value, str):
            return tuple(h.strip() for h in value.split(",") if h.strip())
        return value

    @field_validator("image_hosts")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Checked at start, by the parser the URL policy and the gallery's CSP use.
        parse_origins(value)
        return value

    @property
    def retry(self) -> HttpRetry:
        return HttpRetry(attempts=self.retry_attempts, backoff_s=self.retry_backoff_s)


@dataclass(frozen=True)
class ApiResponse:
    data: Any
    next_url: str | None  # `Link: rel="next"`, absolute, as the API wrote it
    total: int | None = None  # `X-Total`: items in the whole listing
    per_page: int | None = None  # `X-Per-Page`: what the API used (it clamps to 30)


class UnsplashClient:
    """One per day run: its call counter and rate-limit state belong to that run."""

    def __init__(self, config: UnsplashConfig, *, sleep: Callable[[float], None] = time.sleep):
        if not config.access_key.strip():
            raise SourceConfigError(
                "the Unsplash source needs an access key: set UNSPLASH_ACCESS_KEY, or use "
                "DOPPEL_SOURCE=samples for the bundled photos"
            )
        self.config = config
        # Both checked when the config was made (its validators): https base URL, origins.
        self.image_policy = UrlPolicy(parse_origins(config.image_hosts))
        self.base_url = service_url(config.base_url)  # with its trailing slash
        self._origin = origin_of_url(self.base_url)
        self._sleep = sleep
        self.api_calls = 0
        self.ratelimit_limit: int | None = None
        self.ratelimit_remaining: int | None = None
        self._rate_limited: str | None = None  # the message, once Unsplash said "stop"
        self._api = httpx.Client(
            headers={
                "Authorization": f"Client-ID {config.access_key}",
                "Accept-Version": "v1",
                "Accept": "application/json",
            },
            timeout=config.timeout_s,
            follow_redirects=False,  # a redirect could carry the key to another host
            event_hooks={
                "request": [self._before_api_request],
                "response": [capped_replies(config.max_reply_bytes, what="Unsplash's answer")],
            },
        )
        self._images = httpx.Client(
            timeout=config.image_timeout_s,
            follow_redirects=False,
            headers={"Accept": "image/*"},
            event_hooks={"response": [capped_replies(config.max_image_bytes, what="the image")]},
        )

    def close(self) -> None:
        self._api.close()
        self._images.close()

    def __enter__(self) -> UnsplashClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # API calls

    def get_json(
        self,
        path_or_url: str,
        params: dict[str, Any] | None = None,
        *,
        retry: HttpRetry | None = None,
    ) -> ApiResponse:
        """GET an API path (relative to the base URL) or an absolute URL the API returned."""
        policy = retry or self.config.retry
        url = self._api_url(path_or_url)
        what = httpx.URL(url).path
        if self._rate_limited is not None or self.ratelimit_remaining == 0:
            raise self.rate_limited_error(
                self._rate_limited or "X-Ratelimit-Remaining was 0 on the last response"
            )
        try:
            response = send_with_retries(
                self._api, "GET", url, policy=policy, sleep=self._sleep, params=params
            )
        except httpx.TimeoutException:
            raise UnsplashError(
                f"Unsplash did not answer GET {what} within {self.config.timeout_s:g} s "
                f"({policy.attempts} tries); the day can be retried in a few minutes",
                retry_after_s=OUTAGE_RETRY_S,
            ) from None
        except httpx.TransportError as exc:
            raise UnsplashError(
                f"cannot reach Unsplash at {self._origin} ({type(exc).__name__}); check "
                "the network and DOPPEL_UNSPLASH_BASE_URL, then retry the day",
                retry_after_s=OUTAGE_RETRY_S,
            ) from None
        except ReplyTooLarge as exc:
            raise UnsplashError(
                f"{exc} (DOPPEL_UNSPLASH_MAX_REPLY_BYTES), on GET {what}; the day can be "
                "retried later",
                retry_after_s=OUTAGE_RETRY_S,
            ) from None
        self._note_headers(response, what)
        if _is_rate_limited(response):
            # From now on nothing is sent, whatever headers the answer had (429 may have none).
            self._rate_limited = f"HTTP {response.status_code} on GET {what}"
            self.ratelimit_remaining = 0
            raise self.rate_limited_error(self._rate_limited)
        if response.status_code == 401:
            raise UnsplashError(
                f"Unsplash rejected the access key (HTTP 401: {self._errors(response)}); check "
                "UNSPLASH_ACCESS_KEY (the app's Access Key, not its Secret key)"
            )
        if response.status_code >= 400:
            retry_after = OUTAGE_RETRY_S if response.status_code >= 500 else None
            advice = (
                "the day can be retried in a few minutes"
                if retry_after
                else "this will not pass by retrying; check the key's permissions and settings"
            )
            raise UnsplashError(
                f"Unsplash answered HTTP {response.status_code} to GET {what}: "
                f"{self._errors(response)}; {advice}",
                retry_after_s=retry_after,
            )
        try:
            data = response.json()
        except ValueError:
            raise UnsplashError(
                f"Unsplash's answer to GET {what} is not valid JSON "
                f"({len(response.content)} bytes, {response.headers.get('content-type', '?')}); "
                "the day can be retried in a few minutes",
                retry_after_s=OUTAGE_RETRY_S,
            ) from None
        next_url = response.links.get("next", {}).get("url")
        total = _int(response.headers.get("x-total"))
        return ApiResponse(data, next_url, total, _int(response.headers.get("x-per-page")))

    def track_download(self, download_location: str) -> None:
        """Trigger `links.download_location` (an API call; the query string is kept). Tried
        once: a failure is retried on a later run, within the bound `collect` keeps."""
        self.get_json(download_location, retry=TRACKING_RETRY)

    def _api_url(self, path_or_url: str) -> str:
        if "://" not in path_or_url:
            return self.base_url + path_or_url.lstrip("/")
        try:
            url = httpx.URL(path_or_url)
        except httpx.InvalidURL:
            raise UnsplashError(
                f"Unsplash returned an unusable URL: {path_or_url[:80]!r}"
            ) from None
        if not self._is_api_origin(url):
            raise UnsplashError(
                f"Unsplash returned an API URL on another host ({url.scheme}://{url.host}); "
                f"Doppel sends its key only to {self._origin}, so it was not followed"
            )
        return path_or_url

    def _is_api_origin(self, url: httpx.URL) -> bool:
        try:
            return origin_of_url(url) == self._origin
        except OriginError:
            return False

    def _before_api_request(self, request: httpx.Request) -> None:
        # Runs for every request actually sent, retries included: the one place that counts.
        if not self._is_api_origin(request.url):  # defence in depth for the key
            raise UnsplashError(f"refusing to send the Unsplash key to {request.url.host}")
        if self.api_calls >= self.config.call_budget:
            raise UnsplashBudgetSpent(
                f"this run's budget of {self.config.call_budget} Unsplash API calls is spent; "
                "raise DOPPEL_UNSPLASH_CALL_BUDGET if the day needs more pages"
            )
        self.api_calls += 1

    def _note_headers(self, response: httpx.Response, what: str) -> None:
        limit = _int(response.headers.get("x-ratelimit-limit"))
        remaining = _int(response.headers.get("x-ratelimit-remaining"))
        if limit is not None:
            self.ratelimit_limit = limit
        if remaining is not None:
            self.ratelimit_remaining = remaining
        if warning := response.headers.get("warning"):
            log.warning("Unsplash deprecation warning on GET %s: %s", what, warning[:300])

    def rate_limited_error(self, detail: str) -> UnsplashRateLimited:
        when = clock.utc_now() + timedelta(seconds=RATE_LIMIT_RETRY_S)
        return UnsplashRateLimited(
            f"Unsplash's hourly request limit is used up ({detail}); try this day again after "
            f"{when:%Y-%m-%d %H:%M} UTC (limits are per hour: 50 for demo apps, 5,000 in "
            "production)",
            retry_after_s=RATE_LIMIT_RETRY_S,
        )

    def _errors(self, response: httpx.Response) -> str:
        """The `errors` list of an error body, or a short sign of what came instead."""
        try:
            body = response.json()
        except ValueError:
            text = " ".join(response.text.split())
            if "<html" in text[:300].lower() or "<!doctype" in text[:300].lower():
                return "an HTML page"
            return self._redact(text[:120]) or "empty body"
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors:
            return self._redact("; ".join(str(e) for e in errors)[:300])
        return "no error message"

    def _redact(self, text: str) -> str:
        return text.replace(self.config.access_key, "***")

    # Images (the CDN: no key, not counted against the API limit)

    def download_image(self, url: str) -> bytes:
        """The image's bytes after host, size, type and decode checks."""
        self.check_image_url(url)
        data = self._download_capped(url)
        # Decoding is the real content check; the pixel cap is read from the header first.
        decode_image(data, max_pixels=self.config.max_image_pixels)
        return data

    def check_image_url(self, url: str) -> None:
        """Raises PhotoRefused unless the URL policy allows the URL (no connection is made)."""
        try:
            self.image_policy.check(url)
        except UrlRefused as exc:
            raise PhotoRefused(f"refused by URL policy: {exc}") from None
        except UrlUnresolved as exc:
            raise PhotoFetchError(str(exc)) from None

    def _download_capped(self, url: str) -> bytes:
        # A body cut short is tried once more: the CDN is free and the glitch usually passes.
        for attempt in (1, 2):
            try:
                response = self._get_image(url)
            except ReplyTooLarge as exc:  # its Content-Length said so
                raise PhotoFetchError(f"{exc} (DOPPEL_UNSPLASH_MAX_IMAGE_BYTES)") from None
            try:
                self._check_image_response(response)
                return response.read()  # capped while it streams in (the client's hook)
            except ReplyTooLarge as exc:
                raise PhotoFetchError(f"{exc} (DOPPEL_UNSPLASH_MAX_IMAGE_BYTES)") from None
            except httpx.TransportError as exc:
                if attempt == 2:
                    raise PhotoFetchError(
                        f"the image download broke off twice ({type(exc).__name__}); the day "
                        "can be re-run to try again"
                    ) from None
                log.warning("image download broke off (%s); trying once more", exc)
            finally:
                response.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_image(self, url: str) -> httpx.Response:
        """The streamed answer for `url`, following a few redirects, each target checked by
        the URL policy before anything connects to it."""
        for _hop in range(MAX_IMAGE_REDIRECTS + 1):
            try:
                response = send_with_retries(
                    self._images,
                    "GET",
                    url,
                    policy=self.config.retry,
                    sleep=self._sleep,
                    stream=True,
                )
            except httpx.TransportError as exc:
                raise PhotoFetchError(f"image download failed: {type(exc).__name__}") from None
            if not response.is_redirect:
                return response
            response.close()
            target = response.headers.get("location", "")
            try:
                url = str(response.url.join(target))
            except httpx.InvalidURL:
                bad = f"bad redirect {target[:100]!r}"
                raise PhotoRefused(f"refused by URL policy: {bad}") from None
            self.check_image_url(url)
        raise PhotoFetchError(f"the image URL redirects more than {MAX_IMAGE_REDIRECTS} times")

    def _check_image_response(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise PhotoFetchError(f"the image server answered HTTP {response.status_code}")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not content_type.startswith("image/"):
            raise PhotoFetchError(
                f"expected an image but got content type {content_type or 'none'}"
            )


def _is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    if response.status_code != 403:
        return False
    # A 403 for missing permissions is JSON; the rate-limit 403 is plain text in practice.
    content_type = response.headers.get("content-type", "")
    return (
        "json" not in content_type
        or response.headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in response.text.lower()
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
