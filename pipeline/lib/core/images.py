"""Image decoding shared by the whole project.

Every photo and look-alike enters Doppel through `decode_image` (bytes) or `load_image_file`
(a path). Both return a fully loaded 8-bit RGB `PIL.Image.Image` with EXIF orientation
applied, or raise `ImageError` whose message is one user-facing line saying what is wrong and
what to do. Nothing here touches Pillow's global settings, so it is safe to call from several
threads at once.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS: int = 40_000_000
"""Largest accepted width × height; checked from the header before any pixel is decoded."""

MIN_SIDE: int = 32
"""Smallest accepted width or height: the patch generator needs a few 7×7 patches."""

MAX_FILE_BYTES: int = 256 * 1024 * 1024
"""`load_image_file` refuses bigger files before reading them into memory."""

_FORMAT_ALIASES = {"JPG": "JPEG", "JPE": "JPEG", "TIF": "TIFF"}


class ImageError(ValueError):
    """An input that is not a usable image. The message is one line meant for the user."""


def sniff_content_type(data: bytes) -> str | None:
    """The image MIME type from the leading magic bytes, or None if it is not a known image."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1"):
            return "image/heic"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "image/jp2"
    return None


def decode_image(
    data: bytes, *, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE
) -> Image.Image:
    """Decode `data` into a fully loaded RGB image.

    Alpha is composited on white; grayscale, palette, CMYK and 16-bit images are converted;
    the EXIF orientation is applied. Raises `ImageError` for empty, non-image, truncated or
    damaged data, for images smaller than `min_side` on either side, and for images with more
    than `max_pixels` pixels (a decompression bomb guard checked from the header, before the
    pixels are decoded).
    """
    if not data:
        raise ImageError("the file is empty; upload a JPEG, PNG or WebP photo")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1× and 2× its own cap; make that an error too. If two
            # threads interleave here the filter may outlive this block or be missed: either
            # way our own pixel check below still rejects the image.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_big_error(None, max_pixels) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            "the file is not an image Doppel can read; upload a JPEG, PNG or WebP photo"
        ) from exc
    except Exception as exc:  # Pillow's plugins raise many types for damaged headers
        raise ImageError(
            f"the image header is damaged or truncated ({_brief(exc)}); re-export the photo"
        ) from exc

    width, height = im.size
    if width * height > max_pixels:
        raise _too_big_error((width, height), max_pixels)
    if min(width, height) < min_side:
        raise ImageError(
            f"the image is {width}×{height} px; both sides must be at least {min_side} px"
        )
    try:
        im.seek(0)  # animated GIF/WebP/APNG: the first frame stands for the image
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_big_error((width, height), max_pixels) from exc
    except Exception as exc:
        raise ImageError(
            f"the image data is truncated or damaged ({_brief(exc)}); re-export or re-download it"
        ) from exc
    with contextlib.suppress(Exception):  # a broken EXIF block should not lose a good photo
        im = ImageOps.exif_transpose(im)
    return _to_rgb(im)


