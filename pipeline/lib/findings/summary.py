"""The findings table summed up: every figure with its count and 95 % interval.

What the `findings` asset's metadata and findings.html say, computed once here from the
table (`table.findings_frame`): per generator what carries over (shared top label, the
measures' means), how often the judge tells the two apart and how often it is fooled, which
measures go with fooling it, the most and least convincing look-alikes, and by month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.lib.findings.intervals import Z95, Rate, wilson
from pipeline.lib.findings.table import MEASURES


@dataclass(frozen=True)
class Mean:
    """A mean with its 95 % interval (Student's t, so that a handful of pairs gives the wide
    interval it deserves, kept within the values the measure can take; none below 2 values)."""

    value: float | None
    low: float | None
    high: float | None
    n: int

    def as_record(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


@dataclass(frozen=True)
class Correlation:
    """Pearson's r with its 95 % interval (Fisher's z; none below 4 pairs)."""

    r: float | None
    low: float | None
    high: float | None
    n: int


def mean_of(values: pd.Series, bounds: tuple[float, float] = (-math.inf, math.inf)) -> Mean:
    from scipy.stats import t  # only where figures are summed up

    v = values.dropna().astype(float).to_numpy()
    n = len(v)
    if n == 0:
        return Mean(None, None, None, 0)
    m = float(v.mean())
    if n < 2:
        return Mean(m, None, None, 1)
    half = float(t.ppf(0.975, n - 1)) * float(v.std(ddof=1)) / math.sqrt(n)
    low, high = bounds
    return Mean(m, max(low, m - half), min(high, m + half), n)


def rate_of(flags: pd.Series) -> Rate:
    known = flags.dropna().astype(bool)
    return wilson(int(known.sum()), len(known))


def correlation(x: pd.Series, y: pd.Series) -> Correlation:
    both = pd.DataFrame({"x": x, "y": y}).dropna().astype(float)
    n = len(both)
    if n < 4 or both["x"].std() == 0 or both["y"].std() == 0:
        return Correlation(None, None, None, n)
    r = float(np.corrcoef(both["x"], both["y"])[0, 1])
    z, half = math.atanh(max(min(r, 0.999999), -0.999999)), Z95 / math.sqrt(n - 3)
    return Correlation(r, math.tanh(z - half), math.tanh(z + half), n)


def judge_accuracy(frame: pd.DataFrame) -> Rate:
    """Per image, over the pairs' look-alikes and their photos (each photo once): the
    judge said "photo" (p >= 0.5) of the photo and "machine" of the look-alike. From this
    run's cross-validation over every day (`*_now`) where the table has it, not the kept
    verdicts the pages show (each given by the judge of its time)."""
    suffix = "_now" if "p_photo_now" in frame.columns else ""
    looks = frame[f"p_look_alike{suffix}"].dropna()
    photos = frame.drop_duplicates("photo_id")[f"p_photo{suffix}"].dropna()
    right = int((looks < 0.5).sum()) + int((photos >= 0.5).sum())
    return wilson(right, len(looks) + len(photos))


@dataclass
class GeneratorFindings:
    generator: str
    pairs: int
    shared_top_label: Rate
    measures: dict[str, Mean]
    accuracy: Rate
    fooled: Rate


def per_generator(frame: pd.DataFrame) -> list[GeneratorFindings]:
    out = []
    for generator, group in frame.groupby("generator", sort=True):
        out.append(
            GeneratorFindings(
                str(generator),
                len(group),
                rate_of(group["shared_top_label"]),
                {name: mean_of(group[name], MEASURES[name][2]) for name in MEASURES},
                judge_accuracy(group),
                rate_of(group["fooled"]),
            )
        )
    return out


def fooling_measures(frame: pd.DataFrame) -> dict[str, Correlation]:
    """How each measure goes with the judge's belief that the look-alike is a photo."""
    return {name: correlation(frame[name], frame["p_look_alike"]) for name in MEASURES}


def convincing(frame: pd.DataFrame, k: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The k look-alikes the judge most took for photos, and the k it least did (never the
    same one in both: with fewer than 2k, each list has half)."""
    judged = frame.dropna(subset=["p_look_alike"]).sort_values(
        ["p_look_alike", "day", "photo_id"], ascending=[False, True, True]
    )
    k = min(k, len(judged) // 2)
    if k == 0:
        return judged.head(0), judged.head(0)
    return judged.head(k), judged.tail(k).iloc[::-1]


def head_to_head(frame: pd.DataFrame) -> list[tuple[str, str, Rate]]:
    """Each two generators on the photos both made a look-alike of: how often the judge
    found the first one's more like a photo (a higher probability of "photo"; ties count
    for neither, so they are left out of n)."""
    judged = frame.dropna(subset=["p_look_alike"])
    wide = judged.pivot_table(
        index="photo_id", columns="generator", values="p_look_alike", aggfunc="first"
    )
    names = sorted(str(g) for g in wide.columns)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = wide[[a, b]].dropna()
            both = both[both[a] != both[b]]
            out.append((a, b, wilson(int((both[a] > both[b]).sum()), len(both))))
    return out


def by_month(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for (month, generator), group in frame.groupby(["month", "generator"], sort=True):
        rows.append(
            {
                "month": str(month),
                "generator": str(generator),
                "pairs": len(group),
                "fooled": rate_of(group["fooled"]),
                "shared_top_label": rate_of(group["shared_top_label"]),
                "accuracy": judge_accuracy(group),
            }
        )
    return rows


def headline(frame: pd.DataFrame) -> dict[str, Any]:
    """The `findings` asset's metadata: counts, and each rate with its interval."""
    out: dict[str, Any] = {
        "pairs": len(frame),
        "days": int(frame["day"].nunique()),
        "generators": sorted(str(g) for g in frame["generator"].unique()),
        "judge_accuracy": judge_accuracy(frame).as_record(),
        "judge_fooled": rate_of(frame["fooled"]).as_record(),
    }
    for g in per_generator(frame):
        out[f"{g.generator}_judge_accuracy"] = g.accuracy.as_record()
        out[f"{g.generator}_shared_top_label"] = g.shared_top_label.as_record()
    return out
