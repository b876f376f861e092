import dagster as dg

from pipeline.defs.assets.findings import findings, image_features, machine_judge
from pipeline.defs.assets.gallery_site import gallery_site
from pipeline.defs.assets.generated_images import generated_images
from pipeline.defs.assets.unsplash_images import unsplash_images

# Partitioning is inferred from the selected assets (both daily).
daily_images_job = dg.define_asset_job(
    "daily_images_job",
    selection=[unsplash_images, generated_images, image_features],
    description="Collect a day's photos, make their look-alikes, keep their images' features.",
)

# Unpartitioned: one run judges every day's pairs again and rebuilds the gallery from every
# day's tables (only changes written).
gallery_site_job = dg.define_asset_job(
    "gallery_site_job",
    selection=[machine_judge, findings, gallery_site],
    description="Judge every pair, sum up the findings, rebuild and publish the gallery.",
)
