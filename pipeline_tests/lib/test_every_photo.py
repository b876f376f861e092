"""Every photo the sources accept, made into a look-alike: a 20:1 panorama, a 1:20 strip,
the smallest and the largest size, and every colour mode, through both offline generators
(the look-alike keeps the photo's aspect ratio and decodes like any stored image), and into
the payloads sent to OpenAI and img2img. A photo no generator can take fails for good, in
one line."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from pipeline.lib.billing.pricing import DEFAULT_PRICES, PriceTable
from pipeline.lib.core.images import MAX_PIXELS, MIN_SIDE, decode_image, encode_image
from pipeline.lib.day.photo_work import with_aspect_of
from pipeline.lib.db import Outcome
from pipeline.lib.failures import GenerationError
from pipeline.lib.generators import ImageGenerator, LoadedPhoto
from pipeline.lib.generators.img2img import Img2ImgConfig, Img2ImgGenerator
from pipeline.lib.generators.offline import MAX_ASPECT
from pipeline.lib.generators.openai_config import OpenAIImagesConfig
from pipeline.lib.generators.openai_images import OpenAIImagesGenerator
from pipeline.lib.generators.transfer import UPLOAD_TYPES, upload_of
from testbed.img2img_server import Img2ImgImitation
from testbed.openai_server import TEST_API_KEY, OpenAIImitation

SHAPES = {
    "panorama-20-1": (4000, 200),
    "strip-1-20": (200, 4000),
    "smallest": (MIN_SIDE, MIN_SIDE),
    "largest": (8000, 5000),  # MAX_PIXELS exactly
}
# Every colour mode the sources' decoding reads, in a format such files come in.
MODES = {
    "1": "PNG",
    "L": "PNG",
    "LA": "PNG",
    "P": "GIF",
    "RGB": "JPEG",
    "RGBA": "WEBP",
    "CMYK": "JPEG",
    "I;16": "PNG",
    "I": "TIFF",
    "F": "TIFF",
}
OUTPUT = 64  # long side of the offline look-alikes: small keeps these quick


def photo_file(size: tuple[int, int], mode: str = "RGB", fmt: str = "PNG") -> bytes:
    """A photo with some structure (two shapes on a ground), as a file in `mode`; flat
    areas keep even 40 megapixels quick to write and read."""
    w, h = size
    image = Image.new("RGB", size, (90, 120, 160))
    image.paste((200, 60, 30), (w // 4, h // 4, w // 2, h // 2))
    image.paste((30, 30, 30), (w // 2, h // 2, w - w // 8, h - h // 8))
    if mode == "I;16":
        return encode_image(image.convert("I").point(lambda v: v * 256).convert("I;16"), fmt)
    if mode in ("I", "F"):
        return encode_image(image.convert("L").convert(mode), fmt)
    if mode in ("LA", "RGBA"):
        converted = image.convert(mode)
        converted.putalpha(180)
        return encode_image(converted, fmt)
    return encode_image(image.convert(mode), fmt)


def accepted(data: bytes) -> LoadedPhoto:
    """What a source hands on: the file through the one decoder (refused if not accepted)."""
    return LoadedPhoto(image=decode_image(data), data=data, content_type="", seed=3)


def offline(name: str) -> ImageGenerator:
    if name == "patch-remix":
        from pipeline.lib.generators.patch_remix.generator import PatchRemixGenerator

        return PatchRemixGenerator(work_size=32, output_size=OUTPUT, max_attempts=1)
    from pipeline.lib.generators.style_transfer.generator import StyleTransferGenerator

    return StyleTransferGenerator(output_size=OUTPUT, style=2, max_attempts=1)


GENERATORS = ("patch-remix", "style-transfer")


@pytest.fixture(scope="module", params=GENERATORS)
def generator(request: pytest.FixtureRequest) -> ImageGenerator:
    return offline(request.param)


@pytest.fixture(scope="module")
def largest_photo() -> LoadedPhoto:
    size = SHAPES["largest"]
    assert size[0] * size[1] == MAX_PIXELS
    return accepted(photo_file(size))


def assert_a_look_alike_of(made: Image.Image, size: tuple[int, int]) -> None:
    """Of the photo's aspect ratio (to the pixel), at least MIN_SIDE across, and decodable
    the way the gallery and the checks read a stored look-alike."""
    (w, h), (pw, ph) = made.size, size
    assert min(w, h) >= MIN_SIDE
    assert abs(w - h * pw / ph) <= 1 or abs(h - w * ph / pw) <= 1, (made.size, size)
    assert decode_image(encode_image(made, "PNG")).size == made.size


# Each runs a real offline generator (style transfer's gate runs the image network three
# times): about a second apiece, so `make test-fast` leaves them to `make test`.
@pytest.mark.slow
@pytest.mark.parametrize("shape", list(SHAPES))
def test_an_offline_generator_takes_every_shape(
    generator: ImageGenerator, shape: str, request: pytest.FixtureRequest
) -> None:
    size = SHAPES[shape]
    if shape == "largest":  # written and read once for both generators
        photo = request.getfixturevalue("largest_photo")
    else:
        photo = accepted(photo_file(size))
    made = generator.generate(photo)
    assert_a_look_alike_of(made.image, size)
    if shape != "largest":  # the long side is the output size unless 32 px across needs more
        assert max(made.image.size) == max(OUTPUT, round(MIN_SIDE * max(size) / min(size)))


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(MODES))
def test_an_offline_generator_takes_every_colour_mode(generator: ImageGenerator, mode: str) -> None:
    data = photo_file((48, 32), mode, MODES[mode])
    assert Image.open(io.BytesIO(data)).mode == mode  # the file really is in that mode
    made = generator.generate(accepted(data))
    assert made.image.mode == "RGB"
    assert_a_look_alike_of(made.image, (48, 32))


@pytest.mark.parametrize("name", GENERATORS)
def test_a_photo_beyond_what_it_can_take_fails_for_good_in_one_line(name: str) -> None:
    size = (MIN_SIDE * (MAX_ASPECT + 1), MIN_SIDE)
    with pytest.raises(GenerationError) as caught:
        offline(name).generate(accepted(photo_file(size)))
    assert caught.value.outcome is Outcome.FAILED
    assert f"up to {MAX_ASPECT}:1" in str(caught.value) and "\n" not in str(caught.value)


# The payloads of the remote generators


@pytest.mark.parametrize("case", [*SHAPES, *(f"mode-{m}" for m in MODES)])
def test_the_upload_is_a_file_every_server_reads_with_the_photos_shape(case: str) -> None:
    mode = case.removeprefix("mode-") if case.startswith("mode-") else "RGB"
    size = SHAPES.get(case, (48, 32))
    if case == "largest":
        size = (4000, 2500)  # the same path as 40 MP: it is only resized, quicker
    photo = accepted(photo_file(size, mode, MODES[mode] if case.startswith("mode-") else "PNG"))
    upload = upload_of(photo, max_side=1536)
    assert upload.content_type in UPLOAD_TYPES
    with Image.open(io.BytesIO(upload.data)) as sent:
        assert sent.mode in ("RGB", "L") and max(sent.size) <= 1536
        assert_a_look_alike_of(sent.convert("RGB"), size)


@pytest.fixture(scope="module")
def img2img() -> Iterator[Img2ImgImitation]:
    with Img2ImgImitation() as imitation:
        yield imitation


@pytest.fixture(scope="module")
def openai_server() -> Iterator[OpenAIImitation]:
    with OpenAIImitation() as imitation:
        yield imitation


def remote(kind: str, img2img: Img2ImgImitation, openai_server: OpenAIImitation) -> Any:
    if kind == "img2img":
        config = Img2ImgConfig(base_url=img2img.base_url, long_side=512, timeout_s=5)
        return Img2ImgGenerator(config), img2img
    config = OpenAIImagesConfig(
        api_key=TEST_API_KEY, base_url=openai_server.base_url, size="128x128", quality="low"
    )
    prices = PriceTable(DEFAULT_PRICES, unpriced_call_usd=0.25)
    return OpenAIImagesGenerator(config, prices=prices), openai_server


@pytest.mark.parametrize("shape", ["panorama-20-1", "strip-1-20", "smallest"])
@pytest.mark.parametrize("kind", ["img2img", "openai"])
def test_a_remote_generator_sends_every_shape_and_the_look_alike_keeps_it(
    kind: str, shape: str, img2img: Img2ImgImitation, openai_server: OpenAIImitation
) -> None:
    generator, server = remote(kind, img2img, openai_server)
    size = SHAPES[shape]
    server.clear()
    made = generator.generate(accepted(photo_file(size)))
    [request] = server.requests
    if kind == "img2img":
        sent = base64.b64decode(request.json["init_images"][0])
    else:
        [part] = request.files
        sent = part.data
    with Image.open(io.BytesIO(sent)) as image:
        assert_a_look_alike_of(image.convert("RGB"), size)
    assert_a_look_alike_of(with_aspect_of(made.image, size), size)
