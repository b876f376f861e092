"""Cost estimates from the price table (estimates, not bills)."""

from __future__ import annotations

import re

import pytest

from pipeline.lib.billing.pricing import DEFAULT_PRICES, ModelPrice, PriceTable
from pipeline.lib.settings import SettingsError, load_settings

TABLE = PriceTable(DEFAULT_PRICES, unpriced_call_usd=0.25)
USAGE = {
    "input_tokens": 1100,
    "input_tokens_details": {"text_tokens": 100, "image_tokens": 1000},
    "output_tokens": 1056,
    "output_tokens_details": {"image_tokens": 1056, "text_tokens": 0},
}


def test_per_image_models_by_quality_and_size() -> None:
    cost = TABLE.image_cost("gpt-image-1-mini", quality="high", size="1536x1024", usage=None)
    assert cost == 0.052
    # auto quality or an unlisted size: the dearest listed price (never an under-estimate)
    assert TABLE.image_cost("gpt-image-1.5", quality="auto", size="1024x1024", usage=None) == 0.133
    assert TABLE.image_cost("gpt-image-1.5", quality="low", size="2048x2048", usage=None) == 0.013
    # input tokens are added where the model has token prices for them
    mini = TABLE.image_cost("gpt-image-1-mini", quality="low", size="1024x1024", usage=USAGE)
    assert mini == pytest.approx(0.005 + (100 * 2.0 + 1000 * 2.5) / 1e6)


def test_token_priced_models_from_usage() -> None:
    cost = TABLE.image_cost("gpt-image-2", quality="medium", size="1024x1024", usage=USAGE)
    assert cost == pytest.approx((100 * 5 + 1000 * 8 + 1056 * 30) / 1e6)
    # a dated snapshot uses its base model's price
    dated = TABLE.image_cost(
        "gpt-image-2-2026-04-21", quality="medium", size="1024x1024", usage=USAGE
    )
    assert dated == cost
    # without a breakdown all input counts as image input (the dearer reading)
    bare = {"input_tokens": 1100, "output_tokens": 1056}
    bare_cost = TABLE.image_cost("gpt-image-2", quality="medium", size="1024x1024", usage=bare)
    assert bare_cost == pytest.approx((1100 * 8 + 1056 * 30) / 1e6)
    assert TABLE.image_cost("gpt-image-2", quality="medium", size="1024x1024", usage=None) is None


def test_estimates_scale_with_quality_size_and_fidelity() -> None:
    def estimate(quality: str, size: str, fidelity: str | None = "low") -> float:
        return TABLE.estimate_image(
            "gpt-image-2", quality=quality, size=size, prompt="x" * 300, input_fidelity=fidelity
        )

    assert estimate("low", "1024x1024") < estimate("medium", "1024x1024")
    assert estimate("medium", "1024x1024") < estimate("high", "1024x1024")
    assert estimate("high", "1024x1024") < estimate("high", "1536x1024")
    assert estimate("high", "1024x1024") < estimate("max", "1024x1024")
    assert estimate("medium", "1024x1024", None) < estimate("medium", "1024x1024", "low")
    assert estimate("medium", "1024x1024", "low") < estimate("medium", "1024x1024", "high")
    # medium 1024x1024: 1056 output tokens at $30/M dominate
    assert estimate("medium", "1024x1024") == pytest.approx(
        (101 * 5 + 1500 * 8 + 1056 * 30) / 1e6, rel=1e-3
    )


def test_unknown_models_cost_the_configured_fallback() -> None:
    assert TABLE.estimate_image(
        "some-local-model", quality="low", size="1024x1024", prompt="x", input_fidelity=None
    ) == 0.25  # fmt: skip
    assert TABLE.text_cost("some-local-llm", {"prompt_tokens": 10}) == 0.25


def test_text_model_costs() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    assert TABLE.text_cost("gpt-5-mini", usage) == pytest.approx((1000 * 0.25 + 500 * 2) / 1e6)
    assert TABLE.text_cost("gpt-5-mini", None) is None
    assert TABLE.estimate_text("gpt-5-mini", prompt="describe") > 0


def test_the_price_table_can_be_overridden_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "DOPPEL_OPENAI_PRICES", '{"my-model": {"per_image_usd": {"low": {"512x512": 0.001}}}}'
    )
    settings = load_settings(_env_file=None)
    assert settings.openai.prices == DEFAULT_PRICES | {
        "my-model": ModelPrice(per_image_usd={"low": {"512x512": 0.001}})
    }  # added to the built-in table, which keeps the defaults priced


def test_every_default_model_is_priced_and_not_being_shut_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.defs.resources.generators import OpenAIImagesResource
    from pipeline.lib.billing.pricing import MODEL_SHUTDOWNS
    from pipeline.lib.generators.openai_config import OpenAIImagesConfig

    monkeypatch.setenv("OPENAI_API_KEY", "sk-pricing-test")
    settings = load_settings(_env_file=None, generator="openai")
    resource = OpenAIImagesResource(api_key="sk-x", database={"url": "sqlite://"}).config
    config = OpenAIImagesConfig(api_key="sk-x")
    images = {settings.openai.image_model, resource["image_model"], config.image_model}
    visions = {settings.openai.vision_model, resource["vision_model"], config.vision_model}
    assert images == {"gpt-image-2"} and visions == {"gpt-6.1-terra"}  # one default each
    assert TABLE.price_of("gpt-image-2") is not None  # the default day loads as it is
    assert not {*images, *visions} & set(MODEL_SHUTDOWNS)
    # OpenAI has published no price for the describe model: rather than guess one, Doppel
    # refuses the describe strategy until the user gives it a price.
    assert TABLE.price_of("gpt-6.1-terra") is None
    refusal = re.escape("DOPPEL_OPENAI_VISION_MODEL=gpt-6.1-terra has no price")
    with pytest.raises(SettingsError, match=refusal):
        load_settings(_env_file=None, generator="openai", openai_strategy="describe")
    prices = {"gpt-6.1-terra": ModelPrice(text_input_per_mtok=1.0, text_output_per_mtok=8.0)}
    priced = load_settings(
        _env_file=None, generator="openai", openai_strategy="describe", openai_prices=prices
    )
    assert priced.openai.vision_model == "gpt-6.1-terra"


def test_the_docs_list_every_shutdown_date_with_its_source() -> None:
    from pathlib import Path

    from pipeline.lib.billing.pricing import MODEL_SHUTDOWNS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "openai.md").read_text()
    rows = [line for line in docs.splitlines() if line.startswith("| `")]
    for model, when in MODEL_SHUTDOWNS.items():
        [row] = [r for r in rows if f"`{model}`" in r.split("|")[1]]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == when and cells[2], row  # the date, and where it comes from
