"""Look-alike generators behind one small interface.

Every backend (the offline patch remix, OpenAI, a self-hosted img2img server) takes a
`LoadedPhoto` and returns a `Generation`, or raises `pipeline.lib.failures.GenerationError`
naming what happened (that module says what it means for the photo). The pipeline never
needs to know which backend it talks to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

__all__ = ["Generation", "ImageGenerator", "LoadedPhoto"]


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


class ImageGenerator(Protocol):
    """What the pipeline calls; implementations must be safe to call from several threads."""

    name: str

    def generate(self, photo: LoadedPhoto) -> Generation: ...
