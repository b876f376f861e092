"""What an OpenAI call probably costs: a price table and the arithmetic on it.

Every figure here is an ESTIMATE for the budget guard and the gallery's cost column, not a
bill. Prices change without notice and several below come from third parties (see the
source notes); the usage the API returns is recorded with each generation so a real figure
can always be recomputed. Override the table with DOPPEL_OPENAI_PRICES (JSON).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field


class ModelPrice(BaseModel):
    """A model's price: per image (quality → size → USD) and/or per million tokens."""

    per_image_usd: dict[str, dict[str, float]] = Field(default_factory=dict)
    text_input_per_mtok: float | None = None
    image_input_per_mtok: float | None = None
    text_output_per_mtok: float | None = None
    image_output_per_mtok: float | None = None
    source: str = ""

    @property
    def token_priced(self) -> bool:
        return self.image_output_per_mtok is not None or self.text_output_per_mtok is not None


def _per_image(square: tuple[float, float, float], wide: tuple[float, float, float]) -> dict:
    """Low/medium/high prices for 1024x1024 and for the two 1024x1536 shapes."""
    return {
        quality: {"1024x1024": sq, "1024x1536": wd, "1536x1024": wd}
        for quality, sq, wd in zip(("low", "medium", "high"), square, wide, strict=True)
    }


# Estimates as of 2026-12-01 (external-apis notes §2.9 and its 2026-12-01 addendum); check
# https://openai.com/api/pricing before trusting a bill to them. Qualities xhigh and max
# (2.5/2.6 models) are priced by their tokens like the rest.
def _token_priced_image(source: str) -> ModelPrice:
    return ModelPrice(
        text_input_per_mtok=5.0,
        image_input_per_mtok=8.0,
        image_output_per_mtok=30.0,
        source=source,
    )


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-image-2": _token_priced_image("third-party (fal.ai), 2026"),
    "gpt-image-2.5-flare": _token_priced_image("third-party, reported"),
    "gpt-image-2.5-sunburst": _token_priced_image("third-party, reported"),
    "gpt-image-2.6-flare": _token_priced_image("third-party reseller, 2026-11; unconfirmed"),
    "gpt-image-2.6-sunburst": _token_priced_image("third-party reseller, 2026-11; unconfirmed"),
    "gpt-image-1.5": ModelPrice(
        per_image_usd=_per_image((0.009, 0.034, 0.133), (0.013, 0.050, 0.200)),
        source="third-party (llmreference); shut down 2026-12-01",
    ),
    "gpt-image-1-mini": ModelPrice(
        per_image_usd=_per_image((0.005, 0.011, 0.036), (0.006, 0.015, 0.052)),
        text_input_per_mtok=2.0,
        image_input_per_mtok=2.5,
        source="OpenAI model page; shut down 2026-12-01",
    ),
    "gpt-image-1": ModelPrice(
        per_image_usd=_per_image((0.011, 0.042, 0.167), (0.016, 0.063, 0.25)),
        text_input_per_mtok=5.0,
        image_input_per_mtok=10.0,
        source="OpenAI model page; shut down 2026-10-23 (kept for compatible servers)",
    ),
    # A vision-capable text model priced per token; shuts down 2026-12-11.
    "gpt-5-mini": ModelPrice(
        text_input_per_mtok=0.25,
        text_output_per_mtok=2.0,
        source="OpenAI pricing page, 2025; shuts down 2026-12-11",
    ),
}

# Shutdown dates, from OpenAI's deprecations page (developers.openai.com/api/docs/deprecations)
# as read on 2026-12-01. None of them may be a default; docs/openai.md lists them.
MODEL_SHUTDOWNS = {
    "dall-e-2": "2026-05-12",
    "dall-e-3": "2026-05-12",
    "gpt-image-1": "2026-10-23",
    "gpt-image-1-mini": "2026-12-01",
    "gpt-image-1.5": "2026-12-01",
    "chatgpt-image-latest": "2026-12-01",
    "gpt-5-mini": "2026-12-11",
}

# Output image tokens at 1024x1024 by quality (the published gpt-image-1 figures); larger
# sizes scale with the pixel count. Used only to *estimate* a token-priced image before the
# request; unknown qualities (auto, xhigh, max) are assumed dearer than high.
OUTPUT_TOKENS_1024 = {"low": 272, "medium": 1056, "high": 4160}
QUALITY_FALLBACK_FACTOR = {"auto": 1.0, "xhigh": 2.0, "max": 4.0}
# Input image tokens of one reference photo, by input fidelity (high adds thousands).
INPUT_IMAGE_TOKENS = {"low": 1_500, "high": 6_500}
# A describe call: the photo (detail=auto) plus a reasoning model's hidden and visible output.
DESCRIBE_INPUT_TOKENS = 1_500
DESCRIBE_OUTPUT_TOKENS = 2_000

_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_SIZE = re.compile(r"^(\d+)x(\d+)$")


