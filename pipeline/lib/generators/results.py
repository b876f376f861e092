"""Checks every remote generator runs on an image before Doppel stores it.

A look-alike arrives as base64 text. It must decode, be a PNG/JPEG/WebP by its magic bytes,
open completely (a truncated file fails here, not in the gallery), and have a sane size.
Anything else is a `GenerationError` for that photo, retryable: the next run may get a
whole image.
"""

from __future__ import annotations

import base64
import binascii

from PIL import Image

from pipeline.lib.generators import GenerationError
from pipeline.lib.images import ImageError, decode_image, sniff_content_type

RESULT_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
MIN_RESULT_SIDE = 64
MAX_RESULT_SIDE = 4096
MAX_RESULT_PIXELS = 3840 * 2160
MAX_ASPECT = 4.0  # the APIs allow 3:1; a little slack for servers that round


def image_from_base64(text: object, *, origin: str) -> Image.Image:
    """Decode and validate one base64 image; `origin` names the server in error messages."""
    if not isinstance(text, str) or not text.strip():
        raise GenerationError(f"{origin} returned no image data", retryable=True)
    payload = text.strip()
    if payload.startswith("data:"):  # some servers send a data URL
        payload = payload.partition(",")[2]
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GenerationError(f"{origin} returned broken base64 ({exc})", retryable=True) from exc
    content_type = sniff_content_type(data)
    if content_type not in RESULT_TYPES:
        raise GenerationError(
            f"{origin} returned {len(data)} bytes that are not a PNG, JPEG or WebP image",
            retryable=True,
        )
    try:
        image = decode_image(data, max_pixels=MAX_RESULT_PIXELS, min_side=MIN_RESULT_SIDE)
    except ImageError as exc:
        message = f"{origin} returned an unusable image: {exc}"
        raise GenerationError(message, retryable=True) from exc
    width, height = image.size
    if max(width, height) > MAX_RESULT_SIDE or max(width, height) / min(width, height) > MAX_ASPECT:
        raise GenerationError(
            f"{origin} returned an image of implausible size {width}x{height}", retryable=True
        )
    return image
