"""The URL policy for images named in API responses, through the real Unsplash client: what is
refused is refused before any connection, which a listener that counts accepts proves."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.lib.sources import PhotoFetchError, PhotoRefused
from pipeline.lib.sources.unsplash_client import UnsplashClient, UnsplashConfig
from pipeline.lib.sources.url_policy import Origin, UrlPolicy, UrlRefused, parse_origins
from testbed.unsplash_server import TEST_ACCESS_KEY, UnsplashImitation


class AcceptCounter:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts and closes them."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port: int = self._sock.getsockname()[1]
        self.accepts = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepts += 1
            conn.close()

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def listener() -> Iterator[AcceptCounter]:
    counter = AcceptCounter()
    yield counter
    counter.close()


def client_for(server: UnsplashImitation, *hosts: str) -> UnsplashClient:
    return UnsplashClient(
        UnsplashConfig(
            access_key=TEST_ACCESS_KEY,
            base_url=server.root_url,
            image_hosts=(server.root_url, *hosts),
            image_timeout_s=0.5,
            retry_attempts=3,
            retry_backoff_s=0.01,
        )
    )


def test_the_listener_counts_a_connection_the_policy_allows(
    unsplash: UnsplashImitation, listener: AcceptCounter
) -> None:
    # The control: listed explicitly as loopback http, the port is connected to (3 tries).
    client = client_for(unsplash, f"http://127.0.0.1:{listener.port}")
    with client, pytest.raises(PhotoFetchError) as raised:
        client.download_image(f"http://127.0.0.1:{listener.port}/img/x")
    assert not isinstance(raised.value, PhotoRefused)
    assert listener.accepts >= 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/img/x", r"http://127\.0\.0\.1:\d+ is not on the allow-list"),
        (
            "https://localhost:{port}/img/x",
            "localhost resolves to the non-public address 127.0.0.1",
        ),
        ("file:///etc/passwd", "file scheme"),
        ("https://10.1.2.3/img/x", "10.1.2.3 is an IP address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is an IP address"),
        # An IPv6 address cannot be listed at all (a CSP cannot name it): refused unlisted.
        ("https://[fd00:ec2::254]/latest/", r"https://\[fd00:ec2::254\] is not on the allow"),
        ("https://images.unsplash.com:8443/img/x", r"images\.unsplash\.com:8443 is not on"),
    ],
)
def test_refused_urls_are_never_connected_to(
    unsplash: UnsplashImitation, listener: AcceptCounter, url: str, reason: str
) -> None:
    listed = (
        f"https://localhost:{listener.port}",  # allowed by name, but it resolves to loopback
        "https://10.1.2.3",
        "https://169.254.169.254",
        "images.unsplash.com",
    )
    client = client_for(unsplash, *listed)
    with client, pytest.raises(PhotoRefused, match=reason) as raised:
        client.download_image(url.format(port=listener.port))
    assert str(raised.value).startswith("refused by URL policy: ")
    assert listener.accepts == 0
    assert unsplash.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/img/elsewhere",  # loopback on a port not listed
        "https://localhost:{port}/img/elsewhere",  # a listed name that resolves to loopback
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_is_checked_before_it_is_followed(
    unsplash: UnsplashImitation, listener: AcceptCounter, target: str
) -> None:
    unsplash.redirects["moved"] = target.format(port=listener.port)
    client = client_for(unsplash, f"https://localhost:{listener.port}")
    with client, pytest.raises(PhotoRefused, match="refused by URL policy"):
        client.download_image(f"{unsplash.root_url}/img/moved")
    assert listener.accepts == 0
    assert [r.path for r in unsplash.requests] == ["/img/moved"]  # asked once, not retried


def test_an_allowed_redirect_is_followed(unsplash: UnsplashImitation) -> None:
    unsplash.redirects["moved"] = "/img/here"  # relative, on the same allowed origin
    with client_for(unsplash) as client:
        data = client.download_image(f"{unsplash.root_url}/img/moved")
    assert data.startswith(b"\xff\xd8")
    assert [r.path for r in unsplash.requests] == ["/img/moved", "/img/here"]


def test_allow_list_entries_need_a_port_for_plain_http_loopback() -> None:
    assert parse_origins(["images.unsplash.com", "https://cdn.example.com:8443"]) == (
        Origin("https", "images.unsplash.com", 443),
        Origin("https", "cdn.example.com", 8443),
    )
    for entry in ("http://images.unsplash.com", "http://127.0.0.1", "http://10.0.0.1:80"):
        with pytest.raises(ValueError, match="plain http only for a loopback address"):
            parse_origins([entry])
    assert parse_origins(["http://127.0.0.1:8123", " ", "HTTP://LocalHost:8123/"]) == (
        Origin("http", "127.0.0.1", 8123),
        Origin("http", "localhost", 8123),
    )


def test_host_names_are_judged_by_every_address_they_resolve_to() -> None:
    answers: dict[str, list[str]] = {
        "good.example": ["93.184.216.34", "2606:2800:220:1::1"],
        "mixed.example": ["93.184.216.34", "192.168.0.7"],
        "mapped.example": ["::ffff:127.0.0.1"],
        "shared.example": ["100.64.0.9"],
    }

    def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    policy = UrlPolicy(parse_origins(answers), resolve=resolve)
    assert policy.check("https://good.example/a.jpg").host == "good.example"
    for host, bad in (("mixed", "192.168.0.7"), ("mapped", "::ffff:7f00:1"),
                      ("shared", "100.64.0.9")):  # fmt: skip
        with pytest.raises(UrlRefused, match=f"non-public address {bad}"):
            policy.check(f"https://{host}.example/a.jpg")


def test_a_refused_photo_is_recorded_and_never_tried_again(
    unsplash: UnsplashImitation, tmp_path: Any
) -> None:
    from datetime import date

    from pipeline.lib.core.storage import LocalObjectStore
    from pipeline.lib.day.collect import collect_day
    from pipeline.lib.db import Database
    from pipeline.lib.sources.unsplash import UnsplashSource
    from testbed.unsplash_server import at

    bad = unsplash.photo("bad", promoted_at=at(0, 5), likes=9)
    bad["urls"] = {k: "http://127.0.0.1:1/img/x" for k in bad["urls"]}  # the old escape
    unsplash.photos = [bad, unsplash.photo("good", promoted_at=at(0, 4), likes=1)]
    db = Database(f"sqlite:///{tmp_path / 'doppel.db'}")
    db.upgrade()
    store = LocalObjectStore(tmp_path / "objects")
    config = UnsplashConfig(
        access_key=TEST_ACCESS_KEY, base_url=unsplash.root_url,
        image_hosts=(unsplash.root_url,), timeout_s=0.5,
    )  # fmt: skip
    for _run in (1, 2):
        source = UnsplashSource(config)
        result = collect_day(date(2026, 11, 20), source=source, store=store, db=db, count=2)
        source.close()
        rows = {r["source_id"]: r for r in result.rows}
        assert rows["bad"]["status"] == "refused"
        assert rows["bad"]["error"].startswith("refused by URL policy: http://127.0.0.1:1 ")
        assert rows["good"]["used"]
    # Second run: the day is settled (refused counts), so the feed is not listed again.
    assert [r.path for r in unsplash.requests_for("feed")] == ["/photos"]
    assert unsplash.requests_for("download", "bad") == []
    db.dispose()