class PriceTable:
    """Look up and apply prices; a model missing from the table costs `unpriced_call_usd`."""

    def __init__(self, prices: Mapping[str, ModelPrice], *, unpriced_call_usd: float):
        self.prices = dict(prices)
        self.unpriced_call_usd = unpriced_call_usd

    def price_of(self, model: str) -> ModelPrice | None:
        """A dated snapshot (`gpt-image-2-2026-04-21`) falls back to its base model's price."""
        return self.prices.get(model) or self.prices.get(_DATED.sub("", model))

    # Images

    def estimate_image(
        self, model: str, *, quality: str, size: str, prompt: str, input_fidelity: str | None
    ) -> float:
        """Before the request: what one image (plus a reference photo, for edits) may cost.
        `input_fidelity` is None for a text-only generation, else the edit's fidelity."""
        price = self.price_of(model)
        if price is None:
            return self.unpriced_call_usd
        image_in = 0 if input_fidelity is None else INPUT_IMAGE_TOKENS.get(input_fidelity, 6_500)
        tokens = {
            "text_in": len(prompt) // 3 + 1,
            "image_in": image_in,
            "image_out": _estimated_output_tokens(quality, size),
        }
        return self._image_cost(price, quality, size, tokens)

    def image_cost(
        self, model: str, *, quality: str, size: str, usage: Mapping[str, Any] | None
    ) -> float | None:
        """After the request, from the usage the API returned. None if nothing can be said."""
        price = self.price_of(model)
        if price is None:
            return self.unpriced_call_usd
        tokens = _image_usage_tokens(usage)
        if tokens is None and (price.token_priced or not price.per_image_usd):
            return None
        return self._image_cost(price, quality, size, tokens or {})

    def _image_cost(
        self, price: ModelPrice, quality: str, size: str, tokens: Mapping[str, int]
    ) -> float:
        cost = _per_mtok(tokens.get("text_in", 0), price.text_input_per_mtok)
        cost += _per_mtok(tokens.get("image_in", 0), price.image_input_per_mtok)
        if price.token_priced:
            cost += _per_mtok(tokens.get("image_out", 0), price.image_output_per_mtok)
            cost += _per_mtok(tokens.get("text_out", 0), price.text_output_per_mtok)
        else:
            cost += _per_image_price(price, quality, size, self.unpriced_call_usd)
        return round(cost, 6)

    # Text (the describe step)

    def estimate_text(self, model: str, *, prompt: str) -> float:
        price = self.price_of(model)
        if price is None:
            return self.unpriced_call_usd
        return self._text_cost(
            price, len(prompt) // 3 + 1 + DESCRIBE_INPUT_TOKENS, DESCRIBE_OUTPUT_TOKENS
        )

    def text_cost(self, model: str, usage: Mapping[str, Any] | None) -> float | None:
        price = self.price_of(model)
        if price is None:
            return self.unpriced_call_usd
        if not usage:
            return None
        prompt = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
        completion = _int(usage.get("completion_tokens", usage.get("output_tokens")))
        return self._text_cost(price, prompt, completion)

    @staticmethod
    def _text_cost(price: ModelPrice, prompt_tokens: int, completion_tokens: int) -> float:
        cost = _per_mtok(prompt_tokens, price.text_input_per_mtok)
        cost += _per_mtok(completion_tokens, price.text_output_per_mtok)
        return round(cost, 6)


def size_pixels(size: str) -> int:
    """Pixels of a `WxH` size; `auto` counts as the largest standard shape."""
    match = _SIZE.match(size)
    return int(match[1]) * int(match[2]) if match else 1536 * 1024


def _estimated_output_tokens(quality: str, size: str) -> int:
    base = OUTPUT_TOKENS_1024.get(quality)
    if base is None:
        base = round(OUTPUT_TOKENS_1024["high"] * QUALITY_FALLBACK_FACTOR.get(quality, 4.0))
    return round(base * size_pixels(size) / (1024 * 1024))


def _per_image_price(price: ModelPrice, quality: str, size: str, unpriced: float) -> float:
    by_size = price.per_image_usd.get(quality)
    if by_size is None:  # auto or an unknown quality: assume the dearest one listed
        by_size = max(price.per_image_usd.values(), key=lambda s: max(s.values()), default={})
    if size in by_size:
        return by_size[size]
    return max(by_size.values(), default=unpriced)


def _image_usage_tokens(usage: Mapping[str, Any] | None) -> dict[str, int] | None:
    """Split an images `usage` into text/image input and output tokens.

    Without details, all input is counted as image tokens and all output as image output
    (the dearer reading), so a missing breakdown never makes a bill look smaller.
    """
    if not usage:
        return None
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    input_tokens = _int(usage.get("input_tokens"))
    output_tokens = _int(usage.get("output_tokens"))
    if input_details:
        text_in = _int(input_details.get("text_tokens"))
        image_in = _int(input_details.get("image_tokens"))
    else:
        text_in, image_in = 0, input_tokens
    if output_details:
        text_out = _int(output_details.get("text_tokens"))
        image_out = _int(output_details.get("image_tokens"))
    else:
        text_out, image_out = 0, output_tokens
    return {"text_in": text_in, "image_in": image_in, "text_out": text_out, "image_out": image_out}


def _per_mtok(tokens: int, usd_per_mtok: float | None) -> float:
    return tokens * (usd_per_mtok or 0.0) / 1_000_000


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
