"""What the offline generators (patch remix, style transfer) share: settings given whole or
as fields, the size they work at, and one way of turning their result, or their failure,
into a `Generation`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from PIL import Image
from pydantic import BaseModel

from pipeline.lib.core.images import MIN_SIDE, fitted_size
from pipeline.lib.failures import GenerationError, sort_failure
from pipeline.lib.generators import Generation

S = TypeVar("S", bound=BaseModel)

# Either way round. At 32 px on the short side a 64:1 photo is 2048×32 px of work, as much as
# a 256 px square; past that, the cost of one look-alike grows without bound.
MAX_ASPECT = 64


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


def working_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """`size` at `long_side` px on its long side, but at least `MIN_SIDE` on its short side
    (a 20:1 panorama at 256: 640×32), keeping its aspect ratio. ValueError for a photo the
    offline generators cannot take: a side under `MIN_SIDE`, or longer than `MAX_ASPECT`:1."""
    w, h = size
    if min(w, h) < MIN_SIDE:
        raise ValueError(f"the image is {w}×{h} px; both sides need at least {MIN_SIDE} px")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ValueError(
            f"the image is {w}×{h} px, {max(w, h) / min(w, h):.0f}:1; the offline generators "
            f"take photos up to {MAX_ASPECT}:1"
        )
    return fitted_size(size, long_side, min_short=MIN_SIDE)


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
    except Exception as exc:  # sorted in the one table, with the generator named
        found = sort_failure(exc)
        raise GenerationError(f"{label}: {found.reason}", happened=found.happened) from exc
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
