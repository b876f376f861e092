"""The cap on reply bodies, against a real server on 127.0.0.1, through httpx and httpx2 (the
OpenAI SDK's): too big by Content-Length or while streaming, compressed to slip past a byte
cap, or an error page that only needs its first bytes."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest

from pipeline.lib.core.replies import ReplyTooLarge, capped_replies
from testbed.loopback import LoopbackServer, Reply, Request

CAP = 64 * 1024


class Replies(LoopbackServer):
    """GET /<name> answers `self.replies[name]`."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: dict[str, Reply] = {}

    def respond(self, request: Request) -> Reply:
        return self.replies[request.path.strip("/")]


def _gzip(body: bytes) -> Reply:
    return Reply(200, gzip.compress(body), "application/json", {"Content-Encoding": "gzip"})


@pytest.fixture(scope="module")
def server() -> Iterator[Replies]:
    with Replies() as running:
        body = b"x" * (CAP + 1)
        deflated = Reply(200, _raw_deflate(b'{"ok": 2}'), "application/json")
        deflated.headers["Content-Encoding"] = "deflate"  # without its zlib header
        running.replies.update(
            fits=Reply(200, b"y" * CAP, "application/octet-stream"),
            declared=Reply(200, body, "application/octet-stream"),
            streamed=Reply(200, body, "application/octet-stream", chunked=True),
            bomb=_gzip(b"\0" * (50 * CAP)),
            small_gzip=_gzip(b'{"ok": 1}'),
            raw_deflate=deflated,
            error_page=Reply(500, b"<html>" + b"e" * (10 * CAP), "text/html", chunked=True),
        )
        yield running


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


CLIENTS: dict[str, Any] = {"httpx": httpx, "httpx2": httpx2}


@pytest.fixture(params=sorted(CLIENTS))
def client(request: pytest.FixtureRequest, server: Replies) -> Iterator[Any]:
    module = CLIENTS[request.param]
    hook = capped_replies(CAP)
    with module.Client(base_url=server.root_url, event_hooks={"response": [hook]}) as made:
        yield made


def test_a_reply_within_the_cap_is_read_whole(client: Any) -> None:
    assert client.get("/fits").content == b"y" * CAP
    assert client.get("/small_gzip").json() == {"ok": 1}  # decoded here, once
    assert client.get("/raw_deflate").json() == {"ok": 2}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("declared", f"the reply is {CAP + 1:,} bytes, over the {CAP:,}-byte cap"),
        ("streamed", f"the reply grew past the {CAP:,}-byte cap while it was read"),
        # 3 kB on the wire, 3 MB decoded: stopped at the cap, not after inflating it all
        ("bomb", f"the reply grew past the {CAP:,}-byte cap while it was read"),
    ],
)
def test_a_reply_over_the_cap_is_refused_before_it_is_held(
    client: Any, name: str, message: str
) -> None:
    with pytest.raises(ReplyTooLarge) as raised:
        client.get(f"/{name}")
    assert str(raised.value) == message
    assert raised.value.size <= 2 * CAP + 1 and raised.value.cap == CAP


def test_an_error_reply_is_cut_at_the_cap_and_keeps_its_status(client: Any) -> None:
    response = client.get("/error_page")
    assert response.status_code == 500
    assert len(response.content) == CAP and response.content.startswith(b"<html>")


def test_a_streamed_reply_is_capped_while_it_is_read(server: Replies) -> None:
    hook = capped_replies(CAP)
    with (
        httpx.Client(event_hooks={"response": [hook]}) as client,
        client.stream("GET", f"{server.root_url}/streamed") as response,
        pytest.raises(ReplyTooLarge),
    ):
        response.read()
