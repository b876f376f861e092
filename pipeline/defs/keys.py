"""The assets' keys: the library is told these (the keys for the metrics exporter), it never
names them. The daily assets' names, and the tables' places the gallery reads, are in
`names.py` (no Dagster there: `doppel gallery` imports it)."""

import dagster as dg

from pipeline.defs.names import (
    DAY_TABLES,
    FINDINGS_ASSET,
    HUMAN_VOTES_ASSET,
    LOOK_ALIKES_ASSET,
    PHOTOS_ASSET,
)

__all__ = [
    "DAY_TABLES",
    "FEATURES_KEY",
    "FINDINGS_KEY",
    "GALLERY_KEY",
    "HUMAN_VOTES_KEY",
    "JUDGE_KEY",
    "LOOK_ALIKES_KEY",
    "PHOTOS_KEY",
    "table_folder",
]

PHOTOS_KEY = dg.AssetKey(PHOTOS_ASSET)
LOOK_ALIKES_KEY = dg.AssetKey(LOOK_ALIKES_ASSET)
GALLERY_KEY = dg.AssetKey("gallery_site")
FEATURES_KEY = dg.AssetKey("image_features")
JUDGE_KEY = dg.AssetKey("machine_judge")
FINDINGS_KEY = dg.AssetKey(FINDINGS_ASSET)
HUMAN_VOTES_KEY = dg.AssetKey(HUMAN_VOTES_ASSET)


def table_folder(key: dg.AssetKey) -> str:
    """The folder of an asset's tables under `tables/` (what the IO manager writes)."""
    return "/".join(key.path)
