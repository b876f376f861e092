import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

import dagster as dg
from pydantic import Field

from pipeline.defs.resources.database import DatabaseResource
from pipeline.lib.generators import ImageGenerator
from pipeline.lib.generators.pricing import DEFAULT_PRICES, ModelPrice
from pipeline.lib.settings import (
    DEFAULT_DESCRIBE_PROMPT,
    DEFAULT_EDIT_PROMPT,
    DEFAULT_GENERATE_PROMPT,
    DEFAULT_IMG2IMG_PROMPT,
)

T = TypeVar("T")


class ImageGeneratorResource(dg.ConfigurableResource):
    """Draws the look-alikes; `concurrency` bounds the requests in flight within a day."""

    concurrency: int = 2

    def open(self) -> ImageGenerator:
        raise NotImplementedError


class PatchRemixResource(ImageGeneratorResource):
    """The offline patch-remix generator (CPU only, no weights, no key)."""

    work_size: int = 256
    output_size: int = 768
    max_attempts: int = 3

    def open(self) -> ImageGenerator:
        from pipeline.lib.generators.patch_remix import RemixSettings
        from pipeline.lib.generators.patch_remix.generator import PatchRemixGenerator

        return PatchRemixGenerator(
            RemixSettings(
                work_size=self.work_size,
                output_size=self.output_size,
                max_attempts=self.max_attempts,
            )
        )


class StyleTransferResource(ImageGeneratorResource):
    """The offline style-transfer generator (small ONNX networks from a wheel; no key).

    Each of the `concurrency` workers gets its share of the cores for onnxruntime's threads,
    as patch-remix's BLAS threads are held to one while photos run in parallel."""

    output_size: int = 768
    style: int | None = None
    style_folder: str | None = None
    strength: float = 0.75
    max_attempts: int = 3

    def open(self) -> ImageGenerator:
        from pathlib import Path

        from pipeline.lib.generators.style_transfer import StyleSettings
        from pipeline.lib.generators.style_transfer.generator import StyleTransferGenerator
        from pipeline.lib.generators.style_transfer.settings import threads_per_worker

        return StyleTransferGenerator(
            StyleSettings(
                output_size=self.output_size,
                style=self.style,
                style_folder=Path(self.style_folder) if self.style_folder else None,
                strength=self.strength,
                max_attempts=self.max_attempts,
                threads=threads_per_worker(self.concurrency),
            )
        )


class OpenAIImagesResource(ImageGeneratorResource):
    """OpenAI's Images API, or any OpenAI-compatible server at `base_url` (docs/openai.md).

    The daily budget starts from what the ledger of billed requests records as spent today
    (UTC), so several runs on one day share one cap; the ledger also holds each photo to
    `max_paid_attempts` paid requests across runs and processes."""

    api_key: str = Field(description="Pass dg.EnvVar('OPENAI_API_KEY'), never the value.")
    database: DatabaseResource
    base_url: str | None = None
    strategy: str = "edit"
    image_model: str = "gpt-image-2"
    vision_model: str = "gpt-6.1-terra"
    size: str = "1024x1024"
    quality: str = "medium"
    input_fidelity: str | None = None
    edit_prompt: str = DEFAULT_EDIT_PROMPT
    describe_prompt: str = DEFAULT_DESCRIBE_PROMPT
    generate_prompt: str = DEFAULT_GENERATE_PROMPT
    timeout_s: float = 600.0
    max_retries: int = 2
    max_paid_attempts: int = 2
    daily_budget_usd: float = 5.0
    prices: dict[str, Any] = Field(default_factory=lambda: prices_config(DEFAULT_PRICES))
    unpriced_call_usd: float = 0.25

    def open(self) -> ImageGenerator:
        from pipeline.lib.generators.budget import DailyBudget, spent_today
        from pipeline.lib.generators.ledger import Ledger
        from pipeline.lib.generators.openai_images import (
            OpenAIImagesConfig,
            OpenAIImagesGenerator,
        )
        from pipeline.lib.generators.pricing import ModelPrice, PriceTable

        config = config_from(self, OpenAIImagesConfig)
        prices = PriceTable(
            {name: ModelPrice.model_validate(p) for name, p in self.prices.items()},
            unpriced_call_usd=self.unpriced_call_usd,
        )
        db = self.database.get()
        budget = DailyBudget(self.daily_budget_usd, spent_today(db))
        ledger = Ledger(db, max_paid_attempts=self.max_paid_attempts)
        return OpenAIImagesGenerator(config, prices=prices, budget=budget, ledger=ledger)


class Img2ImgResource(ImageGeneratorResource):
    """A self-hosted Stable Diffusion server speaking /sdapi/v1/img2img (A1111, Forge,
    SD.Next). `auth` is "user:password" from dg.EnvVar('DOPPEL_IMG2IMG_AUTH'), if any.
    Its requests go in the ledger of billed requests, under the same per-photo cap as
    OpenAI's (a hosted server may bill them)."""

    database: DatabaseResource
    max_paid_attempts: int = 2
    base_url: str = "http://127.0.0.1:7860"
    auth: str | None = None
    prompt: str = DEFAULT_IMG2IMG_PROMPT
    negative_prompt: str = ""
    denoising_strength: float = 0.6
    steps: int = 30
    cfg_scale: float = 7.0
    sampler: str | None = None
    checkpoint: str | None = None
    long_side: int = 1024
    timeout_s: float = 600.0
    max_retries: int = 2

    def open(self) -> ImageGenerator:
        from pipeline.lib.generators.img2img import Img2ImgConfig, Img2ImgGenerator
        from pipeline.lib.generators.ledger import Ledger

        user, _, password = (self.auth or "").partition(":")
        auth = (user, password) if self.auth else None
        ledger = Ledger(self.database.get(), max_paid_attempts=self.max_paid_attempts)
        return Img2ImgGenerator(config_from(self, Img2ImgConfig, auth=auth), ledger=ledger)


def prices_config(prices: Mapping[str, ModelPrice]) -> dict[str, Any]:
    """The price table as plain config (it shows in the launchpad and run config)."""
    return {name: price.model_dump(exclude_defaults=True) for name, price in prices.items()}


def config_from(resource: dg.ConfigurableResource, config_type: type[T], **overrides: Any) -> T:
    """A library config dataclass filled from the resource's fields of the same names, so a
    setting added to both is passed on without a third list of names here."""
    names = {f.name for f in dataclasses.fields(config_type)} & set(type(resource).model_fields)
    values = {name: getattr(resource, name) for name in names}
    return config_type(**(values | overrides))
