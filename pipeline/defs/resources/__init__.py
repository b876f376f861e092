"""Resources, chosen once from the settings."""

import os
from typing import Any

import dagster as dg

from pipeline.defs.resources.config import dumped
from pipeline.defs.resources.database import DatabaseResource
from pipeline.defs.resources.generators import (
    GeneratorLineupResource,
    ImageGeneratorResource,
    Img2ImgResource,
    OpenAIImagesResource,
    PatchRemixResource,
    StyleTransferResource,
)
from pipeline.defs.resources.io_managers import DayTableIOManager
from pipeline.defs.resources.logs import DoppelLogsResource
from pipeline.defs.resources.site import GallerySiteResource
from pipeline.defs.resources.sources import (
    FolderPhotosResource,
    PhotoSourceResource,
    SamplePhotosResource,
    UnsplashPhotosResource,
)
from pipeline.defs.resources.storage import LocalObjectStoreResource, ObjectStoreResource
from pipeline.lib.settings import DoppelSettings, GeneratorName
from pipeline.lib.site.gallery import gallery_target

__all__ = [
    "DatabaseResource",
    "DayTableIOManager",
    "DoppelLogsResource",
    "ImageGeneratorResource",
    "ObjectStoreResource",
    "PhotoSourceResource",
    "build_resources",
]


def build_resources(settings: DoppelSettings) -> dict[str, Any]:
    store = _object_store(settings)
    return {
        "logs": DoppelLogsResource(log_format=settings.log_format, log_level=settings.log_level),
        "database": DatabaseResource(url=_database_url(settings)),
        "object_store": store,
        "io_manager": DayTableIOManager(store=store),
        "photo_source": _photo_source(settings),
        "image_generator": _image_generator(settings),
        "gallery": GallerySiteResource.of(gallery_target(settings)),
    }


def _database_url(settings: DoppelSettings) -> Any:
    # A URL from the environment may carry a password: pass it by name, never by value,
    # so it shows in the UI and run config as the variable's name only.
    if settings.database_url and os.environ.get("DOPPEL_DATABASE_URL") == settings.database_url:
        return dg.EnvVar("DOPPEL_DATABASE_URL")
    return settings.resolved_database_url


def _object_store(settings: DoppelSettings) -> ObjectStoreResource:
    if settings.store == "s3":
        from dagster_aws.s3 import S3Resource  # see s3_storage: only an S3 store pays for it

        from pipeline.defs.resources.s3_storage import S3ObjectStoreResource

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
            access_key=dg.EnvVar("UNSPLASH_ACCESS_KEY"),  # the key by name only
            photos_per_day=settings.photos_per_day,
            config=dumped(settings.unsplash),
        )
    return SamplePhotosResource(photos_per_day=settings.photos_per_day)


def _image_generator(settings: DoppelSettings) -> ImageGeneratorResource:
    """The generator, or the lineup of several (DOPPEL_GENERATORS), lead first."""
    lead, *more = [_one_generator(settings, name) for name in settings.generator_names]
    if not more:
        return lead
    places = ("second", "third", "fourth")[: len(more)]  # at most four kinds of generator
    return GeneratorLineupResource(lead=lead, **dict(zip(places, more, strict=True)))


def _one_generator(settings: DoppelSettings, name: GeneratorName) -> ImageGeneratorResource:
    # A photo waits like a day does, and is left to a person after as many failures; a
    # run's claim on a photo it makes lasts the lease unless renewed.
    retry: dict[str, Any] = {
        "retry_wait_minutes": settings.gap_retry_after_minutes,
        "max_failures": settings.gap_max_attempts,
        "claim_lease_s": settings.claim_lease_s,
    }
    if name == "openai":
        return OpenAIImagesResource(
            api_key=dg.EnvVar("OPENAI_API_KEY"),  # the key by name only, never its value
            database=DatabaseResource(url=_database_url(settings)),
            concurrency=settings.remote_generation_concurrency,
            config=dumped(settings.openai),
            max_paid_attempts=settings.max_paid_attempts,
            **retry,
        )
    if name == "img2img":
        return Img2ImgResource(
            database=DatabaseResource(url=_database_url(settings)),
            concurrency=settings.remote_generation_concurrency,
            config=dumped(settings.img2img),
            # user:password by name only; absent when the server runs without --api-auth.
            auth=dg.EnvVar("DOPPEL_IMG2IMG_AUTH") if settings.img2img_auth else None,
            max_paid_attempts=settings.max_paid_attempts,
            **retry,
        )
    if name == "style-transfer":
        return StyleTransferResource(
            concurrency=settings.generation_concurrency,
            config=dumped(settings.style_transfer),
            **retry,
        )
    return PatchRemixResource(
        concurrency=settings.generation_concurrency, config=dumped(settings.patch_remix), **retry
    )
