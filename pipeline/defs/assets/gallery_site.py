import dagster as dg

from pipeline.defs.keys import FINDINGS_KEY, LOOK_ALIKES_KEY, PHOTOS_KEY
from pipeline.defs.metadata import metadata
from pipeline.defs.names import DAY_TABLES, FINDINGS_TABLE
from pipeline.defs.resources.database import DatabaseResource
from pipeline.defs.resources.logs import DoppelLogsResource
from pipeline.defs.resources.site import GallerySiteResource
from pipeline.defs.resources.storage import ObjectStoreResource
from pipeline.lib.site.gallery import publish_gallery


@dg.asset(
    # Reads the day tables itself (every partition, straight from the store), so the
    # upstream assets are plain dependencies, not inputs loaded through the IO manager.
    deps=[PHOTOS_KEY, LOOK_ALIKES_KEY, FINDINGS_KEY],
    group_name="doppel",
    kinds={"python", "html"},
    description=(
        "The static gallery: an index of days, a page per day and per pair, stats and "
        "credits, built from the materialized day tables; only changed files are rewritten."
    ),
)
def gallery_site(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    gallery: GallerySiteResource,
    database: DatabaseResource,
    logs: DoppelLogsResource,  # Doppel's logging in this step's process
) -> dg.MaterializeResult:
    # The same build as `doppel gallery` (without Dagster): `pipeline.lib.site.gallery`.
    result = publish_gallery(
        object_store.open(),
        gallery.target(),
        database.get(),
        tables=DAY_TABLES,
        findings=FINDINGS_TABLE,
    )
    context.log.info(result.summary())
    for problem in result.problems:
        context.log.warning(problem)
    index = (
        dg.MetadataValue.path(str(result.local_index))
        if result.local_index is not None
        else dg.MetadataValue.url(result.index_uri)
    )
    return dg.MaterializeResult(metadata={"index": index, **metadata(result.report())})
