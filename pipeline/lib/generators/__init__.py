"""Look-alike generators behind one small interface.

Every backend (the offline patch remix, OpenAI, a self-hosted img2img server) takes a
`LoadedPhoto` and returns a `Generation`, or raises `GenerationError` saying whether the
failure is worth retrying. The pipeline never needs to know which backend it talks to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from PIL import Image

FailureKind = Literal["failed", "refused", "budget"]


@dataclass(frozen=True)
class LoadedPhoto:
    """A stored photo loaded for a generator: its bytes, decoded RGB pixels, and what
    prompts may use."""

    image: Image.Image
    data: bytes
    content_type: str
    seed: int
    description: str | None = None
    name: str = "photo"
    photo_id: int | None = None  # its `Photo` row: the ledger's key


@dataclass
class Generation:
    """A successful look-alike and what it cost to make."""

    image: Image.Image
    generator: str
    model: str | None = None
    strategy: str | None = None
    prompt: str | None = None
    cost_usd: float | None = None
    usage: dict[str, Any] | None = None
    request_id: str | None = None
    seconds: float | None = None
    quality: dict[str, Any] = field(default_factory=dict)


class GenerationError(Exception):
    """A generation that did not succeed.

    `kind` is "refused" for a moderation refusal (never retried), "budget" when the daily
    spending cap stopped the request before it was sent, and "failed" otherwise; `retryable`
    says whether a later run may succeed (timeouts, 5xx) or not (bad input, bad key).
    """

    def __init__(self, message: str, *, kind: FailureKind = "failed", retryable: bool = True):
        super().__init__(message)
        self.kind: FailureKind = kind
        self.retryable = retryable


class GeneratorUnavailable(Exception):
    """The backend cannot serve any request now (bad key, quota exhausted): stop the day
    at once instead of failing every remaining photo the same way. Never worth a Dagster
    step retry (see `pipeline.lib.generators.failures`)."""


class ImageGenerator(Protocol):
    """What the pipeline calls; implementations must be safe to call from several threads."""

    name: str

    def generate(self, photo: LoadedPhoto) -> Generation: ...
