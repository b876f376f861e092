"""The vote service behind the gallery's real nginx (deploy/nginx/gallery.conf.template):
votes pass, nginx limits one address and not the others, and its own refusals come first."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from pipeline.lib.db import Database
from pipeline_tests.conftest import postgres_databases
from pipeline_tests.deploy.test_compose import SECURITY_HEADERS
from pipeline_tests.deploy.tools import gallery_nginx
from pipeline_tests.fixtures.votes import add_pair, digest, pair_vote, vote_service

# nginx's limit for one address (the template): 5 a second after a burst of 10.
NGINX_RATE_PER_S = 5
NGINX_BURST = 10


@pytest.fixture(scope="module")
def stack(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    """nginx in front of the vote service over a real PostgreSQL with one published pair;
    yields nginx's URL and the pair's photo id."""
    with postgres_databases(postgres_server) as make:
        db = Database(make()["url"])
        db.upgrade()
        photo = add_pair(db, "harbour")
        work = tmp_path_factory.mktemp("nginx")
        try:
            with vote_service(db) as votes, gallery_nginx(work, "http://127.0.0.1:9", votes) as url:
                yield url, photo
        finally:
            db.dispose()


def test_a_vote_passes_nginx_with_the_gallerys_headers(stack: tuple[str, int]) -> None:
    url, photo = stack
    answer = httpx.post(f"{url}/api/votes", json=pair_vote(photo, digest("photo harbour")))
    assert answer.status_code == 201 and answer.json() == {"correct": True}
    assert {k: answer.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "server" not in answer.headers or "uvicorn" not in answer.headers["server"]
    # nginx's own refusals: no other method, no large body (before the service reads it).
    assert httpx.get(f"{url}/api/votes").status_code == 403
    large = httpx.post(f"{url}/api/votes", content=b"{" + b" " * 5000 + b"}",
                       headers={"content-type": "application/json"})  # fmt: skip
    assert large.status_code == 413
    # Only /api/votes reaches the service: its health and metrics stay inside (this path goes
    # to the bucket, which here is not there).
    health = httpx.get(f"{url}/api/votes/health")
    assert health.status_code != 200 and '"ok"' not in health.text


@pytest.mark.slow
def test_nginx_limits_a_flooding_address_and_no_other(stack: tuple[str, int]) -> None:
    url, photo = stack
    flood_answers: list[int] = []
    other_answers: list[int] = []
    picked = digest("look-alike harbour")
    # Two loopback addresses no other test uses, so each starts with nginx's full burst (the
    # module's other test spends 127.0.0.1's): one floods, the other plays between its requests.
    flood_transport = httpx.HTTPTransport(local_address="127.0.0.3")
    other_transport = httpx.HTTPTransport(local_address="127.0.0.4")
    with (
        httpx.Client(base_url=url, transport=flood_transport) as flood,
        httpx.Client(base_url=url, transport=other_transport) as other,
    ):
        # Opens the connection before the clock starts (and takes one of the burst).
        flood.post("/api/votes", json={})
        begin = time.perf_counter()
        for i in range(300):
            flood_answers.append(
                flood.post("/api/votes", json=pair_vote(photo, picked)).status_code
            )
            if i % 60 == 59:
                other_answers.append(
                    other.post("/api/votes", json=pair_vote(photo, picked)).status_code
                )
        elapsed = time.perf_counter() - begin
    accepted = flood_answers.count(201)
    # At most the burst, the first request and what the rate refilled while it ran.
    assert NGINX_BURST <= accepted <= NGINX_BURST + 2 + NGINX_RATE_PER_S * elapsed, (
        accepted,
        elapsed,
    )
    assert set(flood_answers) == {201, 429}
    assert other_answers == [201] * 5
