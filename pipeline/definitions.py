"""The one entry point Dagster loads (`dagster dev`, code server, daemon)."""

import logging

import dagster as dg
from dotenv import load_dotenv

from pipeline.defs.assets.gallery_site import gallery_site
from pipeline.defs.assets.generated_images import generated_images
from pipeline.defs.assets.unsplash_images import unsplash_images
from pipeline.defs.jobs import daily_images_job, gallery_site_job
from pipeline.defs.resources import build_resources
from pipeline.lib.settings import DoppelSettings, load_settings

log = logging.getLogger("doppel")


def build_definitions(settings: DoppelSettings) -> dg.Definitions:
    return dg.Definitions(
        assets=[unsplash_images, generated_images, gallery_site],
        jobs=[daily_images_job, gallery_site_job],
        resources=build_resources(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    # Secrets in .env must reach os.environ for Dagster's EnvVar; real env vars win.
    load_dotenv(".env", override=False)
    settings = load_settings()
    log.info(settings.summary())
    return build_definitions(settings)
