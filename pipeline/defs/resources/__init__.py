"""Resources, chosen once from the settings."""

import os
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from pipeline.defs.resources.database import DatabaseResource
from pipeline.defs.resources.generators import (
    ImageGeneratorResource,
    Img2ImgResource,
    OpenAIImagesResource,
    PatchRemixResource,
    StyleTransferResource,
    prices_config,
)
from pipeline.defs.resources.io_managers import DayTableIOManager
from pipeline.defs.resources.site import GallerySiteResource
from pipeline.defs.resources.sources import (
    FolderPhotosResource,
    PhotoSourceResource,
    SamplePhotosResource,
    UnsplashPhotosResource,
)
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
            site_url=settings.site_url,
            image_origins=[
                f"https://{h.strip()}"
                for h in settings.unsplash_image_hosts.split(",")
                if h.strip()
            ],
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
    if settings.generator == "openai":
        return OpenAIImagesResource(
            api_key=dg.EnvVar("OPENAI_API_KEY"),  # the key by name only, never its value
            database=DatabaseResource(url=_database_url(settings)),
            base_url=settings.openai_base_url,
            concurrency=settings.remote_generation_concurrency,
            strategy=settings.openai_strategy,
            image_model=settings.openai_image_model,
            vision_model=settings.openai_vision_model,
            size=settings.openai_size,
            quality=settings.openai_quality,
            input_fidelity=settings.openai_input_fidelity,
            edit_prompt=settings.openai_edit_prompt,
            describe_prompt=settings.openai_describe_prompt,
            generate_prompt=settings.openai_generate_prompt,
            timeout_s=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
            daily_budget_usd=settings.openai_daily_budget_usd,
            prices=prices_config(settings.openai_prices),
            unpriced_call_usd=settings.openai_unpriced_call_usd,
            max_paid_attempts=settings.max_paid_attempts,
        )
    if settings.generator == "img2img":
        return Img2ImgResource(
            database=DatabaseResource(url=_database_url(settings)),
            max_paid_attempts=settings.max_paid_attempts,
            base_url=settings.img2img_base_url,
            # user:password by name only; absent when the server runs without --api-auth.
            auth=dg.EnvVar("DOPPEL_IMG2IMG_AUTH") if settings.img2img_auth else None,
            concurrency=settings.remote_generation_concurrency,
            prompt=settings.img2img_prompt,
            negative_prompt=settings.img2img_negative_prompt,
            denoising_strength=settings.img2img_denoising_strength,
            steps=settings.img2img_steps,
            cfg_scale=settings.img2img_cfg_scale,
            sampler=settings.img2img_sampler,
            checkpoint=settings.img2img_checkpoint,
            long_side=settings.img2img_long_side,
            timeout_s=settings.img2img_timeout_s,
            max_retries=settings.img2img_max_retries,
        )
    if settings.generator == "style-transfer":
        folder = settings.style_transfer_folder
        return StyleTransferResource(
            concurrency=settings.generation_concurrency,
            output_size=settings.output_size,
            style=settings.style_transfer_style,
            style_folder=str(folder) if folder else None,
            strength=settings.style_transfer_strength,
            max_attempts=settings.style_transfer_max_attempts,
        )
    return PatchRemixResource(
        concurrency=settings.generation_concurrency,
        work_size=settings.work_size,
        output_size=settings.output_size,
    )
