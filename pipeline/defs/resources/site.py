import dagster as dg
from pydantic import Field

from pipeline.lib.core.storage import LocalObjectStore, ObjectStore
from pipeline.lib.site.render import DEFAULT_IMAGE_ORIGINS


class GallerySiteResource(dg.ConfigurableResource):
    """Where the gallery is published: under a prefix of the object store (ready for S3 static
    hosting), or into a local folder when `folder` is set."""

    prefix: str = "site"
    folder: str | None = None
    # Origins the pages may show images from besides their own (the photo source's image
    # host): the pages' Content-Security-Policy allows exactly these.
    image_origins: list[str] = Field(default_factory=lambda: list(DEFAULT_IMAGE_ORIGINS))
    site_url: str | None = None  # the public address: absolute share links and a sitemap
    votes_url: str | None = None  # where the game posts answers (a path); None: it does not

    def destination(self, store: ObjectStore) -> tuple[ObjectStore, str]:
        if self.folder:
            return LocalObjectStore(self.folder), ""
        return store, self.prefix
