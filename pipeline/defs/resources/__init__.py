"""Resources, chosen once from the settings."""

import os
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from pipeline.defs.resources.database import DatabaseResource
from pipeline.defs.resources.generators import ImageGeneratorResource, PatchRemixResource
from pipeline.defs.resources.io_managers import DayTableIOManager
from pipeline.defs.resources.sources import (
    FolderPhotosResource,
    PhotoSourceResource,
    SamplePhotosResource,
    UnsplashPhotosResource,
)
from pipeline.defs.resources.site import GallerySiteResource
from pipeline.defs.resources.storage import (
    LocalObjectStoreResource,
    ObjectStoreResource,
    S3ObjectStoreResource,
)
from pipeline.lib.settings import DoppelSettings

__all__ = [
    "DatabaseResource",
    "DayTableIOManager",
    "ImageGeneratorResource",
    "ObjectStoreResource",
    "PhotoSourceResource",
    "build_resources",
]


def build_resources(settings: DoppelSettings) -> dict[str, Any]:
    store = _object_store(settings)
    return {
        "database": DatabaseResource(url=_database_url(settings)),
        "object_store": store,
        "io_manager": DayTableIOManager(store=store),
        "photo_source": _photo_source(settings),
        "image_generator": _image_generator(settings),
        "gallery": GallerySiteResource(
            prefix=settings.site_prefix,
            folder=str(settings.site_dir.resolve()) if settings.site_dir else None,
        ),
    }


def _database_url(settings: DoppelSettings) -> Any:
    # A URL from the environment may carry a password: pass it by name, never by value,
    # so it shows in the UI and run config as the variable's name only.
    if settings.database_url and os.environ.get("DOPPEL_DATABASE_URL") == settings.database_url:
        return dg.EnvVar("DOPPEL_DATABASE_URL")
    return settings.resolved_database_url


def _object_store(settings: DoppelSettings) -> ObjectStoreResource:
    if settings.store == "s3":
        return S3ObjectStoreResource(
            s3=S3Resource(
                endpoint_url=settings.s3_endpoint_url,
                region_name=settings.s3_region,
            ),
            bucket=settings.s3_bucket or "",
            prefix=settings.s3_prefix,
        )
    return LocalObjectStoreResource(base_dir=str(settings.objects_dir.resolve()))


def _photo_source(settings: DoppelSettings) -> PhotoSourceResource:
    if settings.source == "folder":
        return FolderPhotosResource(
            folder=str(settings.folder), photos_per_day=settings.photos_per_day
        )
    if settings.source == "unsplash":
        return UnsplashPhotosResource(
            access_key=dg.EnvVar("UNSPLASH_ACCESS_KEY"),
            photos_per_day=settings.photos_per_day,
            base_url=settings.unsplash_base_url,
            per_page=settings.unsplash_per_page,
            max_pages=settings.unsplash_max_pages,
            call_budget=settings.unsplash_call_budget,
            reserve=settings.unsplash_reserve,
            allowed_image_hosts=[
                h.strip() for h in settings.unsplash_image_hosts.split(",") if h.strip()
            ],
            timeout_s=settings.unsplash_timeout_s,
            image_timeout_s=settings.unsplash_image_timeout_s,
            retry_attempts=settings.unsplash_retry_attempts,
            retry_backoff_s=settings.unsplash_retry_backoff_s,
            image_width=settings.unsplash_image_width,
            max_image_bytes=settings.unsplash_max_image_bytes,
            max_image_pixels=settings.unsplash_max_image_pixels,
            utm_source=settings.unsplash_utm_source,
        )
    return SamplePhotosResource(photos_per_day=settings.photos_per_day)


def _image_generator(settings: DoppelSettings) -> ImageGeneratorResource:
    if settings.generator != "patch-remix":
        raise NotImplementedError(f"the {settings.generator} generator is not built yet")
    return PatchRemixResource(
        concurrency=settings.generation_concurrency,
        work_size=settings.work_size,
        output_size=settings.output_size,
    )