def load_image_file(path: str | os.PathLike[str]) -> Image.Image:
    """`decode_image` on a file's bytes; an unreadable or missing file also raises `ImageError`."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise ImageError(f"{p}: not a file; give the path of a photo")
        if size > MAX_FILE_BYTES:
            raise ImageError(
                f"{p}: the file is {size / 2**20:.0f} MB, more than the "
                f"{MAX_FILE_BYTES // 2**20} MB limit; use a smaller photo"
            )
        data = p.read_bytes()
    except ImageError:
        raise
    except FileNotFoundError as exc:
        raise ImageError(f"{p}: no such file") from exc
    except PermissionError as exc:
        raise ImageError(f"{p}: permission denied; check the file's permissions") from exc
    except OSError as exc:
        raise ImageError(f"{p}: cannot read the file ({_brief(exc)})") from exc
    try:
        return decode_image(data)
    except ImageError as exc:
        raise ImageError(f"{p}: {exc}") from exc


def encode_image(img: Image.Image, fmt: str = "PNG", **opts: object) -> bytes:
    """Encode to bytes. JPEG and WebP default to quality 90; JPEG drops any alpha channel."""
    fmt = _normalise_format(fmt)
    if fmt == "JPEG" and img.mode not in ("RGB", "L", "CMYK"):
        img = img.convert("RGB")
    if fmt in ("JPEG", "WEBP"):
        opts.setdefault("quality", 90)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **opts)
    return buf.getvalue()


def content_type_for(fmt: str) -> str:
    """The MIME type for a Pillow format name or file extension ("PNG", "jpg", ".webp")."""
    fmt = _normalise_format(fmt)
    Image.init()
    mime = Image.MIME.get(fmt)
    if mime is None:
        raise ValueError(f"unknown image format: {fmt}")
    return mime


def resize_long_side(img: Image.Image, long_side: int, *, min_short: int = 0) -> Image.Image:
    """Lanczos resize to `fitted_size(img.size, long_side, min_short=min_short)`."""
    size = fitted_size(img.size, long_side, min_short=min_short)
    if size == img.size:
        return img.copy()
    return img.resize(size, Image.Resampling.LANCZOS)


def fitted_size(size: tuple[int, int], long_side: int, *, min_short: int = 0) -> tuple[int, int]:
    """`size` scaled to a long side of `long_side` px, keeping its aspect ratio; unless its
    short side would then be under `min_short` px: then scaled so the short side is
    `min_short` (a 4000×200 panorama fitted to 512 with `min_short=32`: 640×32)."""
    if long_side < 1:
        raise ValueError("long_side must be positive")
    w, h = size
    scale = max(long_side / max(w, h), min_short / min(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def crop_to_aspect(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The centre of `img` with the aspect ratio of `size` (unchanged if it has it, to the
    pixel)."""
    w, h = img.size
    target = size[0] / size[1]
    cw, ch = (w, round(w / target)) if w / h < target else (round(h * target), h)
    cw, ch = max(1, min(w, cw)), max(1, min(h, ch))
    if abs(cw - w) <= 1 and abs(ch - h) <= 1:
        return img
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def _normalise_format(fmt: str) -> str:
    fmt = fmt.lstrip(".").upper()
    return _FORMAT_ALIASES.get(fmt, fmt)


def _too_big_error(size: tuple[int, int] | None, max_pixels: int) -> ImageError:
    if size is None:  # Pillow's own bomb guard fired before the size was known to us
        cap = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        return ImageError(
            f"the image has more pixels than can be decoded safely ({cap / 1e6:.0f} megapixel "
            "limit); resize it first"
        )
    limit = f"{max_pixels / 1e6:.0f} megapixel limit"
    w, h = size
    return ImageError(
        f"the image is {w}×{h} px ({w * h / 1e6:.0f} megapixels), over the {limit}; resize it first"
    )


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any decoded mode to 8-bit RGB; transparency is composited on white."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa") or (mode == "L" and "transparency" in im.info):
        im = im.convert("RGBA")
    elif mode.startswith(("I", "F")):
        im = _high_depth_to_l(im)
    if im.mode == "RGBA":
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    try:
        return im.convert("RGB")
    except ValueError as exc:
        raise ImageError(f"colour mode {mode} is not supported; save the photo as RGB") from exc


def _high_depth_to_l(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float grayscale → 8-bit L, scaled rather than clipped."""
    import numpy as np  # rare images only; most processes never need numpy

    arr = np.asarray(im, dtype=np.float64)
    if im.mode.startswith("I;16"):
        top = 65535.0
    elif im.mode == "F" and arr.size and float(arr.max()) <= 1.0:
        top = 1.0  # float images are conventionally on [0, 1]
    else:
        peak = float(arr.max()) if arr.size else 0.0
        top = 255.0 if peak <= 255 else 65535.0 if peak <= 65535 else peak
    scaled = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(scaled)
