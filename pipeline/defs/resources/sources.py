import dagster as dg
from pydantic import Field, PrivateAttr

from pipeline.lib.core.http import HttpRetry
from pipeline.lib.sources import PhotoSource
from pipeline.lib.sources.folder import FolderSource, sample_source
from pipeline.lib.sources.unsplash import UnsplashSource
from pipeline.lib.sources.unsplash_client import (
    DEFAULT_BASE_URL,
    DEFAULT_IMAGE_HOSTS,
    UnsplashConfig,
)


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
    base_url: str = DEFAULT_BASE_URL
    per_page: int = 30
    max_pages: int = 10
    call_budget: int = 20
    reserve: int = 2
    allowed_image_hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_IMAGE_HOSTS))
    timeout_s: float = 10.0
    image_timeout_s: float = 30.0
    retry_attempts: int = 3
    retry_backoff_s: float = 0.5
    image_width: int = 1536
    max_image_bytes: int = 20 * 2**20
    max_image_pixels: int = 25_000_000
    utm_source: str = "doppel"

    _opened: list[UnsplashSource] = PrivateAttr(default_factory=list)

    def open(self) -> PhotoSource:
        source = UnsplashSource(
            UnsplashConfig(
                access_key=self.access_key,
                base_url=self.base_url,
                per_page=self.per_page,
                max_pages=self.max_pages,
                call_budget=self.call_budget,
                reserve=self.reserve,
                allowed_image_hosts=tuple(self.allowed_image_hosts),
                timeout_s=self.timeout_s,
                image_timeout_s=self.image_timeout_s,
                retry=HttpRetry(attempts=self.retry_attempts, backoff_s=self.retry_backoff_s),
                image_width=self.image_width,
                max_image_bytes=self.max_image_bytes,
                max_image_pixels=self.max_image_pixels,
                utm_source=self.utm_source,
            )
        )
        self._opened.append(source)
        return source

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        while self._opened:
            self._opened.pop().close()
