"""Jinja2 rendering of the page models, with the templates and static files from `site/`.

Autoescaping is on for every template: names, descriptions and prompts come from outside and
may hold markup. Static files are published under content-hashed names (`style.3f2a9c1b.css`)
so browsers and CDNs can cache them forever; the hash of every template and static file is
part of each page's input hash, so changing the design re-renders the pages.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jinja2

from pipeline.lib.site.publish import SiteWriter

SITE_SOURCE_DIR = Path(__file__).resolve().parents[3] / "site"
NAV_SECTIONS = {"index.html.j2": "index", "stats.html.j2": "stats", "about.html.j2": "about"}
BUILDER_VERSION = "gallery-1"
"""Bump when the page-model code changes what a page shows in a way its model does not."""


class Renderer:
    def __init__(self, source_dir: Path = SITE_SOURCE_DIR):
        self.templates_dir = source_dir / "templates"
        self.static_dir = source_dir / "static"
        if not self.templates_dir.is_dir():
            raise FileNotFoundError(
                f"the gallery templates are missing: {self.templates_dir} (run from a checkout "
                "of Doppel, or pass the folder that holds templates/ and static/)"
            )
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.templates_dir),
            autoescape=True,  # every template, whatever its file name
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.static: dict[str, tuple[str, bytes]] = {}
        digest = hashlib.sha256(BUILDER_VERSION.encode())
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

    def render(self, template: str, model: dict[str, Any]) -> str:
        return self.env.get_template(template).render(
            page=model, root=model.get("root", ""), nav=NAV_SECTIONS.get(template, "days")
        )

    def publish_static(self, writer: SiteWriter) -> None:
        for hashed, data in self.static.values():
            writer.file(hashed, data)
