"""Jinja2 rendering of the page models, with the templates and static files of `site/`
(installed as the package data `pipeline.site_files`).

Autoescaping is on for every template: names, descriptions and prompts come from outside and
may hold markup. Static files are published under content-hashed names (`style.3f2a9c1b.css`)
so browsers and CDNs can cache them forever; the hash of every template and static file is
part of each page's input hash, so changing the design re-renders the pages.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import jinja2

from pipeline.lib.core.origins import OriginError, image_origin

if TYPE_CHECKING:
    from pipeline.lib.site.publish import SiteWriter

log = logging.getLogger(__name__)

Rendered = tuple[str, str, str]
"""(path, input digest, html)"""
Job = TypeVar("Job")
PARALLEL_MIN_PAGES = 300  # below this, starting worker processes costs more than it saves
BATCH_PAGES = 100

# site/ in a checkout, mapped to this package name by pyproject.toml; in the wheel as such.
SITE_FILES_PACKAGE = "pipeline.site_files"
BUILDER_CODE_DIR = Path(__file__).resolve().parent
NAV_SECTIONS = {
    "index.html.j2": "index",
    "stats.html.j2": "stats",
    "about.html.j2": "about",
    "game.html.j2": "game",
    "findings.html.j2": "findings",
}
DEFAULT_IMAGE_ORIGINS = ("https://images.unsplash.com",)
_SITE_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?$")
BUILDER_VERSION = "gallery-1"
"""Part of every page's input hash, with this package's code, the templates and static files:
a change to how pages are made re-renders them all (bytes that come out the same are still
not rewritten)."""


class _ModelEnvironment(jinja2.Environment):
    """Page models are plain dicts: look `page.title` up as a key first.

    Jinja tries an attribute, then a key; for a dict the attribute lookup fails with an
    exception every time, which cost about a third of the rendering time.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def site_source_dir() -> Path:
    """The folder that holds the gallery's templates/ and static/."""
    try:
        return Path(str(resources.files(SITE_FILES_PACKAGE)))
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"the gallery's templates are not installed (package {SITE_FILES_PACKAGE}): "
            "reinstall Doppel from its wheel or checkout"
        ) from None


def content_security_policy(image_origins: Sequence[str]) -> str:
    """Scripts and styles from the site only; images from the site and `image_origins`
    (entries of the image allow-list, read as the URL policy reads them). Held in a <meta> so
    it applies from file://, any static host and the nginx proxy alike."""
    try:
        origins = [str(image_origin(entry)) for entry in image_origins]
    except OriginError as exc:
        raise ValueError(f"an origin for the gallery's images: {exc}") from None
    images = " ".join(["'self'", *dict.fromkeys(origins)])
    return (
        f"default-src 'self'; img-src {images}; style-src 'self'; script-src 'self'; "
        # The vote service is on the site's own host (DOPPEL_VOTES_URL is a path): nothing else.
        "connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'"
    )


