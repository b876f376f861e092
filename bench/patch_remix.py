"""Bench the offline patch remix on the bundled sample photos.

    .venv/bin/python bench/patch_remix.py [--size 256] [--seeds 1,2,3] [--out bench/out/]

Each (photo, seed) runs in its own child process, so its peak RSS is its own and not a
high-water mark left by an earlier photo. Prints one line per run (seconds inside `remix`,
peak RSS, quality measures, attempts, verdict), writes a contact sheet of inputs beside
outputs to OUT/patch_remix_contact_sheet.png, and ends with one JSON line:
median_s, max_rss_mb, gate_passed (photos accepted for the first seed), images, and more.
Targets on 2 cores: median ≤ 6 s at 256 px, peak RSS ≤ 1 GB, gate passed on ≥ 6 of 7.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from contact_sheet import save_contact_sheet  # bench/, beside this script
from PIL import Image

from pipeline.lib.core.images import load_image_file, resize_long_side
from pipeline.lib.generators.patch_remix.remix import remix
from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.measures.metrics import pixel_diversity

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "pipeline" / "lib" / "sources" / "sample_photos"
MEASURES = (
    "patch_swd",
    "incoherence",
    "piece_coverage",
    "ssim",
    "zero_shift",
    "largest_copied_region",
)


def run_one(photo: Path, seed: int, settings: RemixSettings, out_png: Path) -> dict:
    """Child process: remix one photo, save the output, report the record and peak RSS."""
    result = remix(load_image_file(photo), seed=seed, settings=settings)
    result.image.save(out_png)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {**result.record, "photo": photo.stem, "output_png": str(out_png), "rss_mb": rss_mb}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="working size (long side, px)")
    parser.add_argument("--seeds", default="1", help="comma-separated seeds, e.g. 1,2,3")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--photos", default="", help="comma-separated photo names (default all)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="override a RemixSettings field, e.g. --set fold_sigma=1.0 (repeatable)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("PHOTO", "SEED", "PNG"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    settings = RemixSettings(work_size=args.size, **overrides)
    if args.child:
        photo, seed, png = args.child
        print(json.dumps(run_one(Path(photo), int(seed), settings, Path(png))))
        return 0

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    photos = sorted(SAMPLES.glob("*.jpg"))
    if args.photos:
        wanted = set(args.photos.split(","))
        photos = [p for p in photos if p.stem in wanted]
    frames = args.out / "patch_remix"
    frames.mkdir(parents=True, exist_ok=True)
    print(
        f"patch remix bench: {len(photos)} photos × seeds {seeds} at {args.size} px, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )

    runs: list[dict] = []
    t_all = time.perf_counter()
    for photo in photos:
        for seed in seeds:
            png = frames / f"{photo.stem}_s{seed}.png"
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    f"--size={args.size}",
                    *(f"--set={item}" for item in args.set),
                    "--child",
                    str(photo),
                    str(seed),
                    str(png),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                print(f"{photo.stem} seed {seed}: FAILED\n{child.stderr}", flush=True)
                return 1
            rec = json.loads(child.stdout.strip().splitlines()[-1])
            runs.append(rec)
            print(_line(rec), flush=True)

    diversity = _diversity(photos, seeds, frames, args.size) if len(seeds) > 1 else {}
    sheet = args.out / "patch_remix_contact_sheet.png"
    _contact_sheet(photos, seeds, runs, args.size, sheet)
    first = [r for r in runs if r["seed"] == seeds[0]]
    summary = {
        "median_s": round(statistics.median(r["seconds"] for r in runs), 3),
        "max_s": round(max(r["seconds"] for r in runs), 3),
        "max_rss_mb": round(max(r["rss_mb"] for r in runs), 1),
        "gate_passed": sum(r["accepted"] for r in first),
        "images": len(first),
        "runs_passed": sum(r["accepted"] for r in runs),
        "runs": len(runs),
        "mean_attempts": round(statistics.mean(len(r["attempts"]) for r in runs), 2),
        "size": args.size,
        "seeds": seeds,
        "overrides": overrides,
        "diversity": diversity,
        "contact_sheet": str(sheet),
        "bench_seconds": round(time.perf_counter() - t_all, 1),
    }
    print(json.dumps(summary))
    return 0


def _line(r: dict) -> str:
    verdict = "accepted" if r["accepted"] else "FLAGGED"
    measures = " ".join(f"{k} {r[k]:.3f}" for k in MEASURES)
    return (
        f"{r['photo']:22s} seed {r['seed']:<3d} {r['seconds']:6.2f} s  rss {r['rss_mb']:6.1f} MB  "
        f"{measures}  colour {r['colour_distance']:.4f}  attempts {len(r['attempts'])}  "
        f"noise {r['noise']}  {verdict}"
    )


def _diversity(photos: list[Path], seeds: list[int], frames: Path, size: int) -> dict:
    out = {}
    for photo in photos:
        source = resize_long_side(load_image_file(photo), size)
        outputs = [Image.open(frames / f"{photo.stem}_s{s}.png").convert("RGB") for s in seeds]
        out[photo.stem] = round(pixel_diversity(outputs, source), 3)
    return out


def _contact_sheet(
    photos: list[Path], seeds: list[int], runs: list[dict], size: int, path: Path
) -> None:
    """One row per photo: the input, then each seed's output labelled with its verdict."""
    by_key = {(r["photo"], r["seed"]): r for r in runs}
    rows = []
    for photo in photos:
        tiles = [(resize_long_side(load_image_file(photo), size), f"{photo.stem} (input)")]
        for seed in seeds:
            r = by_key[(photo.stem, seed)]
            verdict = "ok" if r["accepted"] else "FLAGGED"
            copy = r["largest_copied_region"]
            text = f"seed {seed} {verdict} swd {r['patch_swd']:.1f} copy {copy:.2f}"
            tiles.append((Image.open(r["output_png"]).convert("RGB"), text))
        rows.append(tiles)
    save_contact_sheet(rows, path)


if __name__ == "__main__":
    sys.exit(main())
