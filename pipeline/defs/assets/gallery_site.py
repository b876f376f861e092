import dagster as dg

from pipeline.defs.keys import DAY_TABLES, FINDINGS_KEY, LOOK_ALIKES_KEY, PHOTOS_KEY, table_folder
from pipeline.defs.metadata import metadata
from pipeline.defs.resources.database import DatabaseResource
from pipeline.defs.resources.logs import DoppelLogsResource
from pipeline.defs.resources.site import GallerySiteResource
from pipeline.defs.resources.storage import ObjectStoreResource
from pipeline.lib.day.tables import table_key
from pipeline.lib.site import build_site
from pipeline.lib.site.publish import publishing


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
    store = object_store.open()
    out, prefix = gallery.destination(store)
    with publishing(database.get(), out, prefix):  # one build of this site at a time
        result = build_site(
            store,
            tables=DAY_TABLES,
            out_store=out,
            prefix=prefix,
            image_origins=tuple(gallery.image_origins),
            site_url=gallery.site_url,
            findings_key=table_key(table_folder(FINDINGS_KEY), None),
            votes_url=gallery.votes_url,
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
