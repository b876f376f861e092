"""Publish the gallery where the settings say: one function for the `gallery_site` asset and
the `doppel gallery` command.

The command builds the site in a process that never imports Dagster (nor do the render
workers it starts): a build that only reads tables and writes pages should pay for Jinja2,
Pillow and the store's client, not for an orchestrator's import (about 1 s on 2 cores, more
than the whole of a one-day build). So this module and what it imports stay Dagster-free;
`pipeline_tests/lib/test_site_gallery.py` checks it in a fresh process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.lib.core.storage import LocalObjectStore, ObjectStore, S3ObjectStore
from pipeline.lib.day.tables import TableFolders
from pipeline.lib.site.build import SiteBuild, build_site
from pipeline.lib.site.publish import Locks, publishing
from pipeline.lib.site.render import DEFAULT_IMAGE_ORIGINS

if TYPE_CHECKING:
    from pipeline.lib.settings import DoppelSettings


@dataclass(frozen=True)
class GalleryTarget:
    """Where the gallery is published: under `prefix` of the object store (ready for S3
    static hosting), or into a local `folder` when set."""

    prefix: str = "site"
    folder: str | None = None
    # Origins the pages may show images from besides their own (the photo source's image
    # host): the pages' Content-Security-Policy allows exactly these.
    image_origins: tuple[str, ...] = DEFAULT_IMAGE_ORIGINS
    site_url: str | None = None  # the public address: absolute share links and a sitemap
    votes_url: str | None = None  # where the game posts answers (a path); None: it does not

    def destination(self, store: ObjectStore) -> tuple[ObjectStore, str]:
        if self.folder:
            return LocalObjectStore(self.folder), ""
        return store, self.prefix


def gallery_target(settings: DoppelSettings) -> GalleryTarget:
    return GalleryTarget(
        prefix=settings.site_prefix,
        folder=str(settings.site_dir.resolve()) if settings.site_dir else None,
        site_url=settings.site_url,
        votes_url=settings.votes_url,
        # The allow-list's entries as written: the CSP reads them as the URL policy does.
        image_origins=tuple(settings.unsplash.image_hosts),
    )


def open_store(settings: DoppelSettings) -> ObjectStore:
    """The object store the settings name, without Dagster's resources (the `doppel gallery`
    command); the assets open the same store through `ObjectStoreResource`."""
    if settings.store == "s3":
        import boto3  # only for S3: its import costs a local build 0.3 s

        client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region
        )
        return S3ObjectStore(client, settings.s3_bucket or "", settings.s3_prefix)
    return LocalObjectStore(Path(settings.objects_dir).resolve())


def publish_gallery(
    store: ObjectStore,
    target: GalleryTarget,
    db: Locks,
    *,
    tables: TableFolders,
    findings: str | None = None,
    force: bool = False,
) -> SiteBuild:
    """Build the site from the day tables in `store` and publish it to `target`, holding the
    site's lock (`publish.publishing`, taken through `db`) so that builds from several
    processes never interleave.
    `findings`: the findings table's key in `store` (`build_site`'s `findings_key`)."""
    out, prefix = target.destination(store)
    with publishing(db, out, prefix):
        return build_site(
            store,
            tables=tables,
            out_store=out,
            prefix=prefix,
            force=force,
            image_origins=target.image_origins,
            site_url=target.site_url,
            votes_url=target.votes_url,
            findings_key=findings,
        )
