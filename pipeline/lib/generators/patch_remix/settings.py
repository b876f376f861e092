"""Settings for the patch remix; the defaults were calibrated on the 7 bundled sample photos.

Gate calibration (256 px, seeds 1-4, `bench/patch_remix.py --seeds 1,2,3,4`; 28 runs):

* copy: the input itself scores largest copied region = zero-shift = 1.0; JPEG-recompressed
  copies 0.8-1.0. Accepted outputs had regions 0.07-0.30 and zero-shift 0.00-0.31. Attempts
  with 0.31-0.35 were visibly mostly the photo (retina: only the optic disc moved), so the
  limit stays at 0.3 even though it flags some retina runs.
* near-copy by SSIM: on flat graphics (a colour wheel, gradients, a flag) every patch looks
  like its neighbours, so a remix comes out close to the graphic (SSIM 0.87-0.999 at seeds
  1-2) while few of its patches count as copied (the copy measures weigh patches by their
  detail), and the copy limits above passed it. SSIM above 0.8, the line between "not a
  copy" and a near-copy, is therefore a copy too. Accepted remixes of the sample photos sit
  at 0.34-0.75 (seed 1, 256 px; the flagged retina at 0.78), so none of them changed
  (`pipeline_tests/lib/test_patch_remix_near_copies.py`, `bench/gate_calibration.py`).
* soup: 8 and 16 px block shuffles of every photo have incoherence 0.39-3.8 (accepted
  outputs 0.011-0.13) and no rigid pieces, so incoherence > 0.25 catches them. Their
  patch-SWD is 0.27-8.3: SWD alone misses a shuffled deep field or cat, and it cannot see
  a collage of whole parts (a face pasted twice); it is kept for collapse and drift
  (accepted 0.4-2.3; the notes' "soup" begins near 2.5).
* fragmentation: piece coverage (detail inside rigid pieces of ≥ 1 % of the image) was
  0.13-0.36 on outputs judged by eye as soup (red "goo" round a broken cup, scattered cat
  eyes) and 0.34-0.72 on good ones; below 0.33 is soup. The overlap is real: a few
  collages still pass, which is the family's known limit on portraits and close-ups.
* colour: per-channel W1 of accepted outputs 0.004-0.028; 0.03 flags colour collapse
  (a red saucer tiling the table, the retina's black border swallowing the fundus).

Screening limits are stricter than the gate because the fine levels add copying. In 105
calibration runs (5 noise levels × 3 seeds × 7 photos), the 72 candidates screened as "not a
copy" (coarse region ≤ 0.15, zero-shift ≤ 0.2) all ended below the gate's copy limits at
full size (region ≤ 0.24); 27 of the 33 screened as copies were copies at full size.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RemixSettings(BaseModel):
    """How to remix: resolution, pyramid, nearest-neighbour search, and the quality gate.

    Noise is relative: the coarsest level gets Gaussian noise with standard deviation
    `noise` × that level's own standard deviation, so one setting behaves alike on
    high- and low-contrast photos. `work_size` is also a setting (DOPPEL_WORK_SIZE, through
    pipeline/lib/settings.py); the rest are calibrated constants.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    work_size: int = Field(
        default=256,
        ge=32,
        le=1024,
        description="Long side the patch remix works at, pixels.",
        json_schema_extra={"readme": True},
    )
    output_size: int | None = None  # long side of the returned image; None = work_size
    max_attempts: int = 3
    # pyramid and synthesis
    patch: int = 7
    ratio: float = 0.75
    min_side: int = 20  # the coarsest level's short side is at least this
    noise_ladder: tuple[float, ...] = (4.5, 6.0, 8.0, 11.0, 15.0)  # candidate noise levels
    start_step: int = 1  # the ladder step tried first
    max_screens: int = 6  # coarse candidates screened per remix, at most
    alpha: float = 5e-3  # completeness at the exact levels; smaller = stronger
    claim: bool = True  # at the exact levels, unused input patches claim their nearest spot
    exact_max_patches: int = 2500  # levels with at most this many patches use exact search
    screen_max_patches: int = 1000  # candidates are screened at the finest level this small
    start_iterations: int = 1  # EM iterations at the noisy start level
    assign_levels: int = 2  # levels (from the start) matched one-to-one: no content is lost
    assign_iterations: int = 1  # one-to-one iterations per such level (then alpha matching)
    assign_max_patches: int = 1200  # one-to-one matching is cubic: bigger levels use alpha
    coarse_iterations: int = 4
    fine_iterations: tuple[int, ...] = (2, 3, 3, 4)  # finest level first; then coarse_iterations
    pca_dims: int = 24
    polish_radius: int = 4  # random-search window of PatchMatch after a level's first pass
    fold_sigma: float = 1.0  # patch-centre weighting when overlaps are averaged
    # quality gate (calibration in the module docstring)
    max_copied_region: float = 0.3
    max_zero_shift: float = 0.4
    max_ssim: float = 0.8  # the "not a copy" line, as for style transfer
    max_swd: float = 2.5
    max_incoherence: float = 0.25
    min_piece_coverage: float = 0.33
    max_colour: float = 0.03
    # screening limits at the coarse level (fine levels add copying, so these are stricter)
    screen_copied_region: float = 0.15
    screen_zero_shift: float = 0.2
    screen_colour: float = 0.03

    @model_validator(mode="after")
    def _usable(self) -> RemixSettings:
        if self.output_size is not None and self.output_size < 1:
            raise ValueError("output_size must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not self.noise_ladder or not 0 <= self.start_step < len(self.noise_ladder):
            raise ValueError("start_step must index noise_ladder")
        if not 0.5 <= self.ratio < 0.95:
            raise ValueError("ratio must be in [0.5, 0.95)")
        if self.patch < 3 or self.patch % 2 == 0:
            raise ValueError("patch must be an odd number ≥ 3")
        return self

    def iterations(self, level: int) -> int:
        """EM iterations at pyramid level `level` (0 = finest)."""
        its = self.fine_iterations
        return its[level] if level < len(its) else self.coarse_iterations

    def as_record(self) -> dict[str, Any]:
        return self.model_dump(mode="json")  # tuples as lists
