import dagster as dg

from pipeline.defs.assets.gallery_site import gallery_site
from pipeline.defs.assets.generated_images import generated_images
from pipeline.defs.assets.unsplash_images import unsplash_images

# Partitioning is inferred from the selected assets (both daily).
daily_images_job = dg.define_asset_job(
    "daily_images_job",
    selection=[unsplash_images, generated_images],
    description="Collect a day's photos and make their look-alikes.",
)

# Unpartitioned: one run rebuilds the gallery from every day's tables (only changes written).
gallery_site_job = dg.define_asset_job(
    "gallery_site_job",
    selection=[gallery_site],
    description="Rebuild and publish the static gallery from the day tables.",
)
