"""`remix`: photo + seed → a new, similar image and a record of how it was judged.

Quality loop. Whether a noise level gives a copy or soup depends on the photo and the seed,
and it shows already at the coarse levels, which cost a tenth of a full run. So each full
attempt is preceded by cheap screening:

1. **Screen** a candidate: run the coarse levels (down to ~1,000 patches, ~40 px) from one
   step of the noise ladder and predict its verdict there. Predicted copy → screen the next
   step up; predicted soup → the next step down; each screen draws fresh noise.
2. **Attempt** the first candidate predicted to pass (or, once `max_screens` are spent, the
   least bad one): finish it at full resolution and judge it with the full gate. A copy
   moves the search up the ladder, soup moves it down; at most `max_attempts` full runs.
3. If no attempt passes, the least bad one is returned with `accepted: false`: the caller
   must show it flagged, never as a success.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from pipeline.lib.generators.offline import working_size
from pipeline.lib.generators.patch_remix.pyramid import build_pyramid, level_shapes
from pipeline.lib.generators.patch_remix.quality import (
    Measures,
    Verdict,
    badness,
    judge,
    measure,
    predict,
)
from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.generators.patch_remix.synthesis import State, advance, begin
from pipeline.lib.measures.metrics import to_float

VERSION = "patch-remix-v1"
DEFAULT_SETTINGS = RemixSettings()


@dataclass
class RemixResult:
    image: Image.Image
    record: dict[str, Any]


@dataclass
class _Candidate:
    step: int  # index into the noise ladder
    draw: int  # how many candidates this step had before
    state: State
    rng: np.random.Generator
    predicted: Verdict
    coarse: dict[str, float]
    attempted: bool = False

    @property
    def key(self) -> str:
        return f"{self.step}.{self.draw}"


@dataclass
class _Screening:
    """The coarse candidates of one remix: screened on demand, never twice."""

    pyramid: list[np.ndarray]
    start: int  # coarsest level: where the noise goes in
    stop: int  # the level where candidates are judged
    contrast: float
    seed: int
    s: RemixSettings
    screened: list[_Candidate] = field(default_factory=list)

    def screen(self, step: int) -> _Candidate:
        draw = sum(c.step == step for c in self.screened)
        rng = np.random.default_rng([self.seed % 2**64, step, draw])
        noise = self.s.noise_ladder[step] * self.contrast
        state = begin(self.pyramid, self.start, noise, rng, self.s)
        state = advance(self.pyramid, state, self.stop, rng, self.s, self.start)
        verdict, coarse = predict(
            self.pyramid[self.stop], state.image, self.s.patch, state.field, self.s
        )
        cand = _Candidate(step, draw, state, rng, verdict, coarse)
        self.screened.append(cand)
        return cand

    def next_candidate(self, step: int) -> _Candidate | None:
        """Screen from `step`, moving up the ladder after a predicted copy and down after
        predicted soup, until a candidate is predicted to pass or the budget is spent."""
        top = len(self.s.noise_ladder) - 1
        while len(self.screened) < self.s.max_screens:
            cand = self.screen(step)
            if cand.predicted == "ok":
                return cand
            step = min(step + 1, top) if cand.predicted == "copy" else max(step - 1, 0)
        left = [c for c in self.screened if not c.attempted]
        return min(left, key=self._risk) if left else None

    def _risk(self, c: _Candidate) -> float:
        s = self.s
        return max(
            c.coarse["largest_copied_region"] / s.screen_copied_region,
            c.coarse["zero_shift"] / s.screen_zero_shift,
            c.coarse["colour_distance"] / s.screen_colour,
        )


def remix(
    image: Image.Image, *, seed: int, settings: RemixSettings = DEFAULT_SETTINGS
) -> RemixResult:
    """Make a look-alike of `image`. Deterministic for a given seed, settings and machine."""
    t0 = time.perf_counter()
    s = settings
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    # A panorama or a strip works at 32 px on its short side, longer than `work_size`.
    work_shape = working_size(rgb.size, min(s.work_size, max(rgb.size)))
    work = rgb if work_shape == rgb.size else rgb.resize(work_shape, Image.Resampling.LANCZOS)
    source = to_float(work)
    shapes = level_shapes(source.shape[0], source.shape[1], s.ratio, s.min_side)
    screening = _screening(build_pyramid(source, shapes), seed, s)
    results = _attempts(source, screening)

    passed = [r for r in results if r.record["verdict"] == "ok"]
    best = passed[0] if passed else min(results, key=lambda r: badness(r.measures, s))
    if passed:
        reason = f"attempt {best.record['attempt']} {best.record['reason']}"
    else:
        reason = (
            f"no attempt passed the gate in {len(results)}; returning the least bad, "
            f"attempt {best.record['attempt']} ({best.record['reason']})"
        )
    out = Image.fromarray((np.clip(best.image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    # sized from the original photo, so rounding at the working size never shifts the aspect
    target = working_size(rgb.size, s.output_size or s.work_size)
    if out.size != target:
        out = out.resize(target, Image.Resampling.LANCZOS)
    record: dict[str, Any] = {
        "generator": "patch-remix",
        "version": VERSION,
        "seed": seed,
        "accepted": bool(passed),
        "flagged": not passed,
        "reason": reason,
        "attempt": best.record["attempt"],
        "noise": best.record["noise"],
        **best.measures.as_record(),
        "attempts": [r.record for r in results],
        "screened": [
            {
                "candidate": c.key,
                "noise": s.noise_ladder[c.step],
                "predicted": c.predicted,
                **c.coarse,
            }
            for c in screening.screened
        ],
        "work_size": [work.width, work.height],
        "output_size": [out.width, out.height],
        "levels": len(shapes),
        "settings": s.as_record(),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return RemixResult(image=out, record=record)


@dataclass
class _Attempt:
    """One candidate finished at full resolution and judged by the full gate."""

    image: np.ndarray
    measures: Measures
    record: dict[str, Any]


def _screening(pyramid: list[np.ndarray], seed: int, s: RemixSettings) -> _Screening:
    """The noise goes in at the coarsest level; candidates are judged at the first level
    small enough to screen cheaply."""
    start = len(pyramid) - 1
    stop = min(
        (
            i
            for i, level in enumerate(pyramid)
            if _patches(level.shape[0], level.shape[1], s.patch) <= s.screen_max_patches
        ),
        default=start,
    )
    contrast = float(pyramid[start].std(axis=(0, 1)).mean())
    return _Screening(pyramid, start, stop, contrast, seed, s)


def _attempts(source: np.ndarray, screening: _Screening) -> list[_Attempt]:
    """Full attempts until one passes the gate or `max_attempts` are made: a copy moves the
    search up the noise ladder, soup moves it down."""
    s, pyramid = screening.s, screening.pyramid
    results: list[_Attempt] = []
    step = s.start_step
    while len(results) < s.max_attempts:
        cand = screening.next_candidate(step)
        if cand is None:
            break
        cand.attempted = True
        t = time.perf_counter()
        final = advance(pyramid, cand.state, 0, cand.rng, s, screening.start)
        m = measure(source, final.image, s.patch, final.field)
        verdict, why = judge(m, s)
        record = {
            "attempt": len(results) + 1,
            "candidate": cand.key,
            "noise": s.noise_ladder[cand.step],
            "predicted": cand.predicted,
            **m.as_record(),
            "verdict": verdict,
            "reason": why,
            "seconds": round(time.perf_counter() - t, 3),
        }
        results.append(_Attempt(final.image, m, record))
        if verdict == "ok":
            break
        top = len(s.noise_ladder) - 1
        step = min(cand.step + 1, top) if verdict == "copy" else max(cand.step - 1, 0)
    return results


def _patches(h: int, w: int, patch: int) -> int:
    return (h - patch + 1) * (w - patch + 1)
