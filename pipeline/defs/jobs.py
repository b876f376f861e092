import dagster as dg

from pipeline.defs.keys import (
    FEATURES_KEY,
    FINDINGS_KEY,
    GALLERY_KEY,
    HUMAN_VOTES_KEY,
    JUDGE_KEY,
    LOOK_ALIKES_KEY,
    PHOTOS_KEY,
)

# Partitioning is inferred from the selected assets (all daily).
daily_images_job = dg.define_asset_job(
    "daily_images_job",
    selection=[PHOTOS_KEY, LOOK_ALIKES_KEY, FEATURES_KEY, HUMAN_VOTES_KEY],
    description="Collect a day's photos, make their look-alikes, keep their images' features, "
    "sum the day's votes.",
)

# Unpartitioned: one run judges every day's pairs again and rebuilds the gallery from every
# day's tables (only changes written).
gallery_site_job = dg.define_asset_job(
    "gallery_site_job",
    selection=[JUDGE_KEY, FINDINGS_KEY, GALLERY_KEY],
    description="Judge every pair, sum up the findings, rebuild and publish the gallery.",
)
