"""Bench the offline style-transfer generator on the bundled sample photos.

    .venv/bin/python bench/style_transfer.py [--sizes 256,768] [--seed 1] [--out bench/out/]

Each output size runs in its own child process, so its peak RSS is its own (networks,
semantic model and all). Photo i gets seed SEED + i (the pipeline, too, gives each photo its
own seed, and the seed picks the style). Within a child the networks are loaded and warmed
on one photo first (the load time is printed apart), then every photo is painted once.
Prints one line per photo (seconds inside `paint`, gate measures, attempts, style, verdict),
writes a contact sheet (each photo beside its painting at the first size) to
docs/screenshots/style_transfer_contact_sheet.png, and ends with one JSON line.
Targets on 2 cores: median ≤ 0.5 s at 256 px and ≤ 2 s at 768 px, peak RSS ≤ 500 MB, gate
passed on ≥ 6 of 7.
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
from pipeline.lib.generators.style_transfer.paint import Painter, paint
from pipeline.lib.generators.style_transfer.settings import StyleSettings, threads_per_worker

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "pipeline" / "lib" / "sources" / "sample_photos"
SHEET = ROOT / "docs" / "screenshots" / "style_transfer_contact_sheet.png"


def run_size(size: int, seed: int, frames: Path) -> dict:
    """Child process: paint every sample photo at `size`; report records and peak RSS."""
    t = time.perf_counter()
    painter = Painter(StyleSettings(output_size=size, threads=threads_per_worker(1)))
    photos = sorted(SAMPLES.glob("*.jpg"))
    paint(load_image_file(photos[0]), seed=seed + 1000, painter=painter)  # warm: not timed
    load_s = time.perf_counter() - t
    runs = []
    for i, photo in enumerate(photos):
        image = load_image_file(photo)
        # one seed per photo, as the pipeline gives each photo its own: the styles vary
        result = paint(image, seed=seed + i, painter=painter)
        png = frames / f"{photo.stem}_{size}.png"
        result.image.save(png)
        runs.append({**result.record, "photo": photo.stem, "output_png": str(png)})
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"size": size, "load_s": round(load_s, 3), "rss_mb": round(rss_mb, 1), "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="256,768", help="output sizes (long side, px)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--sheet", type=Path, default=SHEET)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    frames = args.out / "style_transfer"
    frames.mkdir(parents=True, exist_ok=True)
    if args.child:
        print(json.dumps(run_size(args.child, args.seed, frames)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    load = os.getloadavg()[0]
    print(
        f"style transfer bench: 7 photos, seed {args.seed}, sizes {sizes}, "
        f"{len(os.sched_getaffinity(0))} CPUs, onnxruntime threads {threads_per_worker(1)}, "
        f"load average {load:.1f}",
        flush=True,
    )
    results = []
    for size in sizes:
        child = subprocess.run(
            [sys.executable, __file__, f"--child={size}", f"--seed={args.seed}",
             f"--out={args.out}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if child.returncode != 0:
            print(f"size {size}: FAILED\n{child.stderr}", flush=True)
            return 1
        res = json.loads(child.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f"-- {size} px: networks loaded and warmed in {res['load_s']:.2f} s")
        for r in res["runs"]:
            print(_line(r), flush=True)
        secs = [r["seconds"] for r in res["runs"]]
        print(f"-- {size} px: median {statistics.median(secs):.3f} s, max {max(secs):.3f} s, "
              f"peak RSS {res['rss_mb']:.0f} MB")  # fmt: skip

    _contact_sheet(results[0]["runs"], results[0]["size"], args.sheet)
    summary: dict = {
        "sizes": sizes,
        "seed": args.seed,
        "max_rss_mb": max(r["rss_mb"] for r in results),
        "images": len(results[0]["runs"]),
        "load_average": round(load, 1),
        "contact_sheet": str(args.sheet.relative_to(ROOT)) if args.sheet.is_relative_to(ROOT)
        else str(args.sheet),
    }  # fmt: skip
    for res in results:
        runs, size = res["runs"], res["size"]
        summary[f"median_s_{size}"] = round(statistics.median(r["seconds"] for r in runs), 3)
        summary[f"max_s_{size}"] = round(max(r["seconds"] for r in runs), 3)
        summary[f"median_paint_s_{size}"] = round(
            statistics.median(sum(a["paint_seconds"] for a in r["attempts"]) for r in runs), 3
        )
        summary[f"gate_passed_{size}"] = sum(r["accepted"] for r in runs)
        summary[f"mean_attempts_{size}"] = round(
            statistics.mean(len(r["attempts"]) for r in runs), 2
        )
    print(json.dumps(summary))
    return 0


def _line(r: dict) -> str:
    verdict = "accepted" if r["accepted"] else "FLAGGED"
    painting = sum(a["paint_seconds"] for a in r["attempts"])
    return (
        f"{r['photo']:22s} {r['seconds']:6.3f} s (painting {painting:.3f} s)  "
        f"semantic {r['semantic_similarity']:.3f} "
        f"(floor {r['semantic_floor']:.3f}, baseline {r['semantic_baseline']:.3f})  "
        f"ssim {r['ssim']:.3f}  attempts {len(r['attempts'])}  {r['style']:18s} "
        f"strength {r['strength']}  {verdict}"
    )


def _contact_sheet(runs: list[dict], size: int, path: Path) -> None:
    """One row per photo: the input, then its painting labelled with style and verdict."""
    rows = []
    for r in runs:
        photo = resize_long_side(load_image_file(SAMPLES / f"{r['photo']}.jpg"), size)
        verdict = "ok" if r["accepted"] else "FLAGGED"
        text = f"{r['style']} {verdict} sem {r['semantic_similarity']:.2f} ssim {r['ssim']:.2f}"
        rows.append([(photo, r["photo"]), (Image.open(r["output_png"]).convert("RGB"), text)])
    save_contact_sheet(rows, path)


if __name__ == "__main__":
    sys.exit(main())
