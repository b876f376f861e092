"""The Unsplash client and source against the imitation server over real HTTP on 127.0.0.1:
day selection, paging, budgets, rate limits, faults, download tracking and image checks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.lib.core.images import ImageError, decode_image
from pipeline.lib.sources import ListedPhoto, PhotoFetchError, PhotoRefused
from pipeline.lib.sources.unsplash import UnsplashSource
from pipeline.lib.sources.unsplash_client import (
    UnsplashBudgetSpent,
    UnsplashClient,
    UnsplashConfig,
    UnsplashError,
    UnsplashRateLimited,
)
from testbed.unsplash_server import (
    IXID,
    TEST_ACCESS_KEY,
    UnsplashImitation,
    at,
    big_png,
    standard_feed,
)

DAY = date(2026, 11, 20)
CREDIT_KEYS = {
    "provider", "photo_id", "name", "username", "profile_url", "unsplash_url",
    "photo_page_url", "text", "display_url", "thumb_url", "color", "blur_hash", "created_at",
    "promoted_at", "download_location",
}  # fmt: skip


@pytest.fixture
def make_source(unsplash: UnsplashImitation) -> Iterator[Callable[..., UnsplashSource]]:
    opened: list[UnsplashSource] = []

    def make(**overrides: Any) -> UnsplashSource:
        settings: dict[str, Any] = {
            "access_key": TEST_ACCESS_KEY,
            "base_url": unsplash.root_url,
            "per_page": 5,
            "image_hosts": (unsplash.root_url,),
            "timeout_s": 0.3,
            "image_timeout_s": 0.3,
            "retry_attempts": 3,
            "retry_backoff_s": 0.01,
            "max_image_pixels": 1_000_000,
        } | overrides
        source = UnsplashSource(UnsplashConfig(**settings))
        opened.append(source)
        return source

    yield make
    for source in opened:
        source.close()


def calls(server: UnsplashImitation, source: UnsplashSource) -> int:
    """API calls as the server counted them; the client's own count must agree."""
    counted = len(server.api_requests())
    assert source.client.api_calls == counted
    return counted


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# Choosing the day


