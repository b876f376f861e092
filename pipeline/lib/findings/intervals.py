"""Rates with their 95 % interval: the one way the findings state a proportion.

The Wilson score interval (Wilson 1927) rather than the normal one: it stays inside 0–1 and
keeps its coverage with few trials or rates near 0 or 1, which is where a young gallery is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile


@dataclass(frozen=True)
class Rate:
    """`hits` out of `n`, with its 95 % Wilson interval (0–1; (0, 1) when n is 0)."""

    hits: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None

    @property
    def holds(self) -> bool:
        """There is a figure to show (at least one trial)."""
        return self.n > 0

    def contains(self, share: float) -> bool:
        return self.low <= share <= self.high

    def as_record(self) -> dict[str, float | int | None]:
        return {
            "hits": self.hits,
            "n": self.n,
            "value": self.value,
            "low": self.low,
            "high": self.high,
        }


def wilson(hits: int, n: int, z: float = Z95) -> Rate:
    if n < 0 or not 0 <= hits <= n:
        raise ValueError(f"wilson: need 0 <= hits <= n, got {hits} of {n}")
    if n == 0:
        return Rate(0, 0, 0.0, 1.0)
    p = hits / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # Exact at the ends (rounding would otherwise put 0 or 1 a hair outside).
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == n else min(1.0, centre + half)
    return Rate(hits, n, low, high)


def percent(rate: Rate) -> str:
    """'62 % (95 % interval 55–69 %, n = 180)', or 'no figure yet (n = 0)'."""
    if not rate.n:
        return "no figure yet (n = 0)"
    value = rate.value or 0.0
    return (
        f"{value * 100:.0f} % (95 % interval {rate.low * 100:.0f}–{rate.high * 100:.0f} %, "
        f"n = {rate.n})"
    )
