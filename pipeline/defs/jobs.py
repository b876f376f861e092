import dagster as dg

from pipeline.defs.assets.generated_images import generated_images
from pipeline.defs.assets.unsplash_images import unsplash_images

# Partitioning is inferred from the selected assets (both daily).
daily_images_job = dg.define_asset_job(
    "daily_images_job",
    selection=[unsplash_images, generated_images],
    description="Collect a day's photos and make their look-alikes.",
)
