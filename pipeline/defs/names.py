"""The daily assets' names and where their day tables are, in a module that does not import
Dagster: `doppel gallery` finds the tables by these in a process that never loads Dagster
(`pipeline.lib.site.gallery`). `keys.py` makes the asset keys from the same names."""

from pipeline.lib.day.tables import TableFolders, table_key

PHOTOS_ASSET = "unsplash_images"
LOOK_ALIKES_ASSET = "generated_images"
FINDINGS_ASSET = "findings"
HUMAN_VOTES_ASSET = "human_votes"

# Each asset's tables are under `tables/<asset name>/` (what the IO manager writes).
DAY_TABLES = TableFolders(photos=PHOTOS_ASSET, look_alikes=LOOK_ALIKES_ASSET)
# The findings table (unpartitioned): findings.html and the judge's verdicts in the gallery.
FINDINGS_TABLE = table_key(FINDINGS_ASSET, None)
