"""What the offline generators (patch remix, style transfer) share: settings given whole or
as fields, and one way of turning their result, or their failure, into a `Generation`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from PIL import Image
from pydantic import BaseModel

from pipeline.lib.generators import Generation, GenerationError

S = TypeVar("S", bound=BaseModel)


class OfflineResult(Protocol):
    image: Image.Image
    record: dict[str, Any]


def offline_settings(kind: type[S], settings: S | None, given: dict[str, Any], label: str) -> S:
    """`settings` (or `kind`'s defaults) with the `given` fields replaced; unknown names fail."""
    unknown = set(given) - set(kind.model_fields)
    if unknown:
        raise TypeError(f"unknown {label} settings: {', '.join(sorted(unknown))}")
    base = settings if settings is not None else kind()
    # Validated again, so a replaced field is checked like a given one.
    return kind.model_validate(base.model_dump() | given) if given else base


def offline_generation(
    make: Callable[[], OfflineResult],
    *,
    label: str,
    generator: str,
    model: str,
    strategy: Callable[[dict[str, Any]], str],
) -> Generation:
    """Run `make` and describe what it made; free and local, so no cost and no prompt."""
    t0 = time.perf_counter()
    try:
        result = make()
    except ValueError as exc:  # an image it cannot work with: retrying won't help
        raise GenerationError(f"{label}: {exc}", retryable=False) from exc
    except MemoryError as exc:
        raise GenerationError(f"{label} ran out of memory", retryable=True) from exc
    return Generation(
        image=result.image,
        generator=generator,
        model=model,
        strategy=strategy(result.record),  # its attempts: in `quality`
        prompt=None,
        cost_usd=0.0,
        seconds=round(time.perf_counter() - t0, 3),
        quality=result.record,
    )
