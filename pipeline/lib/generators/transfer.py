"""Images crossing the wire to and from remote generators.

Going out, a photo is sent as its own bytes when they are a JPEG/PNG/WebP of reasonable size
(the MIME type is read from the bytes, never trusted from the source), else re-encoded.

Coming back, a look-alike arrives as base64 text. It must decode, be a PNG/JPEG/WebP by its
magic bytes, open completely (a truncated file fails here, not in the gallery), and have a
sane size. Anything else is a `GenerationError` for that photo, retryable: the next run may
get a whole image.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from PIL import Image

from pipeline.lib.core.images import (
    ImageError,
    decode_image,
    encode_image,
    resize_long_side,
    sniff_content_type,
)
from pipeline.lib.generators import GenerationError, LoadedPhoto

UPLOAD_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # well under OpenAI's 50 MB; bigger photos are re-encoded

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


@dataclass(frozen=True)
class Upload:
    data: bytes
    content_type: str

    @property
    def filename(self) -> str:
        return f"photo{UPLOAD_TYPES[self.content_type]}"

    def base64(self) -> str:
        return base64.b64encode(self.data).decode()


def upload_of(photo: LoadedPhoto, max_side: int) -> Upload:
    """The photo as a remote generator takes it: a JPEG, PNG or WebP at most `max_side`
    pixels on its long side."""
    content_type = sniff_content_type(photo.data)
    if (
        content_type in UPLOAD_TYPES
        and len(photo.data) <= MAX_UPLOAD_BYTES
        and max(photo.image.size) <= max_side
    ):
        return Upload(photo.data, content_type)
    image = photo.image
    if max(image.size) > max_side:
        image = resize_long_side(image, max_side)
    return Upload(encode_image(image, "JPEG"), "image/jpeg")
