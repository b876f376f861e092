"""Test doubles for the generator seam only; everything else in the tests is real."""

from __future__ import annotations

import threading
from collections import Counter

from PIL import Image, ImageOps

from pipeline.defs.resources.generators import ImageGeneratorResource
from pipeline.lib.failures import GenerationError
from pipeline.lib.generators import Generation, ImageGenerator, LoadedPhoto

# Calls per counter name; resources are re-created by Dagster, so the count lives here.
CALLS: Counter[str] = Counter()
_LOCK = threading.Lock()


class MirrorGenerator:
    """Mirrors the photo (cheap and deterministic); after `fail_after` calls it fails as a
    server that went down would (a failure that may pass)."""

    name = "mirror"

    def __init__(self, counter: str, fail_after: int | None = None, name: str = "mirror"):
        self.counter = counter
        self.fail_after = fail_after
        self.name = name  # a test may have it stand in for a generator of the lineup

    def generate(self, source: LoadedPhoto) -> Generation:
        with _LOCK:
            CALLS[self.counter] += 1
            call = CALLS[self.counter]
        if self.fail_after is not None and call > self.fail_after:
            raise GenerationError(f"mirror server down on call {call}", happened="server_error")
        image = ImageOps.mirror(source.image).resize(
            (source.image.width // 2 or 1, source.image.height // 2 or 1), Image.Resampling.BOX
        )
        return Generation(image=image, generator=self.name, model="mirror-1", cost_usd=0.01)


class MirrorGeneratorResource(ImageGeneratorResource):
    counter: str
    fail_after: int | None = None
    name: str = MirrorGenerator.name

    def open(self) -> ImageGenerator:
        return MirrorGenerator(self.counter, self.fail_after, self.name)


class UnreachableGeneratorResource(ImageGeneratorResource):
    """A generator backend that cannot be set up (endpoint down): the run fails before any
    photo is drawn. A resource error is not retried by a step's RetryPolicy, so a test can
    make a failed day in one quick run."""

    def setup_for_execution(self, context: object) -> None:
        from pipeline.lib.failures import GeneratorUnavailable

        raise GeneratorUnavailable("generator endpoint refused the connection")

    def open(self) -> ImageGenerator:  # pragma: no cover - setup already failed
        raise AssertionError("unreachable")


class FailingGenerator:
    """Fails every photo with what happened (a key of the failures table): the mirror's
    backend failing, so a later run with the mirror (the same generator, one look-alike per
    photo and generator) makes what this one could not."""

    name = MirrorGenerator.name

    def __init__(self, happened: str, name: str = MirrorGenerator.name):
        self.happened = happened
        self.name = name

    def generate(self, source: LoadedPhoto) -> Generation:
        raise GenerationError(f"failed as asked: {self.happened}", happened=self.happened)


class FailingGeneratorResource(ImageGeneratorResource):
    happened: str
    name: str = MirrorGenerator.name

    def open(self) -> ImageGenerator:
        return FailingGenerator(self.happened, self.name)
