"""Images crossing the wire to and from remote generators.

Going out, a photo is sent as its own bytes when they are a JPEG/PNG/WebP of reasonable size
(the MIME type is read from the bytes, never trusted from the source), else re-encoded.

Coming back, a look-alike arrives as base64 text. It must decode, be a PNG/JPEG/WebP by its
magic bytes, open completely (a truncated file fails here, not in the gallery), and have a
sane size. Anything else is a `GenerationError` for that photo: an unusable reply, which a
later run may replace with a whole image (within the photo's paid cap).
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

from PIL import Image

from pipeline.lib.core.images import (
    MIN_SIDE,
    ImageError,
    decode_image,
    encode_image,
    resize_long_side,
    sniff_content_type,
)
from pipeline.lib.failures import GenerationError
from pipeline.lib.generators import LoadedPhoto

UPLOAD_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # well under OpenAI's 50 MB; bigger photos are re-encoded

RESULT_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
MIN_RESULT_SIDE = 64
MAX_RESULT_SIDE = 4096
MAX_RESULT_PIXELS = 3840 * 2160
MAX_ASPECT = 4.0  # the APIs allow 3:1; a little slack for servers that round
ASPECT_SLACK = 1.25  # when the size was asked for: the answer's aspect within this factor
# Colour modes sent as they are; any other (CMYK, 16-bit, alpha, palette...) is re-encoded
# from the decoded RGB pixels, which every server reads alike.
UPLOAD_MODES = frozenset({"RGB", "L"})


def image_from_base64(
    text: object, *, origin: str, asked: tuple[int, int] | None = None
) -> Image.Image:
    """Decode and validate one base64 image; `origin` names the server in error messages,
    `asked` is the size requested, if the request named one (a panorama may be 16:1)."""
    if not isinstance(text, str) or not text.strip():
        raise GenerationError(f"{origin} returned no image data", happened="unusable_reply")
    payload = text.strip()
    if payload.startswith("data:"):  # some servers send a data URL
        payload = payload.partition(",")[2]
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GenerationError(
            f"{origin} returned broken base64 ({exc})", happened="unusable_reply"
        ) from exc
    content_type = sniff_content_type(data)
    if content_type not in RESULT_TYPES:
        raise GenerationError(
            f"{origin} returned {len(data)} bytes that are not a PNG, JPEG or WebP image",
            happened="unusable_reply",
        )
    try:
        image = decode_image(data, max_pixels=MAX_RESULT_PIXELS, min_side=MIN_RESULT_SIDE)
    except ImageError as exc:
        message = f"{origin} returned an unusable image: {exc}"
        raise GenerationError(message, happened="unusable_reply") from exc
    width, height = image.size
    if max(width, height) > MAX_RESULT_SIDE or not _plausible_shape(image.size, asked):
        raise GenerationError(
            f"{origin} returned an image of implausible size {width}x{height}",
            happened="unusable_reply",
        )
    return image


def _plausible_shape(size: tuple[int, int], asked: tuple[int, int] | None) -> bool:
    (w, h), (aw, ah) = size, asked or (1, 1)
    if asked is None:
        return max(w, h) / min(w, h) <= MAX_ASPECT
    ratio = (w / h) / (aw / ah)
    return 1 / ASPECT_SLACK <= ratio <= ASPECT_SLACK


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
    """The photo as a remote generator takes it: a JPEG, PNG or WebP in RGB or grey, at most
    `max_side` pixels on its long side (and at least `MIN_SIDE` on its short side: a
    panorama stays a panorama)."""
    content_type = sniff_content_type(photo.data)
    if (
        content_type in UPLOAD_TYPES
        and len(photo.data) <= MAX_UPLOAD_BYTES
        and max(photo.image.size) <= max_side
        and _mode_of(photo.data) in UPLOAD_MODES
    ):
        return Upload(photo.data, content_type)
    image = photo.image.convert("RGB")  # decoded photos are RGB already
    if max(image.size) > max_side:
        image = resize_long_side(image, max_side, min_short=MIN_SIDE)
    return Upload(encode_image(image, "JPEG"), "image/jpeg")


def _mode_of(data: bytes) -> str | None:
    """The colour mode the file declares (its header only; nothing is decoded)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return str(image.mode)
    except Exception:  # not readable as it is: re-encoded from the decoded pixels
        return None
