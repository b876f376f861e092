"""One vote's request body, read and checked: the one place the service trusts a field.

A vote names the pair (the photo's id and the generator), the image picked by its content
digest (so the service decides from the published pair which one it was, never the client),
the time taken and the browser's random id. Whatever fails a check is a `Refusal`: a 4xx
status, a reason for the metrics and a one-line message; nothing refused is stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# A vote is about 250 bytes; anything much larger is not one (read no further).
MAX_BODY_BYTES = 2048
# Faster than this, nobody looked at two pictures and chose: a script, or a double click.
MIN_ANSWER_MS = 400
# Slower than a day: a tab left open; the time would only skew the figures.
MAX_ANSWER_MS = 86_400_000
MODES = ("pair", "single")
ANSWERS = ("photo", "lookalike")
FIELDS = {
    "pair": {"photo_id", "generator", "mode", "picked", "answer_ms", "browser_id"},
    "single": {
        "photo_id",
        "generator",
        "mode",
        "shown",
        "answer",
        "confidence",
        "answer_ms",
        "browser_id",
    },
}

# What a generator's name may be in a vote (the game posts only rounds whose name is).
GENERATOR_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# crypto.randomUUID(): a version-4 UUID, lower case.
_BROWSER_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Refusal(Exception):
    """A vote not taken: `status` (4xx), `reason` (a metric label), `message` (one line)."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


REFUSAL_REASONS = (
    "too_large",
    "not_json",
    "malformed",
    "invalid",
    "too_fast",
    "unknown_pair",
    "not_in_pair",
    "duplicate",
    "rate_limited",
)


@dataclass(frozen=True)
class Ballot:
    """A well-formed vote, not yet checked against the published pairs.

    `image`: the digest of the picked image (pair mode) or of the image shown (single).
    `answer`: single mode only, what the player said the shown image is."""

    photo_id: int
    generator: str
    mode: str
    image: str
    answer_ms: int
    browser_id: str
    answer: str | None = None
    confidence: int | None = None


def check_content_type(value: str | None) -> None:
    kind = (value or "").split(";", 1)[0].strip().lower()
    if kind != "application/json":
        raise Refusal(415, "not_json", "a vote is sent as application/json")


def read_ballot(body: bytes) -> Ballot:
    """The vote in `body` (at most MAX_BODY_BYTES, already cut by the reader), or a Refusal."""
    if len(body) > MAX_BODY_BYTES:
        raise Refusal(413, "too_large", f"a vote is at most {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
    # RecursionError: 2 KiB of '[' nests deeper than the parser goes.
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refusal(400, "malformed", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refusal(422, "invalid", "a vote is a JSON object")
    mode = data.get("mode")
    if mode not in MODES:
        raise Refusal(422, "invalid", "mode must be 'pair' or 'single'")
    fields = FIELDS[mode]
    if set(data) != fields:
        raise Refusal(422, "invalid", f"a {mode} vote has exactly the fields {sorted(fields)}")
    photo_id = _integer(data, "photo_id", 1, 2**31 - 1)
    answer_ms = _integer(data, "answer_ms", 0, MAX_ANSWER_MS)
    if answer_ms < MIN_ANSWER_MS:
        raise Refusal(422, "too_fast", f"an answer takes a person at least {MIN_ANSWER_MS} ms")
    generator = _matching(data, "generator", GENERATOR_NAME, "a generator's name")
    browser_id = _matching(data, "browser_id", _BROWSER_ID, "a random (version 4) UUID")
    if mode == "pair":
        image = _matching(data, "picked", _DIGEST, "the picked image's SHA-256 (64 hex digits)")
        return Ballot(photo_id, generator, mode, image, answer_ms, browser_id)
    image = _matching(data, "shown", _DIGEST, "the shown image's SHA-256 (64 hex digits)")
    answer = data["answer"]
    if answer not in ANSWERS:
        raise Refusal(422, "invalid", "answer must be 'photo' or 'lookalike'")
    confidence = _integer(data, "confidence", 50, 100)
    return Ballot(photo_id, generator, mode, image, answer_ms, browser_id, answer, confidence)


def _integer(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data[name]
    # JSON true is a Python int: not a number of anything here.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Refusal(422, "invalid", f"{name} must be a whole number from {low} to {high}")
    return value


def _matching(data: dict[str, Any], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise Refusal(422, "invalid", f"{name} must be {what}")
    return value
