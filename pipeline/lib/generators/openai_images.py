"""Look-alikes from the OpenAI Images API (or any server that speaks it), via the `openai` SDK.

Two strategies, chosen in settings:

- `edit`: one `images.edit` call with the photo as the reference image and a prompt asking
  for a new, similar photograph. Composition and palette carry over; `input_fidelity`
  (where the model supports it) tunes how closely.
- `describe`: a vision-capable chat model describes the photo, then `images.generate` draws
  that description. Two calls, but the prompt is plain text the gallery can show, and the
  photo itself never reaches the image model. Chat Completions (not the Responses API) is
  used because OpenAI-compatible servers implement it far more widely.

Retries: the SDK is built with `max_retries=0` and requests go through the loop all remote
generators share (`pipeline.lib.billing.paid`), classified by the one table in
`pipeline.lib.failures`: only what was not billed (429 `rate_limit_exceeded`,
5xx, a reset before any reply) is retried within the request; a 200 that cannot be used or
a timeout is billed (or may be) and is never retried at once; a bad key, no quota or an
unknown model stops the day. Every request is written to the ledger of billed requests
before it is sent, which also holds the per-photo cap.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import openai
from openai.types import ImagesResponse
from openai.types.chat import ChatCompletion

from pipeline.lib.billing.budget import DailyBudget
from pipeline.lib.billing.ledger import Ledger
from pipeline.lib.billing.paid import Failure, PaidRequest, PaidRequests, transport_failure
from pipeline.lib.billing.pricing import PriceTable
from pipeline.lib.core.http import HttpRetry, retry_after_seconds
from pipeline.lib.core.replies import ReplyTooLarge, capped_replies
from pipeline.lib.failures import GenerationError, passing_status
from pipeline.lib.generators import Generation, LoadedPhoto
from pipeline.lib.generators.explain import MAY_BE_BILLED, explained
from pipeline.lib.generators.openai_config import OpenAIImagesConfig
from pipeline.lib.generators.transfer import Upload, image_from_base64, upload_of

log = logging.getLogger(__name__)

T = TypeVar("T")
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
# 400s about the photo itself (Doppel re-encodes what the API cannot take, so these are rare).
BAD_PHOTO_CODES = frozenset(
    {"invalid_image_file", "unsupported_file_mimetype", "invalid_image", "image_too_large"}
)
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_*\-]{3,}")


class OpenAIImagesGenerator:
    """Thread-safe: one SDK client (an httpx2 connection pool) serves every thread."""

    name = "openai"

    def __init__(
        self,
        config: OpenAIImagesConfig,
        *,
        prices: PriceTable,
        budget: DailyBudget | None = None,
        ledger: Ledger | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if config.strategy not in ("edit", "describe"):
            raise ValueError(f"unknown OpenAI strategy {config.strategy!r}")
        self.config = config
        self.prices = prices
        self._paid = PaidRequests(
            self.name,
            policy=HttpRetry(
                attempts=config.max_retries + 1, max_retry_after_s=config.max_retry_after_s
            ),
            budget=budget,
            ledger=ledger,
            sleep=sleep,
        )
        # What the asset reads: today's spending, and the ledger behind the cap.
        self.budget, self.ledger = self._paid.budget, self._paid.ledger
        capped = capped_replies(config.max_reply_bytes, what="a reply that")
        self._client = openai.OpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=openai.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s)),
            max_retries=0,  # retries are this module's own loop; see the module docstring
            http_client=openai.DefaultHttpx2Client(event_hooks={"response": [capped]}),
        )

    def close(self) -> None:
        self._client.close()

    def generate(self, photo: LoadedPhoto) -> Generation:
        started = time.monotonic()
        upload = upload_of(photo, self.config.max_upload_side)
        if self.config.strategy == "edit":
            generation = self._edit(photo, upload)
        else:
            generation = self._describe_then_generate(upload, photo.photo_id)
        generation.seconds = round(time.monotonic() - started, 3)
        return generation

    # Strategies

    def _edit(self, photo: LoadedPhoto, upload: Upload) -> Generation:
        cfg = self.config
        prompt = cfg.edit_prompt
        description = _clean_text(photo.description, 300)
        if description:
            prompt += f" The photo shows: {description}."
        options: dict[str, Any] = {}
        if cfg.input_fidelity is not None:
            options["input_fidelity"] = cfg.input_fidelity
        estimate = self.prices.estimate_image(
            cfg.image_model,
            quality=cfg.quality,
            size=cfg.size,
            prompt=prompt,
            input_fidelity=cfg.input_fidelity or "low",
        )
        response, paid = self._call(
            "images.edit",
            cfg.image_model,
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
            photo.photo_id,
        )
        image, cost, usage, request_id = self._image_of(response, paid)
        return Generation(
            image=image,
            generator=self.name,
            model=cfg.image_model,
            strategy="edit",
            prompt=prompt,
            cost_usd=cost,
            usage=usage,
            request_id=request_id,
        )

    def _describe_then_generate(self, upload: Upload, photo_id: int | None) -> Generation:
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
        completion, paid = self._call(
            "chat.completions",
            cfg.vision_model,
            self.prices.estimate_text(cfg.vision_model, prompt=cfg.describe_prompt),
            lambda headers: self._client.chat.completions.create(
                model=cfg.vision_model, messages=messages, extra_headers=headers
            ),
            photo_id,
        )
        description, describe_cost, describe_usage = self._description_of(completion, paid)

        prompt = cfg.generate_prompt.replace("{description}", description)
        estimate = self.prices.estimate_image(
            cfg.image_model,
            quality=cfg.quality,
            size=cfg.size,
            prompt=prompt,
            input_fidelity=None,
        )
        response, paid = self._call(
            "images.generate",
            cfg.image_model,
            estimate,
            lambda headers: self._client.images.generate(  # type: ignore[call-overload]
                model=cfg.image_model,
                prompt=prompt,
                size=cfg.size,
                quality=cfg.quality,
                n=1,
                extra_headers=headers,
            ),
            photo_id,
        )
        image, image_cost, image_usage, request_id = self._image_of(response, paid)
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
        self, response: object, paid: PaidRequest
    ) -> tuple[Any, float | None, dict[str, Any] | None, str | None]:
        """Validate an images response. It was a 200, so it is billed, usable or not."""
        if not isinstance(response, ImagesResponse):
            paid.billed(None, detail=f"non-JSON content {_snippet(response)}")
            raise GenerationError(
                f"OpenAI answered with non-JSON content ({_snippet(response)}); check "
                "DOPPEL_OPENAI_BASE_URL points at an OpenAI-compatible API. It was billed, "
                "so it is not sent again now (a later run may, within the cap).",
                happened="unusable_reply",
            )
        cfg = self.config
        usage = response.usage.model_dump(exclude_none=True) if response.usage else None
        cost = self.prices.image_cost(
            cfg.image_model,
            quality=str(response.quality or cfg.quality),
            size=str(response.size or cfg.size),
            usage=usage,
        )
        request_id = _request_id(response)
        cost = paid.billed(cost, usage=usage, request_id=request_id)
        data = response.data
        if not isinstance(data, list) or not data:
            raise GenerationError(
                "OpenAI returned no image (empty `data`); it was billed, so it is not sent "
                "again now (a later run may, within the cap)",
                happened="unusable_reply",
            )
        image = image_from_base64(getattr(data[0], "b64_json", None), origin="OpenAI")
        return image, cost, usage, request_id

    def _description_of(
        self, completion: object, paid: PaidRequest
    ) -> tuple[str, float | None, dict[str, Any] | None]:
        if not isinstance(completion, ChatCompletion):
            paid.billed(None, detail=f"non-JSON content {_snippet(completion)}")
            raise GenerationError(
                f"the describe step answered with non-JSON content ({_snippet(completion)}); "
                "retried on the next run",
                happened="unusable_reply",
            )
        usage = completion.usage.model_dump(exclude_none=True) if completion.usage else None
        cost = paid.billed(
            self.prices.text_cost(self.config.vision_model, usage),
            usage=usage,
            request_id=_request_id(completion),
        )
        choices = completion.choices if isinstance(completion.choices, list) else []
        if not choices:
            raise GenerationError(
                "the describe step returned no choices", happened="unusable_reply"
            )
        choice = choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal or choice.finish_reason == "content_filter":
            raise GenerationError(
                "the vision model refused to describe the photo: "
                f"{_clean_text(self._redact(str(refusal or 'content filter')), 300)}",
                happened="refused",
            )
        text = _clean_text(choice.message.content, 2000)
        if not text:
            raise GenerationError(
                "the describe step returned an empty description", happened="unusable_reply"
            )
        return text, cost, usage

    # Sending, and naming what went wrong (the table is pipeline.lib.failures)

    def _call(
        self,
        what: str,
        model: str,
        estimate: float,
        send: Callable[[dict[str, str]], T],
        photo_id: int | None,
    ) -> tuple[T, PaidRequest]:
        """Send through the shared paid-request loop; returns the SDK's result and the
        request's open money (budget hold and ledger row) for the caller to settle."""
        image = what != "chat.completions"
        return self._paid.send(
            what,
            # Tell the server which retry this is, as the SDK's own loop would.
            lambda retry: send({"x-stainless-retry-count": str(retry)}),
            classify=self._classify,
            explain=lambda failure, tries: self._explain(what, failure, tries),
            photo_id=photo_id,
            model=model,
            size=self.config.size if image else None,
            quality=self.config.quality if image else None,
            estimate=estimate,
        )

    def _classify(self, exc: Exception) -> Failure:
        if isinstance(exc, ReplyTooLarge):  # a 200 (error replies are cut instead): billed
            detail = f"{exc} (DOPPEL_OPENAI_MAX_REPLY_BYTES)"
            return Failure("unusable_reply", detail, status=200)
        if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
            happened = transport_failure(exc.__cause__)
            if happened == "reset_before_reply" and isinstance(exc, openai.APITimeoutError):
                happened = "timeout_after_send"
            detail = f"the connection failed ({happened.replace('_', ' ')}, {_cause(exc)})"
            return Failure(happened, detail)
        if isinstance(exc, openai.APIStatusError):
            return Failure(
                _status_failure(exc),
                self._describe(exc),
                exc.status_code,
                exc.request_id,
                _retry_after(exc.response),
            )
        if isinstance(exc, ValueError):  # a 2xx whose JSON does not parse: answered, so billed
            return Failure("unusable_reply", f"malformed JSON: {_brief(exc)}", status=200)
        # An SDK error after sending, or anything else: the outcome is unknown, assume billed.
        return Failure("sent_outcome_unknown", self._redact(_brief(exc)))

    def _explain(self, what: str, failure: Failure, tries: int) -> Exception:
        detail = failure.detail
        own = {
            **_stop_messages(detail),
            "refused": f"refused by OpenAI's safety system ({detail})",
            "unusable_reply": f"OpenAI {what} answered with {detail}; it was billed, "
            + MAY_BE_BILLED,
            "sent_outcome_unknown": f"OpenAI {what} failed: {detail}",
        }
        return explained(failure, tries, own, who=f"OpenAI {what}", settings="DOPPEL_OPENAI_*")

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


