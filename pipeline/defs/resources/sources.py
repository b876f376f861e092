from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from pipeline.defs.resources.config import config_field, config_of
from pipeline.lib.sources import PhotoSource
from pipeline.lib.sources.folder import FolderSource, sample_source
from pipeline.lib.sources.unsplash import UnsplashSource
from pipeline.lib.sources.unsplash_client import UnsplashConfig


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


class UnsplashPhotosResource(PhotoSourceResource):
    """The day's most-liked photos from Unsplash's editorial feed (docs/unsplash.md).

    `access_key` is given as `dg.EnvVar("UNSPLASH_ACCESS_KEY")`, so only the variable's name
    reaches run config and the UI.
    """

    access_key: str
    config: dict[str, Any] = config_field(UnsplashConfig)

    _opened: list[UnsplashSource] = PrivateAttr(default_factory=list)

    def open(self) -> PhotoSource:
        source = UnsplashSource(config_of(UnsplashConfig, self.config, access_key=self.access_key))
        self._opened.append(source)
        return source

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        while self._opened:
            self._opened.pop().close()
