"""One typed settings object, read once from the environment and `.env`.

Every choice between the embedded default and a deployed backend is made here, at
definitions load, and summarised in one log line. Asking for a real backend without what it
needs is an error that says which variable to set, never a silent fallback.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.lib.db.database import database_url_for
from pipeline.lib.generators.pricing import DEFAULT_PRICES, ModelPrice

SourceName = Literal["samples", "folder", "unsplash"]
GeneratorName = Literal["patch-remix", "style-transfer", "openai", "img2img"]
StoreName = Literal["local", "s3"]

# Remote generators' default prompts (OpenAI / img2img block below).
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
DEFAULT_IMG2IMG_PROMPT = "a high quality photograph, natural light, detailed"
# Remote backends wait on the network, not the CPU, so they default to more requests in
# flight than the patch remix (used unless DOPPEL_GENERATION_CONCURRENCY is set).
REMOTE_GENERATION_CONCURRENCY = 4


# The first daily partition unless DOPPEL_START_DATE says otherwise; `build_definitions`
# hands `start_date` to Dagster's partitions (pipeline/defs/partitions.py).
DEFAULT_START_DATE = date(2026, 11, 1)


class SettingsError(ValueError):
    """Settings that cannot work; the message says what to set."""


class DoppelSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOPPEL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Where photos come from, who draws the look-alikes, where bytes and rows live.
    source: SourceName = "samples"
    generator: GeneratorName = "patch-remix"
    store: StoreName = "local"

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in data_dir."
    )
    start_date: date = Field(default=DEFAULT_START_DATE, description="First daily partition.")
    photos_per_day: int = Field(default=4, ge=1, le=30)
    generation_concurrency: int = Field(default=2, ge=1, le=64)

    folder: Path | None = Field(default=None, description="Photo folder for source=folder.")

    # Patch-remix working and output resolution (long side, pixels); style-transfer paints
    # at output_size.
    work_size: int = Field(default=256, ge=64, le=1024)
    output_size: int = Field(default=768, ge=64, le=4096)

    # Style transfer (generator=style-transfer): by default each photo's seed picks one of
    # the 26 built-in styles; or fix one, or use a folder of your own style pictures.
    style_transfer_style: int | None = Field(
        default=None, ge=0, le=25, description="A built-in style (0-25) for every photo."
    )
    style_transfer_folder: Path | None = Field(
        default=None, description="A folder of style pictures (.jpg, .png, .webp)."
    )
    style_transfer_strength: float = Field(
        default=0.75,
        gt=0.0,
        le=1.0,
        description="Share of the painting in its blend with the photo.",
    )
    style_transfer_max_attempts: int = Field(default=3, ge=1, le=26)

    s3_bucket: str | None = None
    s3_prefix: str = "doppel"
    s3_endpoint_url: str | None = Field(
        default=None, description="For MinIO, R2, Garage or a test server; empty for AWS."
    )
    s3_region: str = "us-east-1"

    # --- Unsplash (source=unsplash; docs/unsplash.md has the budget maths) -----------------
    unsplash_base_url: str = Field(
        default="https://api.unsplash.com/", description="https; plain http only on loopback."
    )
    unsplash_per_page: int = Field(default=30, ge=1, le=30)
    unsplash_max_pages: int = Field(
        default=10, ge=1, le=100, description="Editorial feed pages a day may read at most."
    )
    unsplash_call_budget: int = Field(
        default=20,
        ge=2,
        description="API requests per day run (feed pages, retries, download tracking).",
    )
    unsplash_reserve: int = Field(
        default=2,
        ge=0,
        description="Hourly requests left unused, on top of the day's download tracking.",
    )
    unsplash_image_hosts: str = Field(
        default="images.unsplash.com", description="Comma-separated hosts images may come from."
    )
    unsplash_timeout_s: float = Field(default=10.0, gt=0, le=300)
    unsplash_image_timeout_s: float = Field(default=30.0, gt=0, le=600)
    unsplash_retry_attempts: int = Field(default=3, ge=1, le=10)
    unsplash_retry_backoff_s: float = Field(default=0.5, ge=0, le=60)
    unsplash_image_width: int = Field(default=1536, ge=64, le=4096)
    unsplash_max_image_bytes: int = Field(default=20 * 2**20, ge=1024)
    unsplash_max_image_pixels: int = Field(default=25_000_000, ge=4096)
    unsplash_utm_source: str = Field(
        default="doppel", description="Your Unsplash app's name, for utm_source on credits."
    )

    # --- OpenAI / img2img (remote generators; docs/openai.md) -----------------------------
    # Model ids change every few months: they are settings, never constants in code.
    openai_strategy: Literal["edit", "describe"] = Field(
        default="edit",
        description="edit: the photo is the reference image of images.edit; describe: a "
        "vision model describes the photo and images.generate draws the description.",
    )
    openai_image_model: str = "gpt-image-2"
    openai_vision_model: str = Field(
        # gpt-5-mini shuts down 2026-12-11; this is its listed replacement (docs/openai.md).
        default="gpt-6.1-terra",
        description="Vision-capable chat model for strategy=describe.",
    )
    openai_size: str = Field(default="1024x1024", description="WxH or auto.")
    openai_quality: Literal["low", "medium", "high", "auto", "xhigh", "max"] = "medium"
    openai_input_fidelity: Literal["low", "high"] | None = Field(
        default=None, description="edit only; leave unset for gpt-image-2, which rejects it."
    )
    openai_edit_prompt: str = DEFAULT_EDIT_PROMPT
    openai_describe_prompt: str = DEFAULT_DESCRIBE_PROMPT
    openai_generate_prompt: str = Field(
        default=DEFAULT_GENERATE_PROMPT, description="Must contain {description}."
    )
    openai_base_url: str | None = Field(
        default=None,
        description="An OpenAI-compatible server; default https://api.openai.com/v1.",
        validation_alias=AliasChoices(
            "DOPPEL_OPENAI_BASE_URL", "OPENAI_BASE_URL", "openai_base_url"
        ),
    )
    # The SDK's own default (600 s), which OpenAI sized for its slowest generations; high
    # and max quality at large sizes take minutes, and a timed-out request is still billed.
    openai_timeout_s: float = Field(default=600.0, gt=0, le=3600)
    openai_max_retries: int = Field(default=2, ge=0, le=10)
    openai_daily_budget_usd: float = Field(
        default=5.0, ge=0, description="New requests stop once today's (UTC) spend reaches it."
    )
    openai_prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="ESTIMATED prices per model (JSON), added to or replacing the built-in "
        "entries of pipeline/lib/generators/pricing.py.",
    )
    openai_unpriced_call_usd: float = Field(
        default=0.25,
        ge=0,
        description="Cost of a call to a model not in the table; a model missing from it is "
        "refused at start unless this is set.",
    )
    max_paid_attempts: int = Field(
        default=2,
        ge=1,
        le=20,
        description="Requests per photo that may be billed, across runs, before it waits for "
        "`doppel retry`.",
    )

    img2img_base_url: str = "http://127.0.0.1:7860"
    img2img_auth: SecretStr | None = Field(
        default=None,
        description="user:password for a server started with --api-auth.",
        validation_alias=AliasChoices("DOPPEL_IMG2IMG_AUTH", "img2img_auth"),
    )
    img2img_prompt: str = DEFAULT_IMG2IMG_PROMPT
    img2img_negative_prompt: str = "text, watermark, signature, frame, blurry, deformed"
    img2img_denoising_strength: float = Field(default=0.6, ge=0.0, le=1.0)
    img2img_steps: int = Field(default=30, ge=1, le=150)
    img2img_cfg_scale: float = Field(default=7.0, ge=1.0, le=30.0)
    img2img_sampler: str | None = None
    img2img_checkpoint: str | None = Field(
        default=None, description="sd_model_checkpoint override; default: the loaded model."
    )
    img2img_long_side: int = Field(default=1024, ge=64, le=2048)
    img2img_timeout_s: float = Field(
        default=600.0, gt=0, le=3600, description="A1111 runs one job at a time: allow queueing."
    )
    img2img_max_retries: int = Field(default=2, ge=0, le=10)

    # --- Orchestration: daily schedule, gap-fill sensor, runs (docs/orchestration.md) ------
    # Read when the definitions load, so a change takes effect on the next code reload.
    schedule_hour: int = Field(
        default=1, ge=0, le=23, description="UTC hour of the daily run for the day just closed."
    )
    schedule_minute: int = Field(default=0, ge=0, le=59)
    gap_lookback_days: int = Field(
        default=3,  # a laptop's first `make dev` catches up a few days, not two weeks
        ge=1,
        le=366,
        description="Recent days the gap-fill sensor checks (deployments: 14).",
    )
    gap_max_attempts: int = Field(
        default=3, ge=1, le=20, description="Failed runs after which a day is left to a person."
    )
    gap_retry_after_minutes: float = Field(
        default=30, ge=0, description="Wait after a day's failed run; doubles with each failure."
    )
    gap_stop_wait_hours: float = Field(
        default=6,
        ge=0,
        description="After the generator refused for good (bad key, no quota), hours before "
        "the gap-fill sensor probes again with one day.",
    )
    gap_sensor_interval_s: int = Field(default=600, ge=1, le=86_400)
    run_executor: Literal["multiprocess", "in_process"] = Field(
        default="multiprocess",
        description="multiprocess isolates each step (a crash fails only the step); "
        "in_process saves a process start per step on small machines.",
    )
    webserver_url: str = Field(
        default="http://127.0.0.1:3000", description="The Dagster webserver `doppel backfill` uses."
    )

    # --- Gallery (the static site; docs/gallery.md) ----------------------------------------
    site_prefix: str = Field(
        default="site", description="Key prefix of the gallery in the object store."
    )
    site_dir: Path | None = Field(
        default=None, description="Publish the gallery to this folder instead of the store."
    )
    site_url: str | None = Field(
        default=None,
        description="The gallery's public address (https://…/): absolute share links, sitemap.",
    )

    # --- Deployment and observability (docs/deploy.md) --------------------------------------
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: Doppel's loggers write one JSON object per line (log collectors).",
    )
    log_level: str = Field(
        default="INFO",
        pattern=r"(?i)^(debug|info|warning|error)$",
        description="Level of Doppel's loggers when log_format=json.",
    )

    # Secrets keep their conventional names; they are checked here and read by the
    # resources through Dagster's EnvVar, so their values never reach run config.
    unsplash_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("UNSPLASH_ACCESS_KEY")
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY")
    )

    @field_validator("openai_prices", mode="after")
    @classmethod
    def _over_the_built_in_prices(cls, value: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        # Pricing one new model must not unprice the defaults.
        return {**DEFAULT_PRICES, **value}

    @field_validator("folder", "style_transfer_folder", "style_transfer_style", mode="before")
    @classmethod
    def _empty_folder_is_no_folder(cls, value: object) -> object:
        # An empty DOPPEL_FOLDER would otherwise become Path("."), the current directory.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _backends_have_what_they_need(self) -> DoppelSettings:
        if self.source == "unsplash" and not _present(self.unsplash_access_key):
            raise SettingsError(
                "DOPPEL_SOURCE=unsplash needs UNSPLASH_ACCESS_KEY: set it in the environment "
                "or .env, or use DOPPEL_SOURCE=samples for the bundled photos."
            )
        if self.source == "folder" and (self.folder is None or not self.folder.is_dir()):
            raise SettingsError(
                f"DOPPEL_SOURCE=folder needs DOPPEL_FOLDER to name a folder of photos "
                f"(got {self.folder!s})."
            )
        if self.style_transfer_folder is not None and not self.style_transfer_folder.is_dir():
            raise SettingsError(
                f"DOPPEL_STYLE_TRANSFER_FOLDER must name a folder of style pictures "
                f"(got {self.style_transfer_folder!s})."
            )
        if self.style_transfer_folder is not None and self.style_transfer_style is not None:
            raise SettingsError(
                "Set DOPPEL_STYLE_TRANSFER_STYLE or DOPPEL_STYLE_TRANSFER_FOLDER, not both."
            )
        if self.generator == "openai" and not _present(self.openai_api_key):
            raise SettingsError(
                "DOPPEL_GENERATOR=openai needs OPENAI_API_KEY: set it in the environment or "
                ".env, or use DOPPEL_GENERATOR=patch-remix to generate offline."
            )
        if self.store == "s3" and not self.s3_bucket:
            raise SettingsError(
                "DOPPEL_STORE=s3 needs DOPPEL_S3_BUCKET (and DOPPEL_S3_ENDPOINT_URL for "
                "MinIO-like stores), or use DOPPEL_STORE=local."
            )
        return self

    # --- OpenAI / img2img checks and derived values --------------------------------------
    @model_validator(mode="after")
    def _remote_generator_settings_are_usable(self) -> DoppelSettings:
        if self.openai_size != "auto" and not _SIZE.match(self.openai_size):
            raise SettingsError(
                f"DOPPEL_OPENAI_SIZE must be WIDTHxHEIGHT (e.g. 1024x1024) or auto, "
                f"got {self.openai_size!r}."
            )
        if "{description}" not in self.openai_generate_prompt:
            raise SettingsError(
                "DOPPEL_OPENAI_GENERATE_PROMPT must contain {description}, where the photo's "
                "description goes."
            )
        if self.generator == "openai" and "openai_unpriced_call_usd" not in self.model_fields_set:
            self._models_have_prices()
        auth = self.img2img_auth.get_secret_value() if self.img2img_auth else ""
        if auth and ":" not in auth:
            raise SettingsError("DOPPEL_IMG2IMG_AUTH must be user:password (as --api-auth).")
        return self

    def _models_have_prices(self) -> None:
        """A paid request must never count as $0 (or a guess) for the budget unnoticed."""
        from pipeline.lib.generators.pricing import PriceTable

        table = PriceTable(self.openai_prices, unpriced_call_usd=0.0)
        models = [("DOPPEL_OPENAI_IMAGE_MODEL", self.openai_image_model)]
        if self.openai_strategy == "describe":
            models.append(("DOPPEL_OPENAI_VISION_MODEL", self.openai_vision_model))
        for variable, model in models:
            if table.price_of(model) is None:
                raise SettingsError(
                    f"{variable}={model} has no price in Doppel's table, so the daily budget "
                    "could not count what it costs: add it to DOPPEL_OPENAI_PRICES (JSON, see "
                    "docs/openai.md) or set DOPPEL_OPENAI_UNPRICED_CALL_USD to what one call "
                    "costs (0 for a free local server)."
                )

    @property
    def remote_generation_concurrency(self) -> int:
        """Requests in flight for OpenAI/img2img: DOPPEL_GENERATION_CONCURRENCY if set (its
        default of 2 suits the CPU-bound patch remix), else the remote default of 4."""
        if "generation_concurrency" in self.model_fields_set:
            return self.generation_concurrency
        return REMOTE_GENERATION_CONCURRENCY

    @property
    def resolved_database_url(self) -> str:
        return database_url_for(self.database_url or f"sqlite:///{self.data_dir / 'doppel.db'}")

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    def summary(self) -> str:
        """The one line that says which way Doppel runs (no secrets in it)."""
        db = self.resolved_database_url.split("://", 1)[0]
        store = (
            f"s3://{self.s3_bucket}/{self.s3_prefix}"
            if self.store == "s3"
            else str(self.objects_dir)
        )
        return (
            f"doppel: source={self.source} generator={self.generator} store={store} "
            f"database={db} photos_per_day={self.photos_per_day} start={self.start_date}"
        )


_SIZE = re.compile(r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")


def _present(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value().strip())


def load_settings(**overrides: object) -> DoppelSettings:
    """Read settings, turning validation errors into one readable `SettingsError`."""
    try:
        return DoppelSettings(**overrides)  # type: ignore[arg-type]
    except SettingsError:
        raise
    except ValidationError as exc:
        for error in exc.errors():
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, SettingsError):
                raise cause from None
        problems = "; ".join(
            f"{'DOPPEL_' + '_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
