"""The image generators as resources; each holds its library config whole (`config`)."""

from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from pipeline.defs.resources.config import config_field, config_of
from pipeline.defs.resources.database import DatabaseResource
from pipeline.lib.day.claims import DEFAULT_LEASE_S, PhotoClaims
from pipeline.lib.day.outcomes import PhotoRetry
from pipeline.lib.db import Database
from pipeline.lib.generators import ImageGenerator
from pipeline.lib.generators.img2img import Img2ImgConfig
from pipeline.lib.generators.openai_config import OpenAIImagesConfig
from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.generators.style_transfer.settings import StyleSettings


class ImageGeneratorResource(dg.ConfigurableResource):
    """Draws the look-alikes; `concurrency` bounds the requests in flight within a day. A
    photo that failed for a reason that may pass waits `retry_wait_minutes` (doubling) and
    fails for good after `max_failures` in a row."""

    concurrency: int = 2
    retry_wait_minutes: float = 30.0
    max_failures: int = 3
    claim_lease_s: float = DEFAULT_LEASE_S

    def open(self) -> ImageGenerator:
        raise NotImplementedError

    def photo_retry(self) -> PhotoRetry:
        return PhotoRetry(timedelta(minutes=self.retry_wait_minutes), self.max_failures)

    def photo_claims(self, db: Database) -> PhotoClaims:
        """This run's claims on the photos it makes (renewed while it works)."""
        return PhotoClaims(db, lease_s=self.claim_lease_s)

    def members(self) -> list["ImageGeneratorResource"]:
        """The generators that each make a look-alike of every photo, the lead first."""
        return [self]


class PatchRemixResource(ImageGeneratorResource):
    """The offline patch-remix generator (CPU only, no weights, no key)."""

    config: dict[str, Any] = config_field(RemixSettings)

    def open(self) -> ImageGenerator:
        from pipeline.lib.generators.patch_remix.generator import PatchRemixGenerator

        return PatchRemixGenerator(config_of(RemixSettings, self.config))


class StyleTransferResource(ImageGeneratorResource):
    """The offline style-transfer generator (small ONNX networks from a wheel; no key).

    Each of the `concurrency` workers gets its share of the cores for onnxruntime's threads,
    as patch-remix's BLAS threads are held to one while photos run in parallel."""

    config: dict[str, Any] = config_field(StyleSettings)

    def open(self) -> ImageGenerator:
        from pipeline.lib.generators.style_transfer.generator import StyleTransferGenerator
        from pipeline.lib.generators.style_transfer.settings import threads_per_worker

        threads = threads_per_worker(self.concurrency)
        return StyleTransferGenerator(config_of(StyleSettings, self.config, threads=threads))


class OpenAIImagesResource(ImageGeneratorResource):
    """OpenAI's Images API, or any OpenAI-compatible server at `config["base_url"]`
    (docs/openai.md).

    The daily budget starts from what the ledger of billed requests records as spent today
    (UTC), so several runs on one day share one cap; the ledger also holds each photo to
    `max_paid_attempts` paid requests across runs and processes."""

    api_key: str = Field(description="Pass dg.EnvVar('OPENAI_API_KEY'), never the value.")
    database: DatabaseResource
    config: dict[str, Any] = config_field(OpenAIImagesConfig)
    max_paid_attempts: int = 2

    def open(self) -> ImageGenerator:
        from pipeline.lib.billing.budget import DailyBudget, spent_today
        from pipeline.lib.billing.ledger import Ledger
        from pipeline.lib.generators.openai_images import OpenAIImagesGenerator

        config = config_of(OpenAIImagesConfig, self.config, api_key=self.api_key)
        db = self.database.get()
        budget = DailyBudget(config.daily_budget_usd, spent_today(db))
        ledger = Ledger(db, max_paid_attempts=self.max_paid_attempts)
        return OpenAIImagesGenerator(
            config, prices=config.price_table(), budget=budget, ledger=ledger
        )


class Img2ImgResource(ImageGeneratorResource):
    """A self-hosted Stable Diffusion server speaking /sdapi/v1/img2img (A1111, Forge,
    SD.Next). `auth` is "user:password" from dg.EnvVar('DOPPEL_IMG2IMG_AUTH'), if any.
    Its requests go in the ledger of billed requests, under the same per-photo cap as
    OpenAI's (a hosted server may bill them)."""

    database: DatabaseResource
    config: dict[str, Any] = config_field(Img2ImgConfig)
    auth: str | None = None
    max_paid_attempts: int = 2

    def open(self) -> ImageGenerator:
        from pipeline.lib.billing.ledger import Ledger
        from pipeline.lib.generators.img2img import Img2ImgGenerator

        user, _, password = (self.auth or "").partition(":")
        auth = (user, password) if self.auth else None
        ledger = Ledger(self.database.get(), max_paid_attempts=self.max_paid_attempts)
        return Img2ImgGenerator(config_of(Img2ImgConfig, self.config, auth=auth), ledger=ledger)


class GeneratorLineupResource(ImageGeneratorResource):
    """Several generators (DOPPEL_GENERATORS), each making one look-alike of every photo,
    one generator after the other; each keeps its own concurrency, retries and paid cap.

    Four named places rather than a list: Dagster nests resources as fields (a list field
    is read as config, which drops each generator's own class), and there are four kinds
    of generator to name. The lineup's own concurrency and retry fields are unused."""

    lead: ImageGeneratorResource
    second: ImageGeneratorResource | None = None
    third: ImageGeneratorResource | None = None
    fourth: ImageGeneratorResource | None = None

    def open(self) -> ImageGenerator:
        return self.lead.open()

    def members(self) -> list[ImageGeneratorResource]:
        places = (self.lead, self.second, self.third, self.fourth)
        return [member for member in places if member is not None]
