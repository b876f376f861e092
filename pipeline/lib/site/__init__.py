"""The static gallery: day tables → page models → Jinja2 → an object store or a folder.

`build_site` is the entry point; see `build.py`. Templates and static files live in `site/`
at the top of the repository.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.lib.site.build import SiteBuild, build_site

__all__ = ["SiteBuild", "build_site"]


def __getattr__(name: str) -> Any:
    # Lazy, so the page-rendering worker processes import Jinja2, not Pillow and numpy.
    if name in __all__:
        from pipeline.lib.site import build

        return getattr(build, name)
    raise AttributeError(name)
