"""Look-alikes from a self-hosted Stable Diffusion server: `POST /sdapi/v1/img2img`.

Automatic1111, Forge and SD.Next all speak this route when started with `--api`: the photo
goes in as a base64 `init_images` entry, and `denoising_strength` says how far the result may
wander from it (0.3–0.6 keeps the composition). The seed is the photo's stable seed, so a
retry draws the same look-alike. Such servers run one job at a time, so extra concurrency
only queues; the timeout must cover the queue. Self-hosted generation costs nothing per
call, so no cost is recorded and the OpenAI budget does not apply.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from pipeline.lib.generators import Generation, GenerationError, GeneratorUnavailable, SourceImage
from pipeline.lib.generators.transfer import image_from_base64, upload_of
from pipeline.lib.http import RetryPolicy, send_with_retries
from pipeline.lib.settings import DEFAULT_IMG2IMG_PROMPT

ROUTE = "/sdapi/v1/img2img"
# Recorded from the server's `info` so a look-alike can be reproduced.
INFO_KEYS = ("seed", "sd_model_name", "sd_model_hash", "sampler_name", "steps", "cfg_scale",
             "denoising_strength", "width", "height")  # fmt: skip


@dataclass(frozen=True)
class Img2ImgConfig:
    base_url: str = "http://127.0.0.1:7860"
    auth: tuple[str, str] | None = field(default=None, repr=False)
    prompt: str = DEFAULT_IMG2IMG_PROMPT
    negative_prompt: str = ""
    denoising_strength: float = 0.6
    steps: int = 30
    cfg_scale: float = 7.0
    sampler: str | None = None
    checkpoint: str | None = None
    long_side: int = 1024
    timeout_s: float = 600.0
    max_retries: int = 2


class Img2ImgGenerator:
    """Thread-safe: one httpx client serves every thread."""

    name = "img2img"

    def __init__(self, config: Img2ImgConfig, *, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self._sleep = sleep
        self._policy = RetryPolicy(attempts=config.max_retries + 1)
        self._client = httpx.Client(
            base_url=config.base_url,
            timeout=httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s)),
            auth=httpx.BasicAuth(*config.auth) if config.auth else None,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._client.close()

    def generate(self, source: SourceImage) -> Generation:
        cfg = self.config
        started = time.monotonic()
        width, height = output_size(source.image.size, cfg.long_side)
        prompt = cfg.prompt
        if source.description:
            description = " ".join(source.description.split())[:300]
            prompt = f"{description}, {prompt}"
        payload: dict[str, Any] = {
            "init_images": [upload_of(source, max(cfg.long_side, 512)).base64()],
            "prompt": prompt,
            "negative_prompt": cfg.negative_prompt,
            "denoising_strength": cfg.denoising_strength,
            "steps": cfg.steps,
            "cfg_scale": cfg.cfg_scale,
            "seed": source.seed,
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

        response = self._post(payload)
        body = self._json_of(response)
        images = body.get("images")
        if not isinstance(images, list) or not images:
            raise GenerationError("the img2img server returned no image", retryable=True)
        image = image_from_base64(images[0], origin="the img2img server")
        info, info_error = _info_of(body.get("info"))
        details = {k: info[k] for k in INFO_KEYS if k in info}
        if info_error:
            details["info_error"] = info_error
        return Generation(
            image=image,
            generator=self.name,
            model=str(info.get("sd_model_name") or cfg.checkpoint or "") or None,
            strategy="img2img",
            prompt=prompt,
            cost_usd=None,
            usage=details,
            seconds=round(time.monotonic() - started, 3),
        )

    def _post(self, payload: dict[str, Any]) -> httpx.Response:
        url = self.config.base_url.rstrip("/") + ROUTE
        try:
            response = send_with_retries(
                self._client, "POST", ROUTE, policy=self._policy, sleep=self._sleep, json=payload
            )
        except httpx.ConnectError as exc:
            raise GeneratorUnavailable(
                f"cannot connect to the img2img server at {url} ({type(exc).__name__}); start "
                "it with --api or fix DOPPEL_IMG2IMG_BASE_URL"
            ) from None
        except httpx.TimeoutException as exc:
            raise GenerationError(
                f"the img2img server did not answer within {self.config.timeout_s:g}s "
                f"({type(exc).__name__}, {self._policy.attempts} tries); raise "
                "DOPPEL_IMG2IMG_TIMEOUT_S if it is busy. Retried next run.",
                retryable=True,
            ) from None
        except httpx.TransportError as exc:
            raise GenerationError(
                f"the img2img server dropped the connection ({type(exc).__name__}, "
                f"{self._policy.attempts} tries); retried on the next run",
                retryable=True,
            ) from None
        if response.status_code == 200:
            return response
        detail = f"HTTP {response.status_code}: {_error_detail(response)}"
        if response.status_code in (401, 403):
            raise GeneratorUnavailable(
                f"the img2img server refused the credentials ({detail}); set "
                "DOPPEL_IMG2IMG_AUTH=user:password as given to --api-auth"
            )
        if response.status_code == 404:
            if "init image" in detail.lower():
                raise GenerationError(f"the img2img server lost the photo ({detail})",
                                      retryable=False)  # fmt: skip
            raise GeneratorUnavailable(
                f"the img2img server cannot serve {ROUTE} ({detail}); start it with --api and "
                "check DOPPEL_IMG2IMG_SAMPLER / DOPPEL_IMG2IMG_CHECKPOINT"
            )
        if response.status_code >= 500:
            raise GenerationError(
                f"the img2img server failed ({detail}) after {self._policy.attempts} tries; "
                "retried on the next run",
                retryable=True,
            )
        raise GenerationError(
            f"the img2img server rejected the request ({detail}); check DOPPEL_IMG2IMG_*",
            retryable=False,
        )

    @staticmethod
    def _json_of(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise GenerationError(
                f"the img2img server answered with malformed JSON ({type(exc).__name__}); "
                "retried on the next run",
                retryable=True,
            ) from None
        if not isinstance(body, dict):
            raise GenerationError("the img2img server answered with unexpected JSON",
                                  retryable=True)  # fmt: skip
        return body


def output_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The photo's aspect ratio at `long_side`, both sides multiples of 64 (what SD wants)."""
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
