"""The img2img generator's settings (`Img2ImgConfig`).

Apart from pipeline/lib/generators/img2img.py so that reading the settings, which every
process does, imports neither the generator's HTTP client nor its billing (SQLAlchemy):
`doppel gallery` reads the settings and uses neither.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pipeline.lib.core.origins import ServiceUrl
from pipeline.lib.core.unset import Unset

DEFAULT_IMG2IMG_PROMPT = "a high quality photograph, natural light, detailed"


class Img2ImgConfig(BaseModel):
    """The img2img generator's settings, declared once (DOPPEL_IMG2IMG_<FIELD>; nested by
    pipeline/lib/settings.py). `auth` (user, password) comes from DOPPEL_IMG2IMG_AUTH through
    the resource and is never dumped (`exclude`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: ServiceUrl = Field(
        default="http://127.0.0.1:7860",
        description="https; plain http only to 127.0.0.1, ::1 or localhost.",
    )
    auth: tuple[str, str] | None = Field(default=None, repr=False, exclude=True)
    prompt: str = DEFAULT_IMG2IMG_PROMPT
    negative_prompt: str = "text, watermark, signature, frame, blurry, deformed"
    denoising_strength: float = Field(
        default=0.6, ge=0.0, le=1.0, description="How far the result may wander from the photo."
    )
    steps: int = Field(default=30, ge=1, le=150)
    cfg_scale: float = Field(default=7.0, ge=1.0, le=30.0)
    sampler: Unset[str] = None
    checkpoint: Unset[str] = Field(
        default=None, description="sd_model_checkpoint override; default: the loaded model."
    )
    long_side: int = Field(default=1024, ge=64, le=2048)
    timeout_s: float = Field(
        default=600.0, gt=0, le=3600, description="A1111 runs one job at a time: allow queueing."
    )
    max_retries: int = Field(default=2, ge=0, le=10)
    price_per_image_usd: float = Field(
        default=0.0,
        ge=0,
        description="What the server bills per answered request (a rented GPU, a hosted API), "
        "in the ledger and the gallery's cost; 0: self-hosted, no price set.",
    )
    max_reply_bytes: int = Field(
        default=64 * 2**20,
        ge=1024,
        description="A larger answer is refused (billed, if the server bills) while it streams "
        "in; a 2048 px PNG with the echoed photo is about 45 MB.",
    )
