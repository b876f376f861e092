"""One typed settings object, read once from the environment and `.env`.

Every choice between the embedded default and a deployed backend is made here, at
definitions load, and summarised in one log line. Asking for a real backend without what it
needs is an error that says which variable to set, never a silent fallback.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SourceName = Literal["samples", "folder", "unsplash"]
GeneratorName = Literal["patch-remix", "openai", "img2img"]
StoreName = Literal["local", "s3"]


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
    start_date: date = Field(default=date(2026, 11, 1), description="First daily partition.")
    photos_per_day: int = Field(default=4, ge=1, le=30)
    generation_concurrency: int = Field(default=2, ge=1, le=64)

    folder: Path | None = Field(default=None, description="Photo folder for source=folder.")

    # Patch-remix working and output resolution (long side, pixels).
    work_size: int = Field(default=256, ge=64, le=1024)
    output_size: int = Field(default=768, ge=64, le=4096)

    s3_bucket: str | None = None
    s3_prefix: str = "doppel"
    s3_endpoint_url: str | None = Field(
        default=None, description="For MinIO, R2, Garage or a test server; empty for AWS."
    )
    s3_region: str = "us-east-1"

    # Secrets keep their conventional names; they are checked here and read by the
    # resources through Dagster's EnvVar, so their values never reach run config.
    unsplash_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("UNSPLASH_ACCESS_KEY")
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY")
    )

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


def _present(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value().strip())


def database_url_for(url: str) -> str:
    """Pin Postgres URLs to psycopg2, the driver dagster-postgres already installs.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which is not installed.
    """
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare) :]
    return url


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
