"""The OpenAI generator through the real SDK against the imitation server on 127.0.0.1:
both strategies, what goes over the wire, and every fault of the external-apis notes §4."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from PIL import Image

from pipeline.lib.billing.budget import DailyBudget
from pipeline.lib.billing.ledger import Ledger, PaidAttemptCapReached
from pipeline.lib.billing.pricing import DEFAULT_PRICES, PriceTable
from pipeline.lib.db import Database, Outcome
from pipeline.lib.failures import GenerationError, GeneratorUnavailable
from pipeline.lib.generators import LoadedPhoto
from pipeline.lib.generators.openai_config import OpenAIImagesConfig
from pipeline.lib.generators.openai_images import OpenAIImagesGenerator
from testbed.openai_server import TEST_API_KEY, OpenAIImitation

PRICES = PriceTable(DEFAULT_PRICES, unpriced_call_usd=0.25)
EDITS, GENERATIONS, CHAT = "/v1/images/edits", "/v1/images/generations", "/v1/chat/completions"


@pytest.fixture
def server() -> Iterator[OpenAIImitation]:
    with OpenAIImitation(slow_s=1.6) as imitation:
        yield imitation


def photo(fmt: str = "JPEG", size: tuple[int, int] = (96, 64), **extra: Any) -> LoadedPhoto:
    image = Image.new("RGB", size, (20, 120, 200))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    fields: dict[str, Any] = {"content_type": f"image/{fmt.lower()}", "seed": 7, "name": "p1"}
    fields |= extra
    return LoadedPhoto(image=image, data=buffer.getvalue(), **fields)


def generator(
    server: OpenAIImitation,
    *,
    budget: DailyBudget | None = None,
    sleeps: list[float] | None = None,
    ledger: Ledger | None = None,
    **overrides: Any,
) -> OpenAIImagesGenerator:
    config = OpenAIImagesConfig(
        api_key=TEST_API_KEY,
        base_url=server.base_url,
        size="128x128",
        quality="low",
        timeout_s=1.0,  # well above a loaded machine's answer time: a timeout is billed
        max_retries=2,
        max_reply_bytes=512 * 1024,
    )
    delays = sleeps if sleeps is not None else []
    return OpenAIImagesGenerator(
        config.model_copy(update=overrides),
        prices=PRICES,
        budget=budget,
        ledger=ledger,
        sleep=delays.append,
    )


OVERSIZED = (
    "a reply that grew past the 524,288-byte cap while it was read "
    "(DOPPEL_OPENAI_MAX_REPLY_BYTES); it was billed"
)


# The two strategies and what they send


def test_edit_sends_the_photo_as_an_image_part_and_records_what_it_cost(
    server: OpenAIImitation,
) -> None:
    result = generator(server).generate(photo(description="A red boat\non a lake"))

    [request] = server.requests
    assert request.path == EDITS
    [part] = request.files
    assert (part.field, part.filename, part.content_type) == ("image", "photo.jpg", "image/jpeg")
    assert request.form["model"] == "gpt-image-2"
    assert (request.form["size"], request.form["quality"], request.form["n"]) == (
        "128x128",
        "low",
        "1",
    )
    assert "input_fidelity" not in request.form  # gpt-image-2 rejects it
    assert "The photo shows: A red boat on a lake." in request.form["prompt"]

    assert result.image.size == (128, 128)
    assert (result.generator, result.model, result.strategy) == ("openai", "gpt-image-2", "edit")
    assert result.prompt == request.form["prompt"]
    assert result.request_id == request.response_headers["x-request-id"]
    usage = result.usage or {}
    assert usage["input_tokens_details"]["image_tokens"] == 1000
    # gpt-image-2 is token-priced: $5 text in, $8 image in, $30 image out per million.
    text_in, image_out = usage["input_tokens_details"]["text_tokens"], usage["output_tokens"]
    expected = (text_in * 5 + 1000 * 8 + image_out * 30) / 1_000_000
    assert result.cost_usd == pytest.approx(expected)
    assert result.seconds is not None


def test_upload_mime_type_is_read_from_the_bytes_and_odd_formats_are_re_encoded(
    server: OpenAIImitation,
) -> None:
    gen = generator(server)
    gen.generate(photo("PNG", content_type="application/octet-stream"))
    gen.generate(photo("GIF", content_type="image/gif"))
    png, gif = (r.files[0] for r in server.requests)
    assert (png.filename, png.content_type) == ("photo.png", "image/png")
    assert (gif.filename, gif.content_type) == ("photo.jpg", "image/jpeg")
    assert gif.data.startswith(b"\xff\xd8\xff")


def test_large_photos_are_downscaled_before_upload(server: OpenAIImitation) -> None:
    generator(server, max_upload_side=64).generate(photo(size=(200, 100)))
    with Image.open(io.BytesIO(server.requests[0].files[0].data)) as sent:
        assert sent.size == (64, 32)


def test_the_imitation_rejects_a_part_without_an_image_mime_type_like_the_api(
    server: OpenAIImitation,
) -> None:
    client = openai.OpenAI(api_key=TEST_API_KEY, base_url=server.base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.edit(model="gpt-image-2", image=photo().data, prompt="x", size="128x128")
    assert caught.value.code == "unsupported_file_mimetype"
    assert "unsupported mimetype ('application/octet-stream')" in caught.value.message
    assert server.requests[0].files[0].content_type == "application/octet-stream"


def test_a_mime_type_rejection_fails_the_photo_without_retrying(server: OpenAIImitation) -> None:
    server.add_fault("unsupported_mimetype")
    with pytest.raises(GenerationError) as caught:
        generator(server).generate(photo())
    assert caught.value.outcome is Outcome.FAILED
    assert "unsupported_file_mimetype" in str(caught.value)
    assert len(server.requests) == 1


def test_input_fidelity_is_sent_when_configured(server: OpenAIImitation) -> None:
    gen = generator(server, image_model="gpt-image-1.5", input_fidelity="high", size="1024x1024")
    result = gen.generate(photo())
    assert server.requests[0].form["input_fidelity"] == "high"
    assert result.cost_usd == 0.009  # per image: gpt-image-1.5, low, 1024x1024


def test_describe_then_generate_records_both_calls(server: OpenAIImitation) -> None:
    # A priced vision model, so the describe call's cost can be checked below.
    result = generator(server, strategy="describe", vision_model="gpt-5-mini").generate(photo())

    chat, generation = server.requests
    assert (chat.path, generation.path) == (CHAT, GENERATIONS)
    assert chat.json["model"] == "gpt-5-mini"
    parts = chat.json["messages"][0]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    description = "A close-up photograph of a small subject on a wooden table"
    assert generation.json["prompt"].startswith(f"A new photograph: {description}")
    assert generation.json["model"] == "gpt-image-2"

    assert (result.strategy, result.prompt) == ("describe", generation.json["prompt"])
    usage = result.usage or {}
    assert usage["describe"]["model"] == "gpt-5-mini"
    assert usage["describe"]["request_id"] == chat.response_headers["x-request-id"]
    assert result.request_id == generation.response_headers["x-request-id"]
    describe_cost = (900 * 0.25 + 420 * 2.0) / 1_000_000
    assert (result.cost_usd or 0) > describe_cost


def test_a_vision_refusal_marks_the_photo_refused(server: OpenAIImitation) -> None:
    server.add_fault("refusal", path=CHAT)
    with pytest.raises(GenerationError) as caught:
        generator(server, strategy="describe").generate(photo())
    assert caught.value.outcome is Outcome.REFUSED
    assert [r.path for r in server.requests] == [CHAT]


def test_base_url_can_come_from_openai_base_url(
    server: OpenAIImitation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    generator(server, base_url=None).generate(photo())
    assert len(server.requests) == 1


# Faults


def test_rate_limit_is_retried_honouring_retry_after(server: OpenAIImitation) -> None:
    server.retry_after = 0.25
    server.add_fault("rate_limited", times=2)
    sleeps: list[float] = []
    result = generator(server, sleeps=sleeps).generate(photo())
    assert result.image.size == (128, 128)
    assert [r.status for r in server.requests] == [429, 429, 200]
    assert [r.retry_count for r in server.requests] == [0, 1, 2]
    assert sleeps == [0.25, 0.25]


def test_a_retry_after_longer_than_the_cap_is_not_waited_for(server: OpenAIImitation) -> None:
    server.retry_after = 600
    server.add_fault("rate_limited", times=10)
    sleeps: list[float] = []
    with pytest.raises(GenerationError) as caught:
        generator(server, sleeps=sleeps).generate(photo())
    assert caught.value.outcome is Outcome.WAITING and "asked to wait over 60s, after 1 try" in str(
        caught.value
    )
    assert sleeps == [] and len(server.requests) == 1


def test_rate_limit_beyond_the_retry_budget_leaves_the_photo_waiting(
    server: OpenAIImitation,
) -> None:
    server.add_fault("rate_limited", times=10)
    with pytest.raises(GenerationError) as caught:
        generator(server, max_retries=1).generate(photo())
    assert caught.value.outcome is Outcome.WAITING
    assert "rate_limit_exceeded" in str(caught.value) and "2 tries" in str(caught.value)
    assert len(server.requests) == 2


def test_insufficient_quota_stops_the_day_without_retrying(server: OpenAIImitation) -> None:
    server.add_fault("insufficient_quota", times=10)
    with pytest.raises(GeneratorUnavailable, match="out of quota"):
        generator(server).generate(photo())
    assert len(server.requests) == 1


def test_a_bad_key_stops_the_day_and_never_repeats_the_key(server: OpenAIImitation) -> None:
    with pytest.raises(GeneratorUnavailable) as caught:
        generator(server, api_key="sk-proj-wrongkey-TOPSECRET-9876").generate(photo())
    message = str(caught.value)
    assert "HTTP 401" in message and "OPENAI_API_KEY" in message
    assert "TOPSECRET" not in message and "9876" not in message
    assert len(server.requests) == 1


@pytest.mark.parametrize("fault", ["server_error", "bad_gateway", "overloaded"])
def test_server_errors_are_retried_then_succeed(server: OpenAIImitation, fault: str) -> None:
    server.add_fault(fault)
    assert generator(server).generate(photo()).image.size == (128, 128)
    assert len(server.requests) == 2


def test_persistent_502_html_leaves_the_photo_waiting(server: OpenAIImitation) -> None:
    server.add_fault("bad_gateway", times=10)
    with pytest.raises(GenerationError) as caught:
        generator(server).generate(photo())
    assert caught.value.outcome is Outcome.WAITING and "HTTP 502" in str(caught.value)
    assert "<html>" not in str(caught.value)
    assert len(server.requests) == 3


def test_a_timeout_may_have_been_billed_so_it_is_not_sent_again_at_once(
    server: OpenAIImitation,
) -> None:
    server.add_fault("slow")
    budget = DailyBudget(10.0)
    with pytest.raises(GenerationError) as caught:
        generator(server, budget=budget, max_retries=2).generate(photo())
    assert caught.value.outcome is Outcome.WAITING and "timeout after send" in str(caught.value)
    assert "may have finished and billed" in str(caught.value)
    assert len(server.requests) == 1
    assert budget.spent_usd > 0  # a timed-out request may have been billed: counted


@pytest.mark.parametrize("times", [1, 10])
def test_a_connection_reset_is_retried(server: OpenAIImitation, times: int) -> None:
    server.add_fault("reset", times=times)
    gen = generator(server)
    if times == 1:
        assert gen.generate(photo()).image.size == (128, 128)
        assert len(server.requests) == 2
    else:
        with pytest.raises(GenerationError, match="connection failed") as caught:
            gen.generate(photo())
        assert caught.value.outcome is Outcome.WAITING
        assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ("malformed_json", "malformed JSON"),
        ("not_json", "non-JSON content"),
        ("empty_data", "empty `data`"),
        ("no_b64", "no image data"),
        ("broken_base64", "broken base64"),
        ("truncated_png", "truncated"),
        ("not_image", "not a PNG, JPEG or WebP"),
        ("oversized", OVERSIZED),
    ],
)
def test_a_broken_answer_fails_the_photo_and_is_not_paid_twice(
    server: OpenAIImitation, fault: str, needle: str
) -> None:
    server.add_fault(fault)
    with pytest.raises(GenerationError) as caught:
        generator(server).generate(photo())
    assert needle in str(caught.value)
    assert caught.value.outcome is Outcome.WAITING
    assert len(server.requests) == 1  # a 200 may have been billed: no immediate retry


def test_moderation_blocked_is_a_refusal_and_not_retried(server: OpenAIImitation) -> None:
    server.add_fault("moderation_blocked", times=10)
    budget = DailyBudget(1.0)
    with pytest.raises(GenerationError) as caught:
        generator(server, budget=budget).generate(photo())
    assert caught.value.outcome is Outcome.REFUSED
    assert "moderation_blocked" in str(caught.value)
    assert len(server.requests) == 1
    assert budget.spent_usd == 0  # an error status is not billed


def test_an_unknown_or_shut_down_model_stops_the_day(server: OpenAIImitation) -> None:
    with pytest.raises(GeneratorUnavailable, match="DOPPEL_OPENAI_IMAGE_MODEL"):
        generator(server, image_model="dall-e-3").generate(photo())
    assert server.requests[0].status == 404


def test_other_bad_requests_stop_the_day(server: OpenAIImitation) -> None:
    # Every photo would be rejected the same way (a setting to fix): one request, no more.
    with pytest.raises(GeneratorUnavailable, match="HTTP 400") as caught:
        generator(server, size="100x100").generate(photo())  # not a multiple of 16
    assert "DOPPEL_OPENAI_" in str(caught.value)
    assert len(server.requests) == 1


def test_missing_usage_falls_back_to_the_estimate(server: OpenAIImitation) -> None:
    server.add_fault("missing_usage")
    result = generator(server).generate(photo())
    assert result.usage is None
    assert result.cost_usd == PRICES.estimate_image(
        "gpt-image-2",
        quality="low",
        size="128x128",
        prompt=result.prompt or "",
        input_fidelity="low",
    )


# The daily budget


def test_no_request_is_sent_once_the_budget_is_spent(server: OpenAIImitation) -> None:
    with pytest.raises(GenerationError) as caught:
        generator(server, budget=DailyBudget(1.0, spent_usd=1.0)).generate(photo())
    assert caught.value.happened == "over_budget"
    assert "DOPPEL_OPENAI_DAILY_BUDGET_USD" in str(caught.value)
    assert server.requests == []


def test_the_budget_holds_under_concurrency(server: OpenAIImitation) -> None:
    server.latency_s = 0.3  # every request is still in flight when the last thread asks
    probe = generator(server)
    prompt = probe.config.edit_prompt
    estimate = PRICES.estimate_image(
        "gpt-image-2", quality="low", size="128x128", prompt=prompt, input_fidelity="low"
    )
    budget = DailyBudget(3 * estimate + estimate / 2)
    gen = generator(server, budget=budget, timeout_s=5)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            gen.generate(photo())
            outcome = "ok"
        except GenerationError as exc:
            outcome = "budget" if exc.happened == "over_budget" else exc.happened
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["budget"] * 5 + ["ok"] * 3
    assert len(server.requests) == 3
    assert budget.spent_usd <= budget.cap_usd  # type: ignore[operator]
    assert budget.metadata()["requests_stopped_by_budget"] == 5


def test_an_oversized_answer_is_billed_and_counts_against_the_photos_paid_attempts(
    server: OpenAIImitation, tmp_path: Path
) -> None:
    """A 200 over DOPPEL_OPENAI_MAX_REPLY_BYTES was answered, so billed: its ledger row says
    so, and at the cap the photo is not sent again."""
    from pipeline_tests.lib.test_img2img_paid import add_photos, ledger_rows

    db = Database(f"sqlite:///{tmp_path / 'doppel.db'}")
    db.upgrade()
    [photo_id] = add_photos(db, None, 1)
    server.add_fault("oversized", times=10)
    gen = generator(server, ledger=Ledger(db, max_paid_attempts=2))
    for _ in range(2):
        with pytest.raises(GenerationError, match="grew past the 524,288-byte cap"):
            gen.generate(photo(photo_id=photo_id))
    with pytest.raises(PaidAttemptCapReached):
        gen.generate(photo(photo_id=photo_id))
    assert len(server.requests) == 2
    assert [(r.outcome, r.http_status) for r in ledger_rows(db)] == [("billed", 200)] * 2
    db.dispose()
