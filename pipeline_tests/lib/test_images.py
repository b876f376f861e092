"""Every kind of bad or unusual input becomes RGB or a clear one-line ImageError."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.lib.core.images import (
    MIN_SIDE,
    ImageError,
    content_type_for,
    decode_image,
    encode_image,
    load_image_file,
    resize_long_side,
    sniff_content_type,
)

SAMPLES = Path(__file__).parents[2] / "pipeline" / "lib" / "sources" / "sample_photos"


def _rgb(w: int = 80, h: int = 60, seed: int = 0) -> Image.Image:
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return Image.fromarray(arr)


def _save(img: Image.Image, fmt: str = "PNG", **opts: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **opts)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and header claiming a huge size, with almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _assert_one_line_error(exc: pytest.ExceptionInfo[ImageError], *words: str) -> None:
    message = str(exc.value)
    assert message and "\n" not in message and len(message) < 300
    for word in words:
        assert word in message.lower()


def test_sample_photo_loads_as_rgb() -> None:
    img = load_image_file(SAMPLES / "coffee.jpg")
    assert img.mode == "RGB" and img.size == (600, 400)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_file_is_a_clear_error(fmt: str) -> None:
    data = _save(_rgb(400, 300), fmt)
    with pytest.raises(ImageError) as exc:
        decode_image(data[: len(data) // 2])
    _assert_one_line_error(exc, "truncated")


def test_file_cut_inside_its_header_is_a_clear_error() -> None:
    with pytest.raises(ImageError) as exc:
        decode_image(_save(_rgb(), "PNG")[:30])
    _assert_one_line_error(exc)


@pytest.mark.parametrize(
    "data", [b"", b"hello, world", b"<html><body>not found</body></html>" * 20, b"%PDF-1.7\n"]
)
def test_non_images_are_a_clear_error(data: bytes) -> None:
    with pytest.raises(ImageError) as exc:
        decode_image(data)
    _assert_one_line_error(exc)


@pytest.mark.parametrize("size", [(31, 100), (100, 31), (8, 8)])
def test_images_under_32_px_are_refused(size: tuple[int, int]) -> None:
    with pytest.raises(ImageError) as exc:
        decode_image(_save(_rgb(*size)))
    _assert_one_line_error(exc, "32 px")


def test_exactly_min_side_is_accepted() -> None:
    assert decode_image(_save(_rgb(MIN_SIDE, MIN_SIDE))).size == (MIN_SIDE, MIN_SIDE)


@pytest.mark.parametrize("side", [7_000, 12_000, 60_000])
def test_decompression_bombs_are_refused_from_the_header(side: int) -> None:
    """7k² is over our cap; 12k² also trips Pillow's warning, 60k² its hard error."""
    with pytest.raises(ImageError) as exc:
        decode_image(_png_header_only(side, side))
    _assert_one_line_error(exc, "megapixel")


def test_pixel_cap_is_configurable() -> None:
    data = _save(_rgb(200, 100))
    with pytest.raises(ImageError):
        decode_image(data, max_pixels=10_000)
    assert decode_image(data, max_pixels=20_000).size == (200, 100)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as exc:
        load_image_file(tmp_path / "nope.jpg")
    _assert_one_line_error(exc, "no such file")
    with pytest.raises(ImageError) as exc:
        load_image_file(tmp_path)
    _assert_one_line_error(exc, "not a file")
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(ImageError) as exc:
        load_image_file(text)
    _assert_one_line_error(exc, "notes.jpg", "not an image")


def test_grayscale_becomes_grey_rgb() -> None:
    img = decode_image(_save(_rgb().convert("L")))
    arr = np.asarray(img)
    assert img.mode == "RGB"
    assert np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2])


def test_palette_becomes_rgb_with_its_colours() -> None:
    pal = Image.new("P", (40, 40))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(1, (20, 0, 40, 40))
    arr = np.asarray(decode_image(_save(pal)))
    assert tuple(arr[0, 0]) == (255, 0, 0) and tuple(arr[0, 39]) == (0, 0, 255)


