"""Look-alikes from a self-hosted Stable Diffusion server: `POST /sdapi/v1/img2img`.

Automatic1111, Forge and SD.Next all speak this route when started with `--api`: the photo
goes in as a base64 `init_images` entry, and `denoising_strength` says how far the result may
wander from it (0.3–0.6 keeps the composition). The seed is the photo's stable seed, so a
retry draws the same look-alike. Such servers run one job at a time, so extra concurrency
only queues; the timeout must cover the queue.

A self-hosted server costs nothing per call, but a rented or hosted one may bill each
answer, so every POST goes through the same paid-request loop as OpenAI's
(`pipeline.lib.billing.paid`): a ledger row before it is sent, the per-photo cap, and the
one failures table. Only what was not billed (a 5xx, 429, a reset before any reply) is
retried at once; a 200 that cannot be used or a timeout counts against the cap; a refused
login or a missing route stops the day. Each answer costs `price_per_image_usd`
(DOPPEL_IMG2IMG_PRICE_PER_IMAGE_USD), like a price of OpenAI's table: the estimate before
sending, the figure in the ledger and the gallery after. Unset, it is $0: self-hosted, no
price set (said so in the generation's details).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from pipeline.lib.billing.budget import DailyBudget
from pipeline.lib.billing.ledger import Ledger
from pipeline.lib.billing.paid import Failure, PaidRequest, PaidRequests, transport_failure
from pipeline.lib.core.http import HttpRetry, retry_after_seconds
from pipeline.lib.core.replies import ReplyTooLarge, capped_replies
from pipeline.lib.failures import GenerationError, passing_status
from pipeline.lib.generators import Generation, LoadedPhoto
from pipeline.lib.generators.explain import MAY_BE_BILLED, explained, tries_text
from pipeline.lib.generators.img2img_config import Img2ImgConfig
from pipeline.lib.generators.transfer import image_from_base64, upload_of

ROUTE = "/sdapi/v1/img2img"
# Recorded from the server's `info` so a look-alike can be reproduced.
INFO_KEYS = (
    "seed",
    "sd_model_name",
    "sd_model_hash",
    "sampler_name",
    "steps",
    "cfg_scale",
    "denoising_strength",
    "width",
    "height",
)


NO_PRICE = "self-hosted, no price set"  # DOPPEL_IMG2IMG_PRICE_PER_IMAGE_USD unset
REPLY = "an answer that"  # "... grew past the N-byte cap": how a capped reply is named


class Img2ImgGenerator:
    """Thread-safe: one httpx client serves every thread."""

    name = "img2img"

    def __init__(
        self,
        config: Img2ImgConfig,
        *,
        ledger: Ledger | None = None,
        budget: DailyBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self._policy = HttpRetry(attempts=config.max_retries + 1)
        self._paid = PaidRequests(
            self.name, policy=self._policy, budget=budget, ledger=ledger, sleep=sleep
        )
        self.budget, self.ledger = self._paid.budget, self._paid.ledger  # read by the asset
        self._client = httpx.Client(
            base_url=config.base_url,
            timeout=httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s)),
            auth=httpx.BasicAuth(*config.auth) if config.auth else None,
            headers={"Accept": "application/json"},
            follow_redirects=False,  # credentials go to the configured server only
            event_hooks={"response": [capped_replies(config.max_reply_bytes, what=REPLY)]},
        )

    def close(self) -> None:
        self._client.close()

    def generate(self, photo: LoadedPhoto) -> Generation:
        cfg = self.config
        started = time.monotonic()
        width, height = output_size(photo.image.size, cfg.long_side)
        prompt = cfg.prompt
        if photo.description:
            description = " ".join(photo.description.split())[:300]
            prompt = f"{description}, {prompt}"
        payload: dict[str, Any] = {
            "init_images": [upload_of(photo, max(cfg.long_side, 512)).base64()],
            "prompt": prompt,
            "negative_prompt": cfg.negative_prompt,
            "denoising_strength": cfg.denoising_strength,
            "steps": cfg.steps,
            "cfg_scale": cfg.cfg_scale,
            "seed": photo.seed,
            "width": width,
            "height": height,
            "batch_size": 1,
            "n_iter": 1,
            "send_images": True,
            "save_images": False,
        }
        if cfg.sampler:
            payload["sampler_name"] = cfg.sampler
        if cfg.checkpoint:
            payload["override_settings"] = {"sd_model_checkpoint": cfg.checkpoint}

        response, paid = self._post(payload, photo.photo_id)
        # A 200: billed (if the server bills at all), whatever the body turns out to be.
        cost = paid.billed(cfg.price_per_image_usd, request_id=response.headers.get("x-request-id"))
        body = self._json_of(response)
        images = body.get("images")
        if not isinstance(images, list) or not images:
            raise GenerationError("the img2img server returned no image", happened="unusable_reply")
        image = image_from_base64(images[0], origin="the img2img server", asked=(width, height))
        info, info_error = _info_of(body.get("info"))
        details = {k: info[k] for k in INFO_KEYS if k in info}
        if info_error:
            details["info_error"] = info_error
        if not cfg.price_per_image_usd:  # $0 says "free"; this says why it is $0
            details["price"] = NO_PRICE
        return Generation(
            image=image,
            generator=self.name,
            model=str(info.get("sd_model_name") or cfg.checkpoint or "") or None,
            strategy="img2img",
            prompt=prompt,
            cost_usd=cost,
            usage=details,
            seconds=round(time.monotonic() - started, 3),
        )

    def _post(
        self, payload: dict[str, Any], photo_id: int | None
    ) -> tuple[httpx.Response, PaidRequest]:
        def send(_retry: int) -> httpx.Response:
            response = self._client.post(ROUTE, json=payload)
            response.raise_for_status()  # an error status is classified, not returned
            return response

        return self._paid.send(
            ROUTE,
            send,
            classify=_classify,
            explain=self._explain,
            photo_id=photo_id,
            model=self.config.checkpoint,
            estimate=self.config.price_per_image_usd,
        )

    def _explain(self, failure: Failure, tries: int) -> Exception:
        url = self.config.base_url.rstrip("/") + ROUTE
        detail, count = failure.detail, tries_text(tries)
        billed = f"; it may have been billed, {MAY_BE_BILLED}"
        credentials = (
            f"the img2img server refused the credentials ({detail}); set "
            "DOPPEL_IMG2IMG_AUTH=user:password as given to --api-auth"
        )
        own = {
            "not_sent": f"cannot connect to the img2img server at {url} ({detail}, {count}); "
            "start it with --api or fix DOPPEL_IMG2IMG_BASE_URL",
            "bad_key": credentials,
            "forbidden": credentials,
            "model_not_found": f"the img2img server cannot serve {ROUTE} ({detail}); start it "
            "with --api and check DOPPEL_IMG2IMG_SAMPLER / DOPPEL_IMG2IMG_CHECKPOINT",
            "bad_photo": f"the img2img server lost the photo ({detail})",
            "unusable_reply": f"the img2img server sent {detail}{billed}",
            "timeout_after_send": f"the img2img server did not answer within "
            f"{self.config.timeout_s:g}s ({detail}){billed}; raise DOPPEL_IMG2IMG_TIMEOUT_S "
            "if it is busy",
            "reply_cut_short": f"the img2img server cut its answer short ({detail}){billed}",
            "reset_before_reply": f"the img2img server dropped the connection ({detail}, "
            f"{count}); retried on the next run",
        }
        # A server that cannot be reached is down for every photo: stop the day.
        return explained(
            failure,
            tries,
            own,
            who="the img2img server",
            settings="DOPPEL_IMG2IMG_*",
            unavailable={"not_sent"},
        )

    @staticmethod
    def _json_of(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise GenerationError(
                f"the img2img server answered with malformed JSON ({type(exc).__name__}); "
                "retried on a later run, within the cap",
                happened="unusable_reply",
            ) from None
        if not isinstance(body, dict):
            raise GenerationError(
                "the img2img server answered with unexpected JSON", happened="unusable_reply"
            )
        return body


def output_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The photo's aspect ratio at `long_side`, both sides multiples of 64 (what SD wants),
    so at least 64; the look-alike is cropped to the photo's exact aspect ratio after."""
    width, height = size
    scale = long_side / max(width, height)
    return (max(64, round(width * scale / 64) * 64), max(64, round(height * scale / 64) * 64))


