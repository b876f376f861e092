"""Look-alikes from the OpenAI Images API (or any server that speaks it), via the `openai` SDK.

Two strategies, chosen in settings:

- `edit`: one `images.edit` call with the photo as the reference image and a prompt asking
  for a new, similar photograph. Composition and palette carry over; `input_fidelity`
  (where the model supports it) tunes how closely.
- `describe`: a vision-capable chat model describes the photo, then `images.generate` draws
  that description. Two calls, but the prompt is plain text the gallery can show, and the
  photo itself never reaches the image model. Chat Completions (not the Responses API) is
  used because OpenAI-compatible servers implement it far more widely.

Retries: the SDK is built with `max_retries=0` and this module runs its own bounded loop.
The SDK retries every 429, but a 429 `insufficient_quota` will not clear in seconds and must
stop the day at once, and only the body (not a header) tells the two apart; the loop also
reserves budget per attempt and honours `retry-after-ms`/`retry-after` within a cap. Timeouts,
dropped connections, 408/409/429 `rate_limit_exceeded` and 5xx are retried; a refusal, a bad
request or a bad key never are.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import openai
from openai.types import ImagesResponse
from openai.types.chat import ChatCompletion

from pipeline.lib.generators import (
    Generation,
    GenerationError,
    GeneratorUnavailable,
    SourceImage,
)
from pipeline.lib.generators.budget import DailyBudget, Reservation
from pipeline.lib.generators.pricing import PriceTable
from pipeline.lib.generators.transfer import Upload, image_from_base64, upload_of
from pipeline.lib.http import RetryPolicy, retry_after_seconds
from pipeline.lib.settings import (
    DEFAULT_DESCRIBE_PROMPT,
    DEFAULT_EDIT_PROMPT,
    DEFAULT_GENERATE_PROMPT,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
RETRY_STATUSES = frozenset({408, 409, 429})
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_*\-]{3,}")


@dataclass(frozen=True)
class OpenAIImagesConfig:
    api_key: str = field(repr=False)
    base_url: str | None = None  # None: OPENAI_BASE_URL, else https://api.openai.com/v1
    strategy: Literal["edit", "describe"] = "edit"
    image_model: str = "gpt-image-2"
    vision_model: str = "gpt-5-mini"
    size: str = "1024x1024"
    quality: str = "medium"
    input_fidelity: Literal["low", "high"] | None = None
    edit_prompt: str = DEFAULT_EDIT_PROMPT
    describe_prompt: str = DEFAULT_DESCRIBE_PROMPT
    generate_prompt: str = DEFAULT_GENERATE_PROMPT
    timeout_s: float = 180.0
    max_retries: int = 2
    max_retry_after_s: float = 60.0
    max_upload_side: int = 1536


class OpenAIImagesGenerator:
    """Thread-safe: one SDK client (an httpx2 connection pool) serves every thread."""

    name = "openai"

    def __init__(
        self,
        config: OpenAIImagesConfig,
        *,
        prices: PriceTable,
        budget: DailyBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if config.strategy not in ("edit", "describe"):
            raise ValueError(f"unknown OpenAI strategy {config.strategy!r}")
        self.config = config
        self.prices = prices
        self.budget = budget if budget is not None else DailyBudget(None)
        self._sleep = sleep
        self._policy = RetryPolicy(
            attempts=config.max_retries + 1, max_retry_after_s=config.max_retry_after_s
        )
        self._rng = random.Random()
        self._client = openai.OpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=openai.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s)),
            max_retries=0,  # retries are this module's own loop; see the module docstring
        )

    def close(self) -> None:
        self._client.close()

    def generate(self, source: SourceImage) -> Generation:
        started = time.monotonic()
        upload = upload_of(source, self.config.max_upload_side)
        if self.config.strategy == "edit":
            generation = self._edit(source, upload)
        else:
            generation = self._describe_then_generate(upload)
        generation.seconds = round(time.monotonic() - started, 3)
        return generation

    # Strategies

    def _edit(self, source: SourceImage, upload: Upload) -> Generation:
        cfg = self.config
        prompt = cfg.edit_prompt
        description = _clean_text(source.description, 300)
        if description:
            prompt += f" The photo shows: {description}."
        options: dict[str, Any] = {}
        if cfg.input_fidelity is not None:
            options["input_fidelity"] = cfg.input_fidelity
        estimate = self.prices.estimate_image(
            cfg.image_model, quality=cfg.quality, size=cfg.size, prompt=prompt,
            input_fidelity=cfg.input_fidelity or "low",
        )  # fmt: skip
        response, hold = self._call(
            "images.edit",
            estimate,
            # Model ids and qualities are settings (str), newer than the SDK's literals.
            lambda headers: self._client.images.edit(  # type: ignore[call-overload]
                model=cfg.image_model,
                image=(upload.filename, upload.data, upload.content_type),
                prompt=prompt,
                size=cfg.size,
                quality=cfg.quality,
                n=1,
                extra_headers=headers,
                **options,
            ),
        )
        image, cost, usage, request_id = self._image_of(response, hold)
        return Generation(
            image=image, generator=self.name, model=cfg.image_model, strategy="edit",
            prompt=prompt, cost_usd=cost, usage=usage, request_id=request_id,
        )  # fmt: skip

    def _describe_then_generate(self, upload: Upload) -> Generation:
        cfg = self.config
        data_url = f"data:{upload.content_type};base64,{upload.base64()}"
        messages: Any = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": cfg.describe_prompt},
                    # "low" detail (one 512 px tile) is plenty for a prompt and cheapest.
                    {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
                ],
            }
        ]
        completion, hold = self._call(
            "chat.completions",
            self.prices.estimate_text(cfg.vision_model, prompt=cfg.describe_prompt),
            lambda headers: self._client.chat.completions.create(
                model=cfg.vision_model, messages=messages, extra_headers=headers
            ),
        )
        description, describe_cost, describe_usage = self._description_of(completion, hold)

        prompt = cfg.generate_prompt.replace("{description}", description)
        estimate = self.prices.estimate_image(
            cfg.image_model, quality=cfg.quality, size=cfg.size, prompt=prompt,
            input_fidelity=None,
        )  # fmt: skip
        response, hold = self._call(
            "images.generate",
            estimate,
            lambda headers: self._client.images.generate(  # type: ignore[call-overload]
                model=cfg.image_model,
                prompt=prompt,
                size=cfg.size,
                quality=cfg.quality,
                n=1,
                extra_headers=headers,
            ),
        )
        image, image_cost, image_usage, request_id = self._image_of(response, hold)
        costs = [c for c in (describe_cost, image_cost) if c is not None]
        return Generation(
            image=image,
            generator=self.name,
            model=cfg.image_model,
            strategy="describe",
            prompt=prompt,
            cost_usd=round(sum(costs), 6) if costs else None,
            usage={
                "describe": {
                    "model": cfg.vision_model,
                    "request_id": _request_id(completion),
                    **(describe_usage or {}),
                },
                "image": image_usage,
            },
            request_id=request_id,
        )

    # Results

    def _image_of(
        self, response: object, hold: Reservation
    ) -> tuple[Any, float | None, dict[str, Any] | None, str | None]:
        """Validate an images response; the reservation is settled with what it cost."""
        if not isinstance(response, ImagesResponse):
            hold.keep()
            raise GenerationError(
                f"OpenAI answered with non-JSON content ({_snippet(response)}); check "
                "DOPPEL_OPENAI_BASE_URL points at an OpenAI-compatible API. Retried next run.",
                retryable=True,
            )
        cfg = self.config
        usage = response.usage.model_dump(exclude_none=True) if response.usage else None
        cost = self.prices.image_cost(
            cfg.image_model,
            quality=str(response.quality or cfg.quality),
            size=str(response.size or cfg.size),
            usage=usage,
        )
        hold.settle(cost)  # paid for, whether or not the image turns out usable
        if cost is None:
            cost = hold.amount
        data = response.data
        if not isinstance(data, list) or not data:
            raise GenerationError(
                "OpenAI returned no image (empty `data`); retried on the next run",
                retryable=True,
            )
        image = image_from_base64(getattr(data[0], "b64_json", None), origin="OpenAI")
        return image, cost, usage, _request_id(response)

    def _description_of(
        self, completion: object, hold: Reservation
    ) -> tuple[str, float | None, dict[str, Any] | None]:
        if not isinstance(completion, ChatCompletion):
            hold.keep()
            raise GenerationError(
                f"the describe step answered with non-JSON content ({_snippet(completion)}); "
                "retried on the next run",
                retryable=True,
            )
        usage = completion.usage.model_dump(exclude_none=True) if completion.usage else None
        cost = self.prices.text_cost(self.config.vision_model, usage)
        hold.settle(cost)
        choices = completion.choices if isinstance(completion.choices, list) else []
        if not choices:
            raise GenerationError("the describe step returned no choices", retryable=True)
        choice = choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal or choice.finish_reason == "content_filter":
            raise GenerationError(
                "the vision model refused to describe the photo: "
                f"{_clean_text(self._redact(str(refusal or 'content filter')), 300)}",
                kind="refused",
                retryable=False,
            )
        text = _clean_text(choice.message.content, 2000)
        if not text:
            raise GenerationError("the describe step returned an empty description", retryable=True)
        return text, (cost if cost is not None else hold.amount), usage

    # The retry loop and error mapping

    def _call(
        self, what: str, estimate: float, send: Callable[[dict[str, str]], T]
    ) -> tuple[T, Reservation]:
        """Send with bounded retries; returns the SDK's result and its open reservation."""
        attempts = self._policy.attempts
        problem = ""
        for attempt in range(1, attempts + 1):
            hold = self.budget.reserve(estimate)  # raises GenerationError(kind="budget")
            response = None
            try:
                # Tell the server which retry this is, as the SDK's own loop would.
                return send({"x-stainless-retry-count": str(attempt - 1)}), hold
            except openai.APIConnectionError as exc:  # includes APITimeoutError
                hold.keep()  # the server may have finished (and billed) the request
                kind = "timed out" if isinstance(exc, openai.APITimeoutError) else "failed"
                problem = f"the connection {kind} ({_cause(exc)})"
            except openai.APIStatusError as exc:
                hold.release()  # an error status is not billed
                failure = self._failure_of(exc)
                if failure is not None:
                    raise failure from None
                problem = self._describe(exc)
                response = exc.response
            except ValueError as exc:  # a 2xx whose JSON does not parse
                hold.keep()
                raise GenerationError(
                    f"OpenAI {what} answered with malformed JSON ({_brief(exc)}); retried on "
                    "the next run",
                    retryable=True,
                ) from None
            except openai.OpenAIError as exc:
                hold.release()
                raise GenerationError(
                    f"OpenAI {what} failed: {self._redact(_brief(exc))}", retryable=True
                ) from None
            if attempt < attempts:
                delay = self._delay(attempt, response)
                if delay is None:
                    problem += f" and asked to wait over {self._policy.max_retry_after_s:g}s"
                    break
                log.info("OpenAI %s: %s; retry %d/%d in %.1fs", what, problem, attempt,
                         attempts - 1, delay)  # fmt: skip
                self._sleep(delay)
        tries = "1 try" if attempt == 1 else f"{attempt} tries"
        raise GenerationError(
            f"OpenAI {what}: {problem}, after {tries}; retried on the next run", retryable=True
        )

    def _failure_of(self, exc: openai.APIStatusError) -> Exception | None:
        """The error to raise for a status, or None if another try may succeed."""
        status, code, type_ = exc.status_code, exc.code or "", exc.type or ""
        detail = self._describe(exc)
        if code in REFUSAL_CODES or type_ == "image_generation_user_error":
            return GenerationError(
                f"refused by OpenAI's safety system ({detail})", kind="refused", retryable=False
            )
        if status == 401:
            return GeneratorUnavailable(
                f"OpenAI rejected the API key ({detail}); set a valid OPENAI_API_KEY "
                "(https://platform.openai.com/api-keys) and re-run the day"
            )
        if status == 429 and "insufficient_quota" in (code, type_):
            return GeneratorUnavailable(
                f"the OpenAI account is out of quota ({detail}); add credit or raise the limit "
                "at https://platform.openai.com/settings/organization/billing, then re-run"
            )
        if status == 403:
            return GeneratorUnavailable(
                f"OpenAI refused access ({detail}); check the project's permissions, the "
                "organisation's verification for this model, and the region"
            )
        if status == 404 or code == "model_not_found":
            return GeneratorUnavailable(
                f"OpenAI could not find the model or route ({detail}); set "
                "DOPPEL_OPENAI_IMAGE_MODEL / DOPPEL_OPENAI_VISION_MODEL to current models and "
                "check DOPPEL_OPENAI_BASE_URL"
            )
        if status in RETRY_STATUSES or status >= 500:
            return None
        return GenerationError(
            f"OpenAI rejected the request ({detail}); check the DOPPEL_OPENAI_* settings",
            retryable=False,
        )

    def _delay(self, attempt: int, response: Any) -> float | None:
        """Seconds before the next try: the server's Retry-After if it sent one, else jittered
        backoff. None if the server asks for longer than the cap: like the SDK, don't wait."""
        advised = _retry_after(response) if response is not None else None
        if advised is None:
            return self._policy.delay(attempt, None, self._rng)
        return advised if advised <= self._policy.max_retry_after_s else None

    def _describe(self, exc: openai.APIStatusError) -> str:
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") if isinstance(body.get("message"), str) else ""
        parts = [f"HTTP {exc.status_code}"]
        if exc.code:
            parts.append(str(exc.code))
        text = " ".join(parts)
        if message:
            text += f": {_clean_text(self._redact(message), 300)}"
        if exc.request_id:
            text += f" [request {exc.request_id}]"
        return text

    def _redact(self, text: str) -> str:
        """Error text may echo the key (the API masks most of it); never pass any of it on."""
        if self.config.api_key:
            text = text.replace(self.config.api_key, "***")
        return _KEY_LIKE.sub("sk-***", text)


def _retry_after(response: Any) -> float | None:
    """`retry-after-ms` (OpenAI's, preferred) or `retry-after` (seconds or an HTTP date)."""
    value = response.headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    # httpx2 responses have httpx's headers interface, which is all this reads.
    return retry_after_seconds(response)


def _request_id(obj: object) -> str | None:
    value = getattr(obj, "_request_id", None)
    return str(value)[:128] if value else None


def _clean_text(text: object, limit: int) -> str:
    """One line of printable text (photo descriptions come from strangers)."""
    if not isinstance(text, str):
        return ""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(cleaned.split())[:limit]


def _snippet(value: object) -> str:
    return repr(_clean_text(value if isinstance(value, str) else type(value).__name__, 60))


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ if cause is not None else type(exc).__name__


def _brief(exc: BaseException) -> str:
    return _clean_text(str(exc), 200) or type(exc).__name__
