"""One typed settings object, read once from the environment and `.env`.

Every choice between the embedded default and a deployed backend is made here, at
definitions load, and summarised in one log line. Asking for a real backend without what it
needs is an error that says which variable to set, never a silent fallback.

Each setting is declared once: the pipeline-wide ones here, a generator's or source's in its
library config (UnsplashConfig, OpenAIImagesConfig, Img2ImgConfig, RemixSettings,
StyleSettings), which `DoppelSettings` nests. The environment keeps flat names
(DOPPEL_UNSPLASH_PER_PAGE → `unsplash.per_page`, see NESTED); `load_settings` takes the same
flat names as keywords. `.env.example` and the README's table are generated from these
declarations (pipeline/lib/settings_docs.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pipeline.lib.billing.pricing import PriceTable
from pipeline.lib.core.flat_settings import FlatNames, Nested, Variable
from pipeline.lib.core.unset import Unset
from pipeline.lib.db.urls import database_url_for
from pipeline.lib.generators.img2img_config import Img2ImgConfig
from pipeline.lib.generators.openai_config import OpenAIImagesConfig
from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.generators.style_transfer.settings import StyleSettings
from pipeline.lib.sources.unsplash_client import UnsplashConfig

SourceName = Literal["samples", "folder", "unsplash"]
GeneratorName = Literal["patch-remix", "style-transfer", "openai", "img2img"]
StoreName = Literal["local", "s3"]

# Remote backends wait on the network, not the CPU, so they default to more requests in
# flight than the patch remix (used unless DOPPEL_GENERATION_CONCURRENCY is set).
REMOTE_GENERATION_CONCURRENCY = 4


# The first daily partition unless DOPPEL_START_DATE says otherwise; `build_definitions`
# hands `start_date` to Dagster's partitions (pipeline/defs/partitions.py).
DEFAULT_START_DATE = date(2026, 11, 1)
PREFIX = "DOPPEL_"
# The nested configs' fields by their flat names: DOPPEL_ + prefix + FIELD (the names
# deployments used before the configs were nested).
NESTED: dict[str, Nested] = {
    "patch_remix": Nested("", {"work_size": "WORK_SIZE"}),
    "style_transfer": Nested(
        "STYLE_TRANSFER_",
        {
            "style": "STYLE",
            "style_folder": "FOLDER",
            "strength": "STRENGTH",
            "max_attempts": "MAX_ATTEMPTS",
        },
    ),
    "unsplash": Nested("UNSPLASH_"),
    "openai": Nested("OPENAI_"),
    "img2img": Nested("IMG2IMG_"),
}
# Conventional names also read, after Doppel's own (the OpenAI SDK's variable).
ALSO_READ = {"DOPPEL_OPENAI_BASE_URL": ("OPENAI_BASE_URL",)}


class SettingsError(ValueError):
    """Settings that cannot work; the message says what to set."""


def variables() -> Iterator[Variable]:
    """Every setting in declaration order: the one list the environment, the error
    messages and the generated docs (pipeline/lib/settings_docs.py) read."""
    return FLAT_NAMES.variables()


def _section(title: str, **extra: Any) -> dict[str, Any]:
    """json_schema_extra of a section's first field: the docs' header (settings_docs)."""
    return {"section": title, **extra}


class DoppelSettings(BaseSettings):
    """The settings; the docs' sections follow the `section` marks, in declaration order."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Where photos come from, who draws the look-alikes, where bytes and rows live.
    source: SourceName = Field(
        default="samples",
        description="samples (bundled), folder (DOPPEL_FOLDER, optional photos.json credits) "
        "or unsplash.",
        json_schema_extra=_section("Which backends", readme=True),
    )
    generator: GeneratorName = Field(
        default="patch-remix",
        description="patch-remix or style-transfer (both offline), openai or img2img.",
        json_schema_extra={"readme": True},
    )
    # NoDecode: the environment gives "a,b", not JSON.
    generators: Annotated[tuple[GeneratorName, ...], NoDecode] = Field(
        default=(),
        description="Several generators, comma-separated (e.g. patch-remix,style-transfer): "
        "one look-alike of each photo by each, made one generator after the other, so a day "
        "takes the sum of their times. Unset: DOPPEL_GENERATOR alone; if both are set, "
        "DOPPEL_GENERATOR must be one of these and its look-alikes lead on the day cards.",
        json_schema_extra={"readme": True, "shown": "DOPPEL_GENERATOR alone"},
    )
    store: StoreName = Field(
        default="local",
        description="local (DOPPEL_DATA_DIR/objects) or s3 (DOPPEL_S3_BUCKET; compose: s3, MinIO).",
        json_schema_extra={"readme": True},
    )

    photos_per_day: int = Field(
        default=4,
        ge=1,
        le=30,
        description="The day's top K photos.",
        json_schema_extra=_section("The day", readme=True),
    )
    start_date: date = Field(
        default=DEFAULT_START_DATE,
        description="[compose] First daily partition, set before the first run (unset "
        "locally: the first day the local instance makes).",
        json_schema_extra={"readme": True, "shown": "locally: the first day the instance made"},
    )
    generation_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Look-alikes in flight at once within a day (remote generators: 4 unless set).",
        json_schema_extra={"readme": True, "shown": "2 (4 for remote)"},
    )
    folder: Unset[Path] = Field(
        default=None, description="Photo folder for DOPPEL_SOURCE=folder (optional photos.json)."
    )

    # Patch-remix works at its work_size; both offline generators store output_size.
    patch_remix: RemixSettings = Field(
        default_factory=RemixSettings,
        json_schema_extra=_section("Offline generators: patch-remix and style-transfer"),
    )
    output_size: int = Field(
        default=768,
        ge=64,
        le=4096,
        description="Long side of the stored look-alike, pixels (both offline generators).",
        json_schema_extra={"readme": True},
    )
    style_transfer: StyleSettings = Field(default_factory=StyleSettings)

    data_dir: Path = Field(
        default=Path("data"),
        description="SQLite file and local objects.",
        json_schema_extra=_section("Where data lives"),
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql://doppel:…@host/doppel; default: a SQLite "
        "file in DOPPEL_DATA_DIR.",
        json_schema_extra={"readme": True, "shown": "SQLite in DOPPEL_DATA_DIR"},
    )
    s3_bucket: str | None = Field(default=None, description="compose: the MinIO bucket.")
    s3_prefix: str = Field(default="doppel", description="Key prefix of everything stored.")
    s3_endpoint_url: str | None = Field(
        default=None, description="For MinIO, R2, Garage or a test server; empty for AWS."
    )
    s3_region: str = "us-east-1"

    # Secrets keep their conventional names; they are checked here and read by the
    # resources through Dagster's EnvVar, so their values never reach run config.
    unsplash_access_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("UNSPLASH_ACCESS_KEY"),
        description="Secret: your Unsplash app's Access Key (read through Dagster's EnvVar, "
        "never logged, stored or published).",
        json_schema_extra=_section(
            "Unsplash (DOPPEL_SOURCE=unsplash; docs/unsplash.md)", readme=True
        ),
    )
    unsplash: UnsplashConfig = Field(default_factory=UnsplashConfig)

    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY"),
        description="Secret (read through Dagster's EnvVar, never logged, stored or published).",
        json_schema_extra=_section("OpenAI (DOPPEL_GENERATOR=openai; docs/openai.md)", readme=True),
    )
    openai: OpenAIImagesConfig = Field(default_factory=OpenAIImagesConfig)
    max_paid_attempts: int = Field(
        default=2,
        ge=1,
        le=20,
        description="Requests per photo that may be billed (OpenAI, img2img), across runs, "
        "before it waits for `doppel retry`.",
    )

    img2img_auth: SecretStr | None = Field(
        default=None,
        description="Secret: user:password for a server started with --api-auth.",
        json_schema_extra=_section(
            "img2img: self-hosted Stable Diffusion (DOPPEL_GENERATOR=img2img)"
        ),
    )
    img2img: Img2ImgConfig = Field(default_factory=Img2ImgConfig)

    # --- Orchestration: daily schedule, gap-fill sensor, runs (docs/orchestration.md) ------
    # Read when the definitions load, so a change takes effect on the next code reload.
    schedule_hour: int = Field(
        default=1,
        ge=0,
        le=23,
        description="UTC hour of the daily run for the day just closed.",
        json_schema_extra=_section("Orchestration (docs/orchestration.md)", readme=True),
    )
    schedule_minute: int = Field(default=0, ge=0, le=59)
    gap_lookback_days: int = Field(
        default=3,  # a laptop's first `make dev` catches up a few days, not two weeks
        ge=1,
        le=366,
        description="Recent days the gap-fill sensor checks (compose: 14).",
        json_schema_extra={"readme": True},
    )
    gap_max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Failed runs after which a day, or failures in a row after which a "
        "photo, is left to a person.",
        json_schema_extra={"readme": True},
    )
    gap_retry_after_minutes: float = Field(
        default=30,
        ge=0,
        description="Wait after a day's failed run or a photo's failure; doubles with each one.",
    )
    gap_stop_wait_hours: float = Field(
        default=6,
        ge=0,
        description="After the generator refused for good (bad key, no quota), hours before "
        "the gap-fill sensor probes again with one day.",
    )
    gap_sensor_interval_s: int = Field(default=600, ge=1, le=86_400)
    claim_lease_s: float = Field(
        default=60,
        ge=1,
        le=3600,
        description="Seconds a run's claim on a photo lasts unless renewed (its run renews it "
        "while it works): how long a killed run keeps its photos from the next run.",
    )
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
        default="site",
        description="Key prefix of the gallery in the object store (nginx serves it).",
        json_schema_extra=_section("Gallery (docs/gallery.md)"),
    )
    site_dir: Path | None = Field(
        default=None, description="Publish the gallery to this folder instead of the store."
    )
    site_url: str | None = Field(
        default=None,
        description="The gallery's public address (https://…/): absolute share links, sitemap.",
        json_schema_extra={"readme": True},
    )
    votes_url: str | None = Field(
        default=None,
        description="Where the game posts each answer, a path on the gallery's host (compose: "
        "/api/votes; docs/votes.md). Unset or empty: answers stay in the browser.",
        json_schema_extra={"readme": True},
    )

    # --- Deployment and observability (docs/deploy.md) --------------------------------------
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: Doppel's loggers write one JSON object per line (log collectors; "
        "compose default).",
        json_schema_extra=_section("Logs and metrics (docs/deploy.md)", readme=True),
    )
    log_level: str = Field(
        default="INFO",
        pattern=r"(?i)^(debug|info|warning|error)$",
        description="Level of Doppel's loggers and Dagster's console lines when log_format=json.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Top-level fields come by pydantic-settings' own rules; the nested configs' fields
        # by their flat names (NESTED), from the environment before the .env file.
        env = getattr(env_settings, "env_vars", {})
        dotenv = getattr(dotenv_settings, "env_vars", {})
        return (
            init_settings,
            env_settings,
            FLAT_NAMES.source(settings_cls, env),
            dotenv_settings,
            FLAT_NAMES.source(settings_cls, dotenv),
            file_secret_settings,
        )

    @field_validator("votes_url", mode="before")
    @classmethod
    def _votes_url_is_a_path(cls, value: Any) -> Any:
        # DOPPEL_VOTES_URL= (empty) turns collection off, as unset does.
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        # A path on the gallery's own host: the pages' CSP allows connect-src 'self' only.
        if not isinstance(value, str) or not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
            raise SettingsError(
                f"DOPPEL_VOTES_URL must be a path on the gallery's own host, such as /api/votes "
                f"(got {str(value)[:80]!r}); leave it empty to keep answers in the browser."
            )
        return value

    @field_validator("generators", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        # The environment gives one string; blanks between commas name no generator.
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("generators")
    @classmethod
    def _each_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        twice = sorted({name for name in value if value.count(name) > 1})
        if twice:
            raise SettingsError(
                f"DOPPEL_GENERATORS names {', '.join(twice)} more than once: name each "
                "generator once."
            )
        return value

    @property
    def generator_names(self) -> tuple[GeneratorName, ...]:
        """The generators that each make a look-alike of every photo, the lead first (the
        one a day card shows): DOPPEL_GENERATORS, led by DOPPEL_GENERATOR if it is set too;
        else DOPPEL_GENERATOR alone."""
        if not self.generators:
            return (self.generator,)
        if "generator" not in self.model_fields_set:
            return self.generators
        return (self.generator, *(g for g in self.generators if g != self.generator))

    @model_validator(mode="after")
    def _one_output_size(self) -> DoppelSettings:
        # DOPPEL_OUTPUT_SIZE is both offline generators' output size: declared once, above.
        self.patch_remix = self.patch_remix.model_copy(update={"output_size": self.output_size})
        self.style_transfer = self.style_transfer.model_copy(
            update={"output_size": self.output_size}
        )
        return self

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
        style_folder = self.style_transfer.style_folder
        if style_folder is not None and not style_folder.is_dir():
            raise SettingsError(
                f"DOPPEL_STYLE_TRANSFER_FOLDER must name a folder of style pictures "
                f"(got {style_folder!s})."
            )
        if (
            self.generators
            and "generator" in self.model_fields_set
            and self.generator not in self.generators
        ):
            raise SettingsError(
                f"DOPPEL_GENERATOR={self.generator} is not among DOPPEL_GENERATORS="
                f"{','.join(self.generators)}: add it there, or unset DOPPEL_GENERATOR."
            )
        if "openai" in self.generator_names and not _present(self.openai_api_key):
            asked = "DOPPEL_GENERATOR=openai"
            if self.generators:
                asked = "DOPPEL_GENERATORS with openai"
            raise SettingsError(
                f"{asked} needs OPENAI_API_KEY: set it in the environment or .env, or use "
                "DOPPEL_GENERATOR=patch-remix to generate offline."
            )
        if self.store == "s3" and not self.s3_bucket:
            raise SettingsError(
                "DOPPEL_STORE=s3 needs DOPPEL_S3_BUCKET (and DOPPEL_S3_ENDPOINT_URL for "
                "MinIO-like stores), or use DOPPEL_STORE=local."
            )
        openai = "openai" in self.generator_names
        if openai and "unpriced_call_usd" not in self.openai.model_fields_set:
            self._models_have_prices()
        auth = self.img2img_auth.get_secret_value() if self.img2img_auth else ""
        if auth and ":" not in auth:
            raise SettingsError("DOPPEL_IMG2IMG_AUTH must be user:password (as --api-auth).")
        return self

    def _models_have_prices(self) -> None:
        """A paid request must never count as $0 (or a guess) for the budget unnoticed."""
        table = PriceTable(self.openai.prices, unpriced_call_usd=0.0)
        models = [("DOPPEL_OPENAI_IMAGE_MODEL", self.openai.image_model)]
        if self.openai.strategy == "describe":
            models.append(("DOPPEL_OPENAI_VISION_MODEL", self.openai.vision_model))
        for variable, model in models:
            if table.price_of(model) is None:
                raise SettingsError(
                    f"{variable}={model} has no price in Doppel's table, so the daily budget "
                    "could not count what it costs: add it to DOPPEL_OPENAI_PRICES (JSON, see "
                    "docs/openai.md) or set DOPPEL_OPENAI_UNPRICED_CALL_USD to what one call "
                    "costs (0 for a free local server)."
                )

    def value_of(self, variable: Variable) -> Any:
        """The value a variable gave (its field, nested or not)."""
        value: Any = self
        for part in variable.path:
            value = getattr(value, part)
        return value

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
            f"doppel: source={self.source} generator={','.join(self.generator_names)} "
            f"store={store} "
            f"database={db} photos_per_day={self.photos_per_day} start={self.start_date}"
        )


def _present(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value().strip())


FLAT_NAMES = FlatNames(DoppelSettings, PREFIX, NESTED, ALSO_READ)


def load_settings(**overrides: object) -> DoppelSettings:
    """Read settings, turning validation errors into one readable `SettingsError`."""
    try:
        return DoppelSettings(**FLAT_NAMES.nest(overrides))
    except SettingsError:
        raise
    except ValidationError as exc:
        for error in exc.errors():
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, SettingsError):
                raise cause from None
        problems = "; ".join(
            f"{FLAT_NAMES.variable_name(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