def test_cmyk_jpeg_becomes_rgb() -> None:
    red = Image.new("RGB", (40, 40), (200, 30, 30))
    img = decode_image(_save(red.convert("CMYK"), "JPEG", quality=95))
    r, g, b = np.asarray(img).reshape(-1, 3).mean(axis=0)
    assert img.mode == "RGB" and r > 150 and g < 80 and b < 80


def _half_transparent_red(mode: str) -> bytes:
    arr = np.zeros((40, 40, 4), np.uint8)
    arr[..., 0] = 255
    arr[20:, :, 3] = 255  # top half fully transparent, bottom half opaque red
    rgba = Image.fromarray(arr)
    if mode == "RGBA":
        return _save(rgba)
    return _save(rgba.convert(mode), "TIFF")  # PNG cannot store PA; TIFF can


@pytest.mark.parametrize("mode", ["RGBA", "PA"])
def test_alpha_is_composited_on_white(mode: str) -> None:
    arr = np.asarray(decode_image(_half_transparent_red(mode)))
    assert tuple(arr[5, 5]) == (255, 255, 255)
    assert arr[35, 5, 0] > 240 and arr[35, 5, 1] < 15


def test_grey_with_alpha_is_composited_on_white() -> None:
    la = Image.new("LA", (40, 40), (0, 0))
    la.paste((0, 255), (0, 20, 40, 40))
    arr = np.asarray(decode_image(_save(la)))
    assert tuple(arr[5, 5]) == (255, 255, 255) and tuple(arr[35, 5]) == (0, 0, 0)


def test_palette_with_transparent_index_is_composited_on_white() -> None:
    pal = Image.new("P", (40, 40), 0)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    pal.paste(1, (0, 20, 40, 40))
    data = _save(pal, transparency=0)
    arr = np.asarray(decode_image(data))
    assert tuple(arr[5, 5]) == (255, 255, 255) and tuple(arr[35, 5]) == (0, 200, 0)


def test_16_bit_grayscale_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 64), (40, 1)).astype(np.uint16)
    img16 = Image.fromarray(ramp)
    assert img16.mode.startswith("I;16")
    arr = np.asarray(decode_image(_save(img16)))[..., 0]
    assert arr[0, 0] == 0 and arr[0, -1] == 255 and 120 <= arr[0, 32] <= 135


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (60, 40), "red")
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    assert decode_image(_save(img, "JPEG", exif=exif)).size == (40, 60)


def test_animated_gif_uses_its_first_frame() -> None:
    frames = [Image.new("RGB", (40, 40), c) for c in ("red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    r, _, b = np.asarray(decode_image(buf.getvalue()))[0, 0]
    assert r > 200 and b < 50


def test_sniff_content_type_by_magic_bytes() -> None:
    img = _rgb()
    assert sniff_content_type(_save(img, "JPEG")) == "image/jpeg"
    assert sniff_content_type(_save(img, "PNG")) == "image/png"
    assert sniff_content_type(_save(img, "WEBP")) == "image/webp"
    assert sniff_content_type(_save(img, "GIF")) == "image/gif"
    assert sniff_content_type(b"hello") is None


def test_encode_and_content_types_round_trip() -> None:
    rgba = Image.new("RGBA", (50, 40), (10, 20, 30, 128))
    for fmt in ("PNG", "JPEG", "WEBP"):
        data = encode_image(rgba, fmt)
        assert sniff_content_type(data) == content_type_for(fmt)
        assert decode_image(data).size == (50, 40)
    assert content_type_for("jpg") == "image/jpeg" and content_type_for(".webp") == "image/webp"
    with pytest.raises(ValueError):
        content_type_for("nope")


@pytest.mark.parametrize(
    ("size", "long_side", "expected"),
    [
        ((600, 400), 256, (256, 171)),
        ((400, 600), 256, (171, 256)),
        ((100, 50), 300, (300, 150)),
    ],
)
def test_resize_long_side_keeps_aspect(
    size: tuple[int, int], long_side: int, expected: tuple[int, int]
) -> None:
    assert resize_long_side(_rgb(*size), long_side).size == expected