class Renderer:
    def __init__(
        self,
        source_dir: Path | None = None,
        *,
        image_origins: Sequence[str] = DEFAULT_IMAGE_ORIGINS,
        site_url: str | None = None,
        votes_url: str | None = None,
    ):
        source_dir = source_dir or site_source_dir()
        self.templates_dir = source_dir / "templates"
        self.static_dir = source_dir / "static"
        if not self.templates_dir.is_dir():
            raise FileNotFoundError(
                f"the gallery templates are missing: {self.templates_dir} (reinstall Doppel, "
                "or pass the folder that holds templates/ and static/)"
            )
        self.env = _ModelEnvironment(
            loader=jinja2.FileSystemLoader(self.templates_dir),
            autoescape=True,  # every template, whatever its file name
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates are read once per build, not stat()ed per page
            # Compiling the templates took a one-day build 0.2-0.4 s of CPU in every new
            # process (a `doppel gallery`, each render worker): keep the compiled code in
            # Jinja's per-user cache folder, keyed by each template's source checksum.
            bytecode_cache=jinja2.FileSystemBytecodeCache(),
        )
        self.static: dict[str, tuple[str, bytes]] = {}
        self.image_origins = tuple(image_origins)
        if site_url is not None and not _SITE_URL.match(site_url):
            raise ValueError(f"the site's public address must be an http(s) URL: {site_url!r}")
        self.site_url = site_url.rstrip("/") + "/" if site_url else None
        # Where the game posts answers (a path on this host, checked by the settings); None:
        # the game keeps them in the browser.
        self.votes_url = votes_url
        csp = content_security_policy(self.image_origins)
        digest = hashlib.sha256(
            BUILDER_VERSION.encode()
            + csp.encode()
            + (self.site_url or "").encode()
            + (self.votes_url or "").encode()
        )
        for path in sorted(BUILDER_CODE_DIR.glob("*.py")):
            digest.update(path.read_bytes())
        for path in sorted(self.templates_dir.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(self.templates_dir).as_posix().encode())
                digest.update(path.read_bytes())
        for path in sorted(self.static_dir.rglob("*")) if self.static_dir.is_dir() else []:
            if path.is_file():
                data = path.read_bytes()
                content = hashlib.sha256(data).hexdigest()[:10]
                name = path.relative_to(self.static_dir).as_posix()
                stem, dot, suffix = name.rpartition(".")
                hashed = f"static/{stem}.{content}.{suffix}" if dot else f"static/{name}.{content}"
                self.static[name] = (hashed, data)
                digest.update(hashed.encode())
        self.version = digest.hexdigest()
        self.env.globals["static"] = {name: hashed for name, (hashed, _) in self.static.items()}
        self.env.globals["content_security_policy"] = csp
        self.env.globals["site_url"] = self.site_url
        self.env.globals["votes_url"] = self.votes_url

    def render(self, template: str, model: dict[str, Any]) -> str:
        return self.env.get_template(template).render(
            page=model, root=model.get("root", ""), nav=NAV_SECTIONS.get(template, "days")
        )

    def publish_static(self, writer: SiteWriter) -> None:
        for hashed, data in self.static.values():
            writer.file(hashed, data)

    def run(
        self,
        jobs: Iterable[Job],
        work: Callable[[Renderer, Job], list[Rendered]],
        *,
        workers: int | None = None,
        size: Callable[[Job], int] = lambda job: 1,
    ) -> Iterator[Rendered]:
        """`work(renderer, job)` for every job, yielding (path, digest, html) in any order.

        Jinja is pure Python, so with many pages (`size` counts a job's pages) the jobs run
        in worker processes, spawned rather than forked since this process runs threads;
        `work` must be a module-level function and the jobs picklable. `jobs` is read as the
        work goes, so whatever makes them (image copies) overlaps the rendering of those before.
        If the workers cannot run (a `__main__` that a spawned process cannot import, say),
        the jobs not yet done run here instead.
        """
        workers = workers or len(os.sched_getaffinity(0))
        pending = iter(jobs)
        taken: list[Job] = []  # read so far: what runs here if the workers fail
        pages = 0
        for job in pending:
            taken.append(job)
            pages += size(job)
            if pages >= PARALLEL_MIN_PAGES:
                break
        if workers < 2 or pages < PARALLEL_MIN_PAGES:
            for job in itertools.chain(taken, pending):
                yield from work(self, job)
            return
        done: set[int] = set()

        def every_job() -> Iterator[Job]:
            yield from taken[:]
            for job in pending:
                taken.append(job)
                yield job

        try:
            for index, results in self._run_in_workers(every_job(), work, workers, size):
                done.add(index)
                yield from results
        except (BrokenProcessPool, OSError) as exc:
            log.warning("rendering in worker processes failed (%s); rendering here", exc)
            for index, job in enumerate(itertools.chain(taken, pending)):
                if index not in done:
                    yield from work(self, job)

    def _run_in_workers(
        self,
        jobs: Iterable[Job],
        work: Callable[[Renderer, Job], list[Rendered]],
        workers: int,
        size: Callable[[Job], int],
    ) -> Iterator[tuple[int, list[Rendered]]]:
        context = multiprocessing.get_context("spawn")
        source = str(self.templates_dir.parent)
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending: set[Future[list[tuple[int, list[Rendered]]]]] = set()
            for batch in _batches(jobs, size):
                options = (self.image_origins, self.site_url, self.votes_url)
                pending.add(pool.submit(_run_batch, source, options, work, batch))
                if len(pending) >= 2 * workers:  # bounded memory, workers kept busy
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield from future.result()
            for future in pending:
                yield from future.result()


def _batches(jobs: Iterable[Job], size: Callable[[Job], int]) -> Iterator[list[tuple[int, Job]]]:
    batch: list[tuple[int, Job]] = []
    pages = 0
    for index, job in enumerate(jobs):
        batch.append((index, job))
        pages += size(job)
        if pages >= BATCH_PAGES:
            yield batch
            batch, pages = [], 0
    if batch:
        yield batch


_Options = tuple[tuple[str, ...], str | None, str | None]
_WORKER_RENDERERS: dict[tuple[str, _Options], Renderer] = {}


def _run_batch(
    source_dir: str,
    options: _Options,
    work: Callable[[Renderer, Job], list[Rendered]],
    batch: list[tuple[int, Job]],
) -> list[tuple[int, list[Rendered]]]:
    """In a worker process: run a batch of jobs with this process's renderer."""
    key = (source_dir, options)
    renderer = _WORKER_RENDERERS.get(key)
    if renderer is None:
        image_origins, site_url, votes_url = options
        renderer = _WORKER_RENDERERS[key] = Renderer(
            Path(source_dir), image_origins=image_origins, site_url=site_url, votes_url=votes_url
        )
    return [(index, work(renderer, job)) for index, job in batch]
