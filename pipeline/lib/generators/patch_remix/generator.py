"""The offline patch-remix generator behind the project's `ImageGenerator` interface.

It needs no API key, network or model weights, costs nothing, and is the embedded default.
When its quality gate never passes it still returns the least bad attempt; the record's
`accepted: false` / `flagged: true` tells the pipeline to show it flagged.

Thread safety: the generator holds only frozen settings, and `remix` keeps all its state
local, so one instance may serve several threads. numpy's matrix products use OpenBLAS,
which runs its own thread pool sized to the machine's cores (set `OPENBLAS_NUM_THREADS=1`
when several generations run in parallel threads, so they do not oversubscribe the CPU).
"""

from __future__ import annotations

from typing import Any

from pipeline.lib.generators import Generation, LoadedPhoto
from pipeline.lib.generators.offline import offline_generation, offline_settings
from pipeline.lib.generators.patch_remix.remix import VERSION, remix
from pipeline.lib.generators.patch_remix.settings import RemixSettings


class PatchRemixGenerator:
    """`ImageGenerator` for the patch remix; construct with settings or their fields."""

    name = "patch-remix"

    def __init__(self, settings: RemixSettings | None = None, **fields: Any) -> None:
        self.settings = offline_settings(RemixSettings, settings, fields, "patch-remix")

    def generate(self, photo: LoadedPhoto) -> Generation:
        return offline_generation(
            lambda: remix(photo.image, seed=photo.seed, settings=self.settings),
            label="patch remix",
            generator=self.name,
            model=VERSION,
            strategy=lambda record: f"noise {record['noise']}× contrast",
        )