def _info_of(raw: object) -> tuple[dict[str, Any], str | None]:
    """`info` is a JSON document inside a string; a bad one costs the details, not the image."""
    if isinstance(raw, dict):
        return raw, None
    if not isinstance(raw, str):
        return {}, "info missing"
    try:
        info = json.loads(raw)
    except ValueError:
        return {}, "info is not valid JSON"
    return (info, None) if isinstance(info, dict) else ({}, "info is not a JSON object")


def _classify(exc: Exception) -> Failure:
    """The key of `failures.WHAT_HAPPENED` for what a POST raised."""
    if isinstance(exc, ReplyTooLarge):  # a 200, so answered (and billed, if it bills)
        return Failure("unusable_reply", f"{exc} (DOPPEL_IMG2IMG_MAX_REPLY_BYTES)", status=200)
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        status = response.status_code
        detail = f"HTTP {status}: {_error_detail(response)}"
        retry_after = retry_after_seconds(response)
        return Failure(_status_failure(status, detail), detail, status, None, retry_after)
    if isinstance(exc, httpx.TransportError):
        happened = transport_failure(exc)
        return Failure(happened, f"{happened.replace('_', ' ')}, {type(exc).__name__}")
    return Failure("sent_outcome_unknown", f"{type(exc).__name__}: {exc}"[:200])


def _status_failure(status: int, detail: str) -> str:
    """A1111 answers 401 for a wrong --api-auth login, 404 for a missing route, sampler or
    init image, 422 for a body it cannot validate, 500 for a crash (out of GPU memory)."""
    if status == 401:
        return "bad_key"
    if status == 403:
        return "forbidden"
    if status == 404:
        return "bad_photo" if "init image" in detail.lower() else "model_not_found"
    if passing := passing_status(status):
        return passing
    return "invalid_request"


def _error_detail(response: httpx.Response) -> str:
    """A1111's error shape is {"error", "detail", "body", "errors"}; proxies send HTML."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("error", "detail", "errors") if body.get(k)]
        text = " – ".join(parts)
    else:
        text = response.text
    return " ".join(text.split())[:300] or response.reason_phrase
