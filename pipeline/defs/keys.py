"""The assets' keys: the library is told these (the keys for the metrics exporter), it never
names them. Their names, and the day tables' folders the gallery reads, are in `names.py`."""

import dagster as dg

from pipeline.defs.names import LOOK_ALIKES_ASSET, PHOTOS_ASSET

PHOTOS_KEY = dg.AssetKey(PHOTOS_ASSET)
LOOK_ALIKES_KEY = dg.AssetKey(LOOK_ALIKES_ASSET)
GALLERY_KEY = dg.AssetKey("gallery_site")


def table_folder(key: dg.AssetKey) -> str:
    """The folder of an asset's tables under `tables/` (what the IO manager writes)."""
    return "/".join(key.path)