def _status_failure(exc: openai.APIStatusError) -> str:
    """The key of `failures.WHAT_HAPPENED` for an error status."""
    status, code, type_ = exc.status_code, exc.code or "", exc.type or ""
    param = getattr(exc, "param", None) or ""
    if code in REFUSAL_CODES or type_ == "image_generation_user_error":
        return "refused"
    if status == 401:
        return "bad_key"
    if status == 429 and "insufficient_quota" in (code, type_):
        return "out_of_quota"
    if "billing" in code or "billing" in type_:
        return "billing_limit"
    if status == 403:
        return "forbidden"
    if status == 404 or code == "model_not_found":
        return "model_not_found"
    if passing := passing_status(status):
        return passing
    if param == "image" or code in BAD_PHOTO_CODES:
        return "bad_photo"
    return "invalid_request"


def _stop_messages(detail: str) -> dict[str, str]:
    """What to fix when OpenAI refuses every request, by what happened."""
    return {
        "bad_key": f"OpenAI rejected the API key ({detail}); set a valid OPENAI_API_KEY "
        "(https://platform.openai.com/api-keys) and re-run the day",
        "out_of_quota": f"the OpenAI account is out of quota ({detail}); add credit or raise "
        "the limit at https://platform.openai.com/settings/organization/billing, then re-run",
        "billing_limit": f"the OpenAI account reached its billing limit ({detail}); raise it "
        "at https://platform.openai.com/settings/organization/billing, then re-run",
        "forbidden": f"OpenAI refused access ({detail}); check the project's permissions, the "
        "organisation's verification for this model, and the region",
        "model_not_found": f"OpenAI could not find the model or route ({detail}); set "
        "DOPPEL_OPENAI_IMAGE_MODEL / DOPPEL_OPENAI_VISION_MODEL to current models and check "
        "DOPPEL_OPENAI_BASE_URL",
    }
