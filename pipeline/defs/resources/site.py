import dagster as dg
from pydantic import Field

from pipeline.lib.site.gallery import GalleryTarget
from pipeline.lib.site.render import DEFAULT_IMAGE_ORIGINS


class GallerySiteResource(dg.ConfigurableResource):
    """Where the gallery is published (`GalleryTarget`, as Dagster configuration)."""

    prefix: str = "site"
    folder: str | None = None
    image_origins: list[str] = Field(default_factory=lambda: list(DEFAULT_IMAGE_ORIGINS))
    site_url: str | None = None
    votes_url: str | None = None

    @classmethod
    def of(cls, target: GalleryTarget) -> "GallerySiteResource":
        return cls(
            prefix=target.prefix,
            folder=target.folder,
            image_origins=list(target.image_origins),
            site_url=target.site_url,
            votes_url=target.votes_url,
        )

    def target(self) -> GalleryTarget:
        return GalleryTarget(
            prefix=self.prefix,
            folder=self.folder,
            image_origins=tuple(self.image_origins),
            site_url=self.site_url,
            votes_url=self.votes_url,
        )
