import dagster as dg

from pipeline.lib.sources import PhotoSource
from pipeline.lib.sources.folder import FolderSource, sample_source


class PhotoSourceResource(dg.ConfigurableResource):
    """Chooses each day's photos; `photos_per_day` is the day's top K."""

    photos_per_day: int = 4

    def open(self) -> PhotoSource:
        raise NotImplementedError


class SamplePhotosResource(PhotoSourceResource):
    """The CC0 / public-domain photos bundled with Doppel."""

    def open(self) -> PhotoSource:
        return sample_source()


class FolderPhotosResource(PhotoSourceResource):
    folder: str

    def open(self) -> PhotoSource:
        return FolderSource(self.folder)
