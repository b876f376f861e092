"""The OpenAI generator's settings (`OpenAIImagesConfig`) and default prompts.

Apart from pipeline/lib/generators/openai_images.py so that reading the settings, which every
process does at definitions load, does not import the `openai` SDK (about half a second).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.lib.billing.pricing import DEFAULT_PRICES, ModelPrice, PriceTable
from pipeline.lib.core.origins import ServiceUrl
from pipeline.lib.core.unset import Unset

DEFAULT_EDIT_PROMPT = (
    "Make a new photograph inspired by this one. Keep its subject, composition, colour "
    "palette and light, but draw every detail afresh so the result is a new image, not a copy "
    "or a retouch. No text, no watermark."
)
DEFAULT_DESCRIBE_PROMPT = (
    "Describe this photo for an image generator in one paragraph of at most 120 words: "
    "subject, composition, camera angle and lens, lighting, colour palette, textures and "
    "mood. Do not name real people or brands and do not quote text seen in the photo."
)
DEFAULT_GENERATE_PROMPT = "A new photograph: {description}"
_SIZE = re.compile(r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")


class OpenAIImagesConfig(BaseModel):
    """The OpenAI generator's settings, declared once (DOPPEL_OPENAI_<FIELD>; nested by
    pipeline/lib/settings.py). The key comes from OPENAI_API_KEY through the resource and is
    never dumped (`exclude`). Model ids change every few months: settings, not constants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: str = Field(default="", repr=False, exclude=True)
    base_url: Unset[ServiceUrl] = Field(
        default=None,
        description="An OpenAI-compatible server (https; plain http only to loopback); default "
        "https://api.openai.com/v1 (OPENAI_BASE_URL also works).",
    )
    strategy: Literal["edit", "describe"] = Field(
        default="edit",
        description="edit: the photo is the reference image of images.edit; describe: a "
        "vision model describes the photo and images.generate draws the description.",
    )
    image_model: str = "gpt-image-2"
    vision_model: str = Field(
        # gpt-5-mini shuts down 2026-12-11; this is its listed replacement (docs/openai.md).
        default="gpt-6.1-terra",
        description="Vision-capable chat model for strategy=describe.",
    )
    size: str = Field(default="1024x1024", description="WxH or auto.")
    quality: Literal["low", "medium", "high", "auto", "xhigh", "max"] = "medium"
    input_fidelity: Unset[Literal["low", "high"]] = Field(
        default=None, description="edit only; leave unset for gpt-image-2, which rejects it."
    )
    edit_prompt: str = DEFAULT_EDIT_PROMPT
    describe_prompt: str = DEFAULT_DESCRIBE_PROMPT
    generate_prompt: str = Field(
        default=DEFAULT_GENERATE_PROMPT, description="Must contain {description}."
    )
    # The SDK's own default (600 s), which OpenAI sized for its slowest generations; high
    # and max quality at large sizes take minutes, and a timed-out request is still billed.
    timeout_s: float = Field(default=600.0, gt=0, le=3600)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_retry_after_s: float = Field(
        default=60.0, ge=0, le=3600, description="A longer Retry-After is cut to this."
    )
    max_reply_bytes: int = Field(
        default=64 * 2**20,
        ge=1024,
        description="A larger answer is refused while it streams in (billed: it counts against "
        "the photo's paid attempts); a 3840x2160 PNG in base64 is about 33 MB.",
    )
    max_upload_side: int = Field(
        default=1536, ge=64, le=4096, description="Photos are sent at most this long side."
    )
    daily_budget_usd: float = Field(
        default=5.0,
        ge=0,
        description="New requests stop once today's (UTC) estimated spend reaches it.",
        json_schema_extra={"readme": True},
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="ESTIMATED prices per model (JSON), added to or replacing the built-in "
        "entries of pipeline/lib/billing/pricing.py.",
    )
    unpriced_call_usd: float = Field(
        default=0.25,
        ge=0,
        description="Cost of a call to a model not in the table; a model missing from it is "
        "refused at start unless this is set.",
    )

    @field_validator("size")
    @classmethod
    def _size_is_usable(cls, value: str) -> str:
        if value != "auto" and not _SIZE.match(value):
            raise ValueError(f"must be WIDTHxHEIGHT (e.g. 1024x1024) or auto, got {value!r}")
        return value

    @field_validator("generate_prompt")
    @classmethod
    def _has_a_place_for_the_description(cls, value: str) -> str:
        if "{description}" not in value:
            raise ValueError("must contain {description}, where the photo's description goes")
        return value

    @field_validator("prices", mode="after")
    @classmethod
    def _over_the_built_in_prices(cls, value: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        # Pricing one new model must not unprice the defaults.
        return {**DEFAULT_PRICES, **value}

    def price_table(self) -> PriceTable:
        return PriceTable(self.prices, unpriced_call_usd=self.unpriced_call_usd)