def test_unsplash_day_is_the_feed_ranked_by_likes(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    standard_feed(unsplash)
    source = make_source()
    photos = source.day_photos(DAY, 4)
    # Likes first; the 50-like tie goes to the one promoted earlier (d at 17h, b at 19h).
    assert [p.source_id for p in photos] == ["d", "b", "f", "c"]
    assert [p.rank for p in photos] == [1, 2, 3, 4]
    assert [p.likes for p in photos] == [50, 50, 30, 20]
    assert calls(unsplash, source) == 2

    first, second = unsplash.requests_for("feed")
    assert first.query == {"page": ["1"], "per_page": ["5"]}
    assert second.query == {"page": ["2"], "per_page": ["5"]}  # the Link the API returned
    for request in (first, second):
        assert request.headers["authorization"] == f"Client-ID {TEST_ACCESS_KEY}"
        assert request.headers["accept-version"] == "v1"
        assert "order_by" not in request.query and "client_id" not in request.query
    assert source.run_metadata() == {
        "unsplash_api_calls": 2,
        "unsplash_feed_pages": 2,
        "unsplash_ratelimit_remaining": 48,
        "unsplash_day_complete": True,
    }


def test_unsplash_promotion_time_decides_the_day(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    unsplash.photos = [
        # uploaded on DAY but promoted the next day: that day's photo, not DAY's
        unsplash.photo("late", promoted_at=at(1, 2), created_at=at(0, 9), likes=900),
        # uploaded two days before, promoted on DAY: DAY's photo
        unsplash.photo("old_upload", promoted_at=at(0, 15), created_at=at(-2, 8), likes=40),
        # no promotion time (schema drift): created_at stands in
        unsplash.photo("no_promo", promoted_at=None, created_at=at(0, 12), likes=30),
        unsplash.photo("yesterday", promoted_at=at(-1, 23), created_at=at(0, 1), likes=999),
    ]
    source = make_source()
    photos = source.day_photos(DAY, 4)
    assert [p.source_id for p in photos] == ["old_upload", "no_promo"]
    assert photos[0].published_at == at(0, 15)
    assert photos[0].credit["created_at"] == at(-2, 8).isoformat()
    assert calls(unsplash, source) == 1


def test_unsplash_paging_stops_at_the_end_of_the_feed(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    unsplash.photos = [unsplash.photo(f"p{i}", promoted_at=at(0, 20 - i)) for i in range(7)]
    source = make_source()
    assert len(source.day_photos(DAY, 10)) == 7  # page 2 has no `next`: the feed ended
    assert calls(unsplash, source) == 2

    unsplash.clear()
    unsplash.advertised_total = 50  # `next` points past the end: an empty page
    source = make_source()
    assert len(source.day_photos(DAY, 10)) == 7
    assert calls(unsplash, source) == 3
    assert unsplash.requests_for("feed")[-1].query["page"] == ["3"]


def test_unsplash_feed_drift_is_tolerated_and_unfit_items_skipped(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    dup = unsplash.photo("dup", promoted_at=at(0, 19), likes=70)
    sponsored = unsplash.photo("ad", promoted_at=at(0, 19), likes=5000)
    sponsored["sponsorship"] = {"sponsor": {"name": "Brand"}, "tagline": "Buy"}
    illustration = unsplash.photo("illu", promoted_at=at(0, 18), likes=4000)
    illustration["asset_type"] = "illustration"
    no_urls = unsplash.photo("nourls", promoted_at=at(0, 18), likes=3000)
    del no_urls["urls"]
    no_tracking = unsplash.photo("notrack", promoted_at=at(0, 18), likes=3000)
    del no_tracking["links"]["download_location"]
    bare = unsplash.photo("bare", promoted_at=at(0, 17), likes=60)
    for key in ("description", "alt_description", "width", "height", "color", "blur_hash"):
        bare.pop(key)
    del bare["user"]
    bare["urls"] = {"regular": bare["urls"]["regular"]}  # no raw: the regular size is used
    odd = unsplash.photo("odd", promoted_at=at(0, 16), likes="many")  # type: ignore[arg-type]
    odd["user"]["links"]["html"] = "javascript:alert(1)"
    odd["description"] = "  A  <b>bold</b>\n title  "
    odd["new_field_from_the_future"] = {"x": 1}
    no_at = {"id": "no_at", "urls": {"raw": "x"}, "likes": 9999}
    unsplash.photos = [
        dup, sponsored, illustration, "junk", {"likes": 9}, no_urls, no_tracking,  # page 1
        bare, dup, odd, no_at, unsplash.photo("prev", promoted_at=at(-1, 20)),  # page 2
    ]  # fmt: skip
    source = make_source(per_page=7)
    chosen = source.day_photos(DAY, 5)
    assert [p.source_id for p in chosen] == ["dup", "bare", "odd"]  # dup once, not twice
    photos = {p.source_id: p for p in chosen}
    assert calls(unsplash, source) == 2

    bare_photo = photos["bare"]
    assert bare_photo.title is None and bare_photo.description is None
    assert bare_photo.photographer_name == "an Unsplash photographer"
    assert bare_photo.image_ref == bare_photo.display_url  # regular stands in for raw
    assert bare_photo.credit["username"] is None and bare_photo.credit["color"] is None
    odd_photo = photos["odd"]
    assert odd_photo.likes == 0
    assert odd_photo.title == "A <b>bold</b> title"  # text kept as text; the gallery escapes
    assert odd_photo.photographer_url == (
        "https://unsplash.com/@user_odd?utm_source=doppel&utm_medium=referral"
    )  # the javascript: link was replaced by one built from the username


def test_unsplash_photo_carries_hotlink_credit_and_sized_download(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    item = unsplash.photo("Abc123xyz_0", promoted_at=at(0, 12), likes=42, username="jane_doe")
    item["user"]["links"]["html"] = "https://unsplash.com/jane_doe"  # docs form, without @
    unsplash.photos = [item]
    [photo] = make_source(image_width=800).day_photos(DAY, 1)

    assert photo.display_url == item["urls"]["regular"]  # hotlinked as returned, ixid kept
    assert query(photo.image_ref) == {
        "ixid": [IXID], "ixlib": ["rb-4.0.3"], "w": ["800"], "fm": ["jpg"], "q": ["85"],
        "fit": ["max"],
    }  # fmt: skip
    assert photo.page_url == (
        "https://unsplash.com/photos/a-photo-Abc123xyz_0?utm_source=doppel&utm_medium=referral"
    )
    assert photo.photographer_url == (
        "https://unsplash.com/jane_doe?utm_source=doppel&utm_medium=referral"
    )
    assert (photo.photographer_name, photo.license) == ("Jane Abc123xyz_0", "Unsplash License")
    assert photo.description == "a red boat on a calm lake (Abc123xyz_0)"
    assert set(photo.credit) == CREDIT_KEYS
    assert photo.credit["text"] == "Photo by Jane Abc123xyz_0 on Unsplash"
    assert photo.credit["unsplash_url"] == (
        "https://unsplash.com/?utm_source=doppel&utm_medium=referral"
    )
    assert photo.credit["download_location"] == item["links"]["download_location"]
    assert TEST_ACCESS_KEY not in repr(photo)


# Limits: page cap, the run's call budget, Unsplash's hourly limit


def test_unsplash_day_out_of_reach_fails_at_the_page_cap(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    unsplash.photos = [unsplash.photo(f"n{i}", promoted_at=at(3, 20 - i / 10)) for i in range(30)]
    source = make_source(max_pages=3)
    with pytest.raises(UnsplashError, match=r"further back .* page cap of 3") as caught:
        source.day_photos(DAY, 4)
    assert caught.value.retry_after_s is None  # retrying as is will not help
    assert calls(unsplash, source) == 3


def test_unsplash_call_budget_bounds_paging_and_keeps_tracking_calls(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    unsplash.photos = [unsplash.photo(f"p{i:02}", promoted_at=at(0, 23 - i / 2), likes=i)
                       for i in range(40)]  # fmt: skip
    source = make_source(call_budget=7, max_pages=10)
    photos = source.day_photos(DAY, 4)  # 7 - 4 kept for tracking = 3 pages
    assert calls(unsplash, source) == 3
    assert source.run_metadata()["unsplash_day_complete"] is False
    assert [p.source_id for p in photos] == ["p14", "p13", "p12", "p11"]  # best of what was seen
    for photo in photos:
        source.track_use(photo)
    assert calls(unsplash, source) == 7
    with pytest.raises(UnsplashBudgetSpent, match="budget of 7"):
        source.track_use(photos[0])
    assert calls(unsplash, source) == 7  # the hard stop sent nothing

    with pytest.raises(UnsplashError, match="at least 5"):
        make_source(call_budget=4).day_photos(DAY, 4)


@pytest.mark.parametrize("fault", ["rate_limit_403", "rate_limit_429"])
def test_unsplash_rate_limit_stops_everything_with_a_retry_time(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource], fault: str
) -> None:
    standard_feed(unsplash)
    unsplash.fail("feed", fault)
    source = make_source()
    with pytest.raises(UnsplashRateLimited, match=r"try this day again after .* UTC") as caught:
        source.day_photos(DAY, 4)
    assert caught.value.retry_after_s == 3600
    with pytest.raises(UnsplashRateLimited):
        source.day_photos(DAY, 4)
    photo = ListedPhoto("unsplash", "x", 1, "", credit={
        "download_location": f"{unsplash.root_url}/photos/x/download?ixid={IXID}"})  # fmt: skip
    with pytest.raises(UnsplashRateLimited):
        source.track_use(photo)
    assert calls(unsplash, source) == 1  # no hot loop: nothing sent after the first "stop"
    assert source.run_metadata()["unsplash_ratelimit_remaining"] == 0


def test_unsplash_low_remaining_stops_before_the_hourly_limit(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    standard_feed(unsplash)
    unsplash.ratelimit_remaining = 7  # page 1 leaves 6: less than 1 page + 4 tracking + 2
    source = make_source(reserve=2)
    with pytest.raises(UnsplashRateLimited, match="X-Ratelimit-Remaining is 6"):
        source.day_photos(DAY, 4)
    assert calls(unsplash, source) == 1
    assert unsplash.ratelimit_remaining == 6

    unsplash.clear()
    unsplash.ratelimit_remaining = 8  # exactly enough: 2 pages, then 6 left for 4 + 2
    assert len(make_source(reserve=2).day_photos(DAY, 4)) == 4
    assert unsplash.ratelimit_remaining == 6


def test_unsplash_remaining_zero_is_not_spent_on_tracking(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    unsplash.photos = [unsplash.photo("only", promoted_at=at(0, 5))]
    unsplash.ratelimit_remaining = 1
    source = make_source(reserve=0)
    [photo] = source.day_photos(DAY, 1)
    with pytest.raises(UnsplashRateLimited, match="Remaining was 0"):
        source.track_use(photo)
    assert calls(unsplash, source) == 1


# Errors and faults


def test_unsplash_rejected_key_and_missing_permission_are_not_rate_limits(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    standard_feed(unsplash)
    source = make_source(access_key="wrong-key-123")
    with pytest.raises(UnsplashError, match="UNSPLASH_ACCESS_KEY") as caught:
        source.day_photos(DAY, 4)
    assert "OAuth error" in str(caught.value) and "wrong-key-123" not in str(caught.value)
    assert not isinstance(caught.value, UnsplashRateLimited)
    assert len(unsplash.api_requests()) == 1  # not retried

    unsplash.clear()
    unsplash.fail("feed", "forbidden_json")
    source = make_source()
    with pytest.raises(UnsplashError, match=r"HTTP 403.*permissions") as caught:
        source.day_photos(DAY, 4)
    assert not isinstance(caught.value, UnsplashRateLimited)
    assert caught.value.retry_after_s is None


@pytest.mark.parametrize(
    ("fault", "shown"), [("error_json", "HTTP 500.*Internal Server Error"),
                         ("error_html", "HTTP 503.*an HTML page")]
)  # fmt: skip
def test_unsplash_5xx_is_retried_then_reported(
    unsplash: UnsplashImitation,
    make_source: Callable[..., UnsplashSource],
    fault: str,
    shown: str,
) -> None:
    standard_feed(unsplash)
    unsplash.fail("feed", fault, times=2)
    source = make_source()
    assert len(source.day_photos(DAY, 4)) == 4
    assert calls(unsplash, source) == 4  # page 1 took 3 tries, page 2 one

    unsplash.clear()
    unsplash.fail("feed", fault, times=3)
    source = make_source()
    with pytest.raises(UnsplashError, match=shown) as caught:
        source.day_photos(DAY, 4)
    assert caught.value.retry_after_s == 600
    assert calls(unsplash, source) == 3


def test_unsplash_slow_or_dropped_answers_are_retried_then_time_out(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    standard_feed(unsplash)
    unsplash.fail("feed", "slow")
    unsplash.fail("feed", "reset")
    source = make_source()
    assert len(source.day_photos(DAY, 4)) == 4
    assert calls(unsplash, source) == 4

    unsplash.clear()
    unsplash.fail("feed", "slow", times=2)
    source = make_source(retry_attempts=2, retry_backoff_s=0.01)
    with pytest.raises(UnsplashError, match=r"did not answer GET /photos within 0\.3 s"):
        source.day_photos(DAY, 4)
    assert calls(unsplash, source) == 2


def test_unsplash_malformed_json_and_foreign_links_fail_clearly(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    standard_feed(unsplash)
    unsplash.fail("feed", "malformed_json")
    source = make_source()
    with pytest.raises(UnsplashError, match="not valid JSON"):
        source.day_photos(DAY, 4)
    assert calls(unsplash, source) == 1

    unsplash.clear()
    unsplash.link_root = unsplash.root_url.replace("127.0.0.1", "localhost")
    source = make_source()
    with pytest.raises(UnsplashError, match=r"another host .* not followed"):
        source.day_photos(DAY, 4)
    assert calls(unsplash, source) == 1  # the key never went to the other origin


def test_an_oversized_api_answer_fails_the_day_and_a_tracking_call_alone(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    standard_feed(unsplash)
    unsplash.fail("feed", "oversized")
    source = make_source(max_reply_bytes=64 * 1024)
    with pytest.raises(UnsplashError) as raised:
        source.day_photos(DAY, 4)
    assert str(raised.value).startswith(
        "Unsplash's answer grew past the 65,536-byte cap while it was read "
        "(DOPPEL_UNSPLASH_MAX_REPLY_BYTES), on GET /photos"
    )
    assert raised.value.retry_after_s == 600 and calls(unsplash, source) == 1
    [photo, *_] = make_source(max_reply_bytes=64 * 1024).day_photos(DAY, 4)
    unsplash.fail("download", "oversized")
    with pytest.raises(UnsplashError, match="DOPPEL_UNSPLASH_MAX_REPLY_BYTES"):
        source.track_use(photo)


def test_unsplash_deprecation_warning_is_logged(
    unsplash: UnsplashImitation,
    make_source: Callable[..., UnsplashSource],
    caplog: pytest.LogCaptureFixture,
) -> None:
    unsplash.photos = [unsplash.photo("p", promoted_at=at(0, 5))]
    unsplash.fail("feed", "warning")
    with caplog.at_level(logging.WARNING):
        make_source().day_photos(DAY, 1)
    assert "Deprecated endpoint" in caplog.text


def test_unsplash_base_url_and_key_are_checked() -> None:
    config = UnsplashConfig(access_key="k", base_url="https://api.example.test")
    assert UnsplashClient(config).base_url == "https://api.example.test/"
    assert UnsplashConfig(base_url="http://127.0.0.1:8080/").base_url == "http://127.0.0.1:8080/"
    with pytest.raises(ValueError, match="must be an https"):
        UnsplashConfig(base_url="http://api.example.test/")
    with pytest.raises(ValueError, match="UNSPLASH_ACCESS_KEY"):
        UnsplashSource(UnsplashConfig(access_key="  "))


# Download tracking


def test_unsplash_download_tracking_keeps_the_query_and_fails_loudly(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    unsplash.photos = [unsplash.photo(p, promoted_at=at(0, 5)) for p in ("ok", "down", "deny")]
    source = make_source()
    photos = {p.source_id: p for p in source.day_photos(DAY, 3)}
    source.track_use(photos["ok"])
    [tracked] = unsplash.requests_for("download", "ok")
    assert tracked.query == {"ixid": [IXID]}
    assert tracked.headers["authorization"] == f"Client-ID {TEST_ACCESS_KEY}"

    unsplash.fail("download", "error_json", times=3, photo_id="down")
    with pytest.raises(UnsplashError, match="HTTP 500"):
        source.track_use(photos["down"])
    # Tried once: later runs try again, within collect's bound over runs.
    assert len(unsplash.requests_for("download", "down")) == 1
    unsplash.fail("download", "unauthorized", photo_id="deny")
    with pytest.raises(UnsplashError, match="HTTP 401"):
        source.track_use(photos["deny"])
    assert len(unsplash.requests_for("download", "deny")) == 1

    elsewhere = ListedPhoto("unsplash", "x", 1, "", credit={
        "download_location": "https://tracker.example.test/photos/x/download?ixid=1"})  # fmt: skip
    with pytest.raises(UnsplashError, match="another host"):
        source.track_use(elsewhere)
    assert calls(unsplash, source) == 1 + 1 + 1 + 1


# Images


def day_photo(
    server: UnsplashImitation, source: UnsplashSource, photo_id: str = "p", **kwargs: Any
) -> ListedPhoto:
    server.photos = [server.photo(photo_id, promoted_at=at(0, 5), **kwargs)]
    [photo] = source.day_photos(DAY, 1)
    return photo


def test_unsplash_image_is_fetched_sized_with_ixid_and_without_the_key(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    source = make_source()
    photo = day_photo(unsplash, source)
    data = source.fetch_image(photo)
    assert decode_image(data).size == (64, 48)
    [request] = unsplash.requests_for("image")
    assert request.query["ixid"] == [IXID] and request.query["w"] == ["1536"]
    assert request.query["fm"] == ["jpg"] and request.query["fit"] == ["max"]
    assert "authorization" not in request.headers  # the key only goes to the API
    assert calls(unsplash, source) == 1  # image bytes are not API calls


def test_unsplash_image_from_a_host_not_allowed_is_refused_unfetched(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    source = make_source()
    item = unsplash.photo("elsewhere", promoted_at=at(0, 5))
    for size, url in item["urls"].items():  # a loopback name that is not on the allow-list
        item["urls"][size] = url.replace("127.0.0.1", "localhost")
    unsplash.photos = [item]
    [photo] = source.day_photos(DAY, 1)
    with pytest.raises(
        PhotoRefused, match=r"refused by URL policy: http://localhost:\d+ is not on"
    ):
        source.fetch_image(photo)
    assert unsplash.requests_for("image") == []

    plain = make_source(image_hosts=("images.example.test",))
    insecure = ListedPhoto("unsplash", "x", 1, "http://images.example.test/x.jpg")
    with pytest.raises(PhotoRefused, match=r"http://images\.example\.test is not on"):
        plain.fetch_image(insecure)


def test_unsplash_image_truncated_in_transit_is_tried_twice(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    source = make_source()
    photo = day_photo(unsplash, source)
    unsplash.fail("image", "truncated_body")
    assert decode_image(source.fetch_image(photo)).size == (64, 48)
    unsplash.fail("image", "truncated_body", times=2)
    with pytest.raises(PhotoFetchError, match="broke off twice"):
        source.fetch_image(photo)
    assert len(unsplash.requests_for("image")) == 4


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ("half_image", ImageError, "truncated"),
        ("wrong_type", PhotoFetchError, "content type text/html"),
        ("error_html", PhotoFetchError, "HTTP 503"),
    ],
)
def test_unsplash_image_faults_fail_that_photo(
    unsplash: UnsplashImitation,
    make_source: Callable[..., UnsplashSource],
    fault: str,
    error: type[Exception],
    message: str,
) -> None:
    source = make_source()
    photo = day_photo(unsplash, source)
    unsplash.fail("image", fault, times=3)
    with pytest.raises(error, match=message):
        source.fetch_image(photo)


def test_unsplash_image_caps_bytes_and_pixels(
    unsplash: UnsplashImitation, make_source: Callable[..., UnsplashSource]
) -> None:
    unsplash.images["huge"] = (big_png(2500), "image/png")  # 6.25 MP, a few kB on the wire
    source = make_source()
    huge = day_photo(unsplash, source, "huge", image="huge")
    with pytest.raises(ImageError, match="over the 1 megapixel limit"):
        source.fetch_image(huge)

    small_cap = make_source(max_image_bytes=300)
    photo = day_photo(unsplash, small_cap)
    with pytest.raises(PhotoFetchError, match=r"the image is [\d,]+ bytes, over the 300-byte cap"):
        small_cap.fetch_image(photo)
    unsplash.fail("image", "chunked")  # no Content-Length: the cap applies while reading
    with pytest.raises(PhotoFetchError, match="the image grew past the 300-byte cap while"):
        small_cap.fetch_image(photo)
