"""The img2img generator (A1111 / Forge / SD.Next) against the imitation server on 127.0.0.1."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from pipeline.lib.db import Outcome
from pipeline.lib.failures import GenerationError, GeneratorUnavailable
from pipeline.lib.generators import LoadedPhoto
from pipeline.lib.generators.img2img import (
    NO_PRICE,
    Img2ImgConfig,
    Img2ImgGenerator,
    output_size,
)
from pipeline_tests.conftest import free_port
from testbed.img2img_server import Img2ImgImitation


@pytest.fixture
def server() -> Iterator[Img2ImgImitation]:
    with Img2ImgImitation(slow_s=0.6) as imitation:
        yield imitation


def photo(description: str | None = "Chelsea the cat, close-up") -> LoadedPhoto:
    image = Image.new("RGB", (120, 80), (200, 90, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return LoadedPhoto(
        image=image,
        data=buffer.getvalue(),
        content_type="image/jpeg",
        seed=4242,
        description=description,
    )


def generator(server: Img2ImgImitation, sleeps: list[float] | None = None, **overrides: Any):
    config = Img2ImgConfig(base_url=server.base_url, long_side=128, timeout_s=0.3, max_retries=2)
    delays = sleeps if sleeps is not None else []
    return Img2ImgGenerator(config.model_copy(update=overrides), sleep=delays.append)


def test_a_look_alike_with_the_photo_as_init_image(server: Img2ImgImitation) -> None:
    result = generator(server, sampler="DPM++ 2M", checkpoint="sdxl_base").generate(photo())

    [request] = server.requests
    body = request.json
    assert request.path == "/sdapi/v1/img2img"
    sent = base64.b64decode(body["init_images"][0])
    assert sent.startswith(b"\xff\xd8\xff")  # the photo itself, base64 without a data URL
    assert (body["width"], body["height"]) == (128, 64)
    assert body["seed"] == 4242  # the photo's stable seed: a retry draws the same image
    assert body["denoising_strength"] == 0.6 and body["steps"] == 30
    assert body["sampler_name"] == "DPM++ 2M"
    assert body["override_settings"] == {"sd_model_checkpoint": "sdxl_base"}
    assert body["prompt"].startswith("Chelsea the cat, close-up, ")

    assert result.image.size == (128, 64)
    assert (result.generator, result.strategy) == ("img2img", "img2img")
    assert result.model == "sdxl_imitation"  # from the server's info
    assert result.prompt == body["prompt"]
    assert result.usage is not None and result.usage["seed"] == 4242
    # No price set: $0, and the details say why (not "free" by accident).
    assert result.cost_usd == 0.0 and result.usage["price"] == "self-hosted, no price set"
    priced = generator(server, price_per_image_usd=0.02).generate(photo())
    assert priced.cost_usd == 0.02 and priced.usage is not None and "price" not in priced.usage


def test_output_size_keeps_the_aspect_ratio_in_multiples_of_64() -> None:
    assert output_size((6000, 4000), 1024) == (1024, 704)
    assert output_size((400, 600), 512) == (320, 512)
    assert output_size((5000, 100), 512) == (512, 64)


def test_basic_auth_from_config(server: Img2ImgImitation) -> None:
    server.auth = ("doppel", "s3cret")
    assert generator(server, auth=("doppel", "s3cret")).generate(photo()).image.size == (128, 64)
    with pytest.raises(GeneratorUnavailable, match="DOPPEL_IMG2IMG_AUTH") as caught:
        generator(server, auth=("doppel", "wrong")).generate(photo())
    assert "wrong" not in str(caught.value) and "s3cret" not in str(caught.value)
    assert [r.status for r in server.requests] == [200, 401]  # 401 is not retried


def test_server_errors_are_retried_then_succeed(server: Img2ImgImitation) -> None:
    server.add_fault("server_error")
    server.add_fault("bad_gateway")
    sleeps: list[float] = []
    assert generator(server, sleeps).generate(photo()).image.size == (128, 64)
    assert [r.status for r in server.requests] == [500, 502, 200]
    assert len(sleeps) == 2


def test_persistent_server_errors_leave_the_photo_waiting(server: Img2ImgImitation) -> None:
    server.add_fault("server_error", times=10)
    with pytest.raises(GenerationError) as caught:
        generator(server).generate(photo())
    assert caught.value.outcome is Outcome.WAITING and "CUDA out of memory" in str(caught.value)
    assert len(server.requests) == 3


def test_slow_answers_time_out_and_are_not_sent_again_at_once(server: Img2ImgImitation) -> None:
    server.add_fault("slow", times=10)
    with pytest.raises(GenerationError, match=r"did not answer within 0\.3s") as caught:
        generator(server, max_retries=1).generate(photo())
    assert caught.value.outcome is Outcome.WAITING and "may have been billed" in str(caught.value)
    assert len(server.requests) == 1  # the server may finish (and bill) it: no retry now


def test_a_connection_reset_is_retried(server: Img2ImgImitation) -> None:
    server.add_fault("reset")
    assert generator(server).generate(photo()).image.size == (128, 64)
    server.add_fault("reset", times=10)
    with pytest.raises(GenerationError, match="dropped the connection") as caught:
        generator(server).generate(photo())
    assert caught.value.outcome is Outcome.WAITING


def test_no_server_stops_the_day() -> None:
    config = Img2ImgConfig(base_url=f"http://127.0.0.1:{free_port()}", max_retries=1)
    with pytest.raises(GeneratorUnavailable, match="--api"):
        Img2ImgGenerator(config, sleep=lambda _: None).generate(photo())


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ("malformed_json", "malformed JSON"),
        ("empty_images", "no image"),
        ("broken_base64", "broken base64"),
        ("truncated_png", "truncated"),
    ],
)
def test_a_broken_answer_fails_the_photo(server: Img2ImgImitation, fault: str, needle: str) -> None:
    server.add_fault(fault)
    with pytest.raises(GenerationError) as caught:
        generator(server).generate(photo())
    assert needle in str(caught.value) and caught.value.outcome is Outcome.WAITING
    assert len(server.requests) == 1


def test_info_that_is_not_json_costs_the_details_not_the_image(server: Img2ImgImitation) -> None:
    server.add_fault("info_not_json")
    result = generator(server, checkpoint="my_model").generate(photo(description=None))
    assert result.image.size == (128, 64)
    assert result.usage == {"info_error": "info is not valid JSON", "price": NO_PRICE}
    assert result.model == "my_model"
    assert result.prompt == "a high quality photograph, natural light, detailed"


def test_an_unknown_sampler_stops_the_day(server: Img2ImgImitation) -> None:
    with pytest.raises(GeneratorUnavailable, match="Sampler not found"):
        generator(server, sampler="No Such Sampler").generate(photo())
    assert len(server.requests) == 1


def test_a_server_without_the_api_stops_the_day(server: Img2ImgImitation) -> None:
    gen = generator(server, base_url=server.base_url + "/wrong-prefix")
    with pytest.raises(GeneratorUnavailable, match="start it with --api"):
        gen.generate(photo())
