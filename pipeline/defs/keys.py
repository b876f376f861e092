"""The assets' keys, and where their day tables are stored: the library is told these
(`TableFolders` for the gallery, the keys for the metrics exporter), it never names them."""

import dagster as dg

from pipeline.lib.day.tables import TableFolders

PHOTOS_KEY = dg.AssetKey("unsplash_images")
LOOK_ALIKES_KEY = dg.AssetKey("generated_images")
GALLERY_KEY = dg.AssetKey("gallery_site")
FEATURES_KEY = dg.AssetKey("image_features")
JUDGE_KEY = dg.AssetKey("machine_judge")
FINDINGS_KEY = dg.AssetKey("findings")
HUMAN_VOTES_KEY = dg.AssetKey("human_votes")


def table_folder(key: dg.AssetKey) -> str:
    """The folder of an asset's tables under `tables/` (what the IO manager writes)."""
    return "/".join(key.path)


DAY_TABLES = TableFolders(
    photos=table_folder(PHOTOS_KEY), look_alikes=table_folder(LOOK_ALIKES_KEY)
)
