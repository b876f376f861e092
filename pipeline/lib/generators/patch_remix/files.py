"""File in, file out: what `doppel generate IN OUT` runs (the CLI itself lives elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.lib.core.images import encode_image, load_image_file
from pipeline.lib.core.storage import write_atomically
from pipeline.lib.generators.patch_remix.remix import RemixResult, remix
from pipeline.lib.generators.patch_remix.settings import RemixSettings

if TYPE_CHECKING:
    from pipeline.lib.generators.style_transfer.paint import PaintResult

GENERATORS = ("patch-remix", "style-transfer")
_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
MAX_SIZE = 4096


def generate_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    generator: str = "patch-remix",
    seed: int = 0,
    size: int = 256,
    work_size: int | None = None,
    style: int | None = None,
    style_folder: str | os.PathLike[str] | None = None,
    strength: float = 0.75,
) -> dict[str, Any]:
    """Make a look-alike of the photo at `in_path`, write it to `out_path`, return its record.

    `size` is the long side of the written image; the remix works at `work_size` (default:
    the smaller of `size` and 256 px) and upscales; style transfer paints at `size` (with a
    fixed built-in `style`, or the pictures in `style_folder`, and `strength`). The format
    follows `out_path`'s extension (.png, .jpg/.jpeg, .webp). Every problem the user can fix
    raises `ValueError` (an `ImageError` for the input photo) with a one-line message.
    """
    if generator not in GENERATORS:
        raise ValueError(f"unknown generator {generator!r}; choose one of: {', '.join(GENERATORS)}")
    if not 32 <= size <= MAX_SIZE:
        raise ValueError(f"--size must be between 32 and {MAX_SIZE} px, got {size}")
    out = Path(out_path)
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out}: unsupported output type; use .png, .jpg or .webp")
    if not out.parent.is_dir():
        raise ValueError(f"{out}: the folder {out.parent} does not exist")

    painter = None
    if generator == "style-transfer":
        from pipeline.lib.generators.style_transfer.paint import Painter
        from pipeline.lib.generators.style_transfer.settings import StyleSettings

        folder = Path(style_folder) if style_folder is not None else None
        painter = Painter(  # a bad style or style folder is a ValueError, before any work
            StyleSettings(output_size=size, style=style, style_folder=folder, strength=strength)
        )
    image = load_image_file(in_path)  # raises ImageError with a one-line message
    if painter is not None:
        from pipeline.lib.generators.style_transfer.paint import paint

        result: RemixResult | PaintResult = paint(image, seed=seed, painter=painter)
    else:
        settings = RemixSettings(work_size=work_size or min(size, 256), output_size=size)
        result = remix(image, seed=seed, settings=settings)
    data = encode_image(result.image, fmt)
    _write_atomically(out, data)
    return {**result.record, "input": str(in_path), "output": str(out), "format": fmt}


def _write_atomically(path: Path, data: bytes) -> None:
    """OUT is never left half-written; a write error is one line for the user."""
    try:
        write_atomically(path, data)
    except OSError as exc:
        raise ValueError(f"{path}: cannot write the file ({exc.strerror or exc})") from exc
