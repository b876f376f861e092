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

import time
from dataclasses import replace
from typing import Any

from pipeline.lib.generators import Generation, GenerationError, SourceImage
from pipeline.lib.patch_remix import VERSION, RemixSettings, remix


class PatchRemixGenerator:
    """`ImageGenerator` for the patch remix; construct with settings or their fields."""

    name = "patch-remix"

    def __init__(self, settings: RemixSettings | None = None, **fields: Any) -> None:
        unknown = set(fields) - RemixSettings.field_names()
        if unknown:
            raise TypeError(f"unknown patch-remix settings: {', '.join(sorted(unknown))}")
        base = settings if settings is not None else RemixSettings()
        self.settings = replace(base, **fields) if fields else base

    def generate(self, source: SourceImage) -> Generation:
        t0 = time.perf_counter()
        try:
            result = remix(source.image, seed=source.seed, settings=self.settings)
        except ValueError as exc:  # an image the remix cannot work with: retrying won't help
            raise GenerationError(f"patch remix: {exc}", retryable=False) from exc
        except MemoryError as exc:
            raise GenerationError("patch remix ran out of memory", retryable=True) from exc
        record = result.record
        return Generation(
            image=result.image,
            generator=self.name,
            model=VERSION,
            strategy=f"noise {record['noise']}× contrast",  # its attempts: in `quality`
            prompt=None,
            cost_usd=0.0,
            seconds=round(time.perf_counter() - t0, 3),
            quality=record,
        )
