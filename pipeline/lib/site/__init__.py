"""The static gallery: day tables → page models → Jinja2 → an object store or a folder.

`build_site` is the entry point; see `build.py`. Templates and static files live in `site/`
at the top of the repository.
"""

from pipeline.lib.site.build import SiteBuild, build_site

__all__ = ["SiteBuild", "build_site"]
