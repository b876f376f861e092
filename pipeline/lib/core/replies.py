"""A cap on every reply body read from a server (Unsplash's API and images, OpenAI, img2img):
a server that misbehaves must not make the run hold gigabytes.

`capped_replies(max_bytes)` is a response event hook for an httpx client, or an httpx2 one
(the OpenAI SDK's client, whose responses have the same interface). A successful reply (2xx)
over the cap raises `ReplyTooLarge`: at once when its Content-Length says so, else as soon
as the body grows past the cap while it is read. An error reply, read only for its message,
is cut at the cap instead, so its status still says what happened. The cap counts the body
as decoded: a compressed reply is decompressed here, a bounded step at a time, so a small
gzip bomb cannot expand past it either.
"""

from __future__ import annotations

import functools
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import Any

_INFLATE = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


class ReplyTooLarge(Exception):
    """A successful reply's body is over its cap; it was not read further."""

    def __init__(self, size: int, cap: int, *, more: bool = False, what: str = "the reply"):
        if more:  # found while reading: how much more is unknown
            message = f"{what} grew past the {cap:,}-byte cap while it was read"
        else:
            message = f"{what} is {size:,} bytes, over the {cap:,}-byte cap"
        super().__init__(message)
        self.size, self.cap = size, cap


def capped_replies(max_bytes: int, *, what: str = "the reply") -> Callable[[Any], None]:
    """The hook for `event_hooks={"response": [...]}`; `what` names the reply in the error
    ("the image")."""

    def cap(response: Any) -> None:
        whole = 200 <= response.status_code < 300
        declared = _int(response.headers.get("content-length"))
        encodings = [
            e.strip().lower()
            for e in response.headers.get("content-encoding", "").split(",")
            if e.strip() and e.strip().lower() != "identity"
        ]
        if whole and declared is not None and declared > max_bytes and not encodings:
            response.close()
            raise ReplyTooLarge(declared, max_bytes, what=what)
        if "content-encoding" in response.headers:
            # Decoded here (the client then sees plain bytes): the cap counts what is held.
            del response.headers["content-encoding"]
        stream_type = _capped_stream_type(type(response).__module__.partition(".")[0])
        response.stream = stream_type(response.stream, max_bytes, whole, encodings, what)

    return cap


@functools.cache
def _capped_stream_type(package: str) -> type:
    """A body stream of the response's own package (httpx or httpx2), as its reader checks."""
    module = sys.modules[package]

    class CappedStream(module.SyncByteStream):  # type: ignore[misc, name-defined]
        def __init__(self, raw: Any, cap: int, whole: bool, encodings: list[str], what: str):
            self._raw, self._cap, self._whole = raw, cap, whole
            self._encodings, self._what = encodings, what

        def __iter__(self) -> Iterator[bytes]:
            held = 0
            chunks = _decoded(iter(self._raw), self._encodings, self._cap, module.DecodingError)
            for chunk in chunks:
                if held + len(chunk) > self._cap:
                    if self._whole:
                        size = held + len(chunk)
                        raise ReplyTooLarge(size, self._cap, more=True, what=self._what)
                    yield chunk[: self._cap - held]  # an error's message: cut, not refused
                    return
                held += len(chunk)
                yield chunk

        def close(self) -> None:
            self._raw.close()

    return CappedStream


def _decoded(
    raw: Iterator[bytes], encodings: list[str], cap: int, broken: type[Exception]
) -> Iterator[bytes]:
    """The body with its content encodings undone (last applied, first undone), each step
    giving out at most one byte past the cap per input chunk. An encoding this does not know
    is passed on as it is (httpx would not decode it either)."""
    chunks = raw
    for encoding in reversed(encodings):
        if encoding in _INFLATE:
            chunks = _inflate(chunks, _INFLATE[encoding], cap, broken)
    return chunks


def _inflate(
    chunks: Iterator[bytes], wbits: int, cap: int, broken: type[Exception]
) -> Iterator[bytes]:
    inflater = zlib.decompressobj(wbits)
    first = True
    for chunk in chunks:
        data = chunk
        while data:
            try:
                out = inflater.decompress(data, cap + 1)
            except zlib.error:
                if not (first and wbits == zlib.MAX_WBITS):
                    raise broken("the reply's compressed body is broken") from None
                inflater, wbits = zlib.decompressobj(-zlib.MAX_WBITS), -zlib.MAX_WBITS
                continue  # "deflate" without its zlib header, as some servers send it
            first = False
            data = inflater.unconsumed_tail
            if out:
                yield out
    tail = inflater.flush()
    if tail:
        yield tail


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
