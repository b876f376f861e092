import dagster as dg

from pipeline.defs.keys import GALLERY_KEY, LOOK_ALIKES_KEY, PHOTOS_KEY

# Partitioning is inferred from the selected assets (both daily).
daily_images_job = dg.define_asset_job(
    "daily_images_job",
    selection=[PHOTOS_KEY, LOOK_ALIKES_KEY],
    description="Collect a day's photos and make their look-alikes.",
)

# Unpartitioned: one run rebuilds the gallery from every day's tables (only changes written).
gallery_site_job = dg.define_asset_job(
    "gallery_site_job",
    selection=[GALLERY_KEY],
    description="Rebuild and publish the static gallery from the day tables.",
)
