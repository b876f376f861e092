"""The findings' work at scale: 1,000 and 100,000 synthetic pairs.

What is synthesised (not timed): for each size, days of 100 pairs (one generator) in a
temporary local object store, as the pipeline leaves them: the day tables the IO manager
writes (`tables/<asset>/<day>.json`, with comparisons and labels) and each day's features
file (`features/<day>.npz`, float16, 1,283 per image: random, the look-alikes shifted a
little so the judge has something to find).

What is timed (wall, and the process's CPU: on a busy machine it says more), in a fresh
process per size (so its peak memory is the work's own): what `machine_judge` and
`findings` do, straight through the library: read every day's
features, judge every image (grouped 5-fold cross-validation), read every day table, build
the findings table, sum it up and encode both frames as the IO manager stores them. Then one
more day is added and the same is timed again (`one_more_day_s`), with the number of days
whose shown verdicts it changed (the days the gallery renders again; 1 if the kept verdicts
hold). Target on 2 cores: at most 30 s and 1 GB at 100,000 pairs (the first run). The last
line is one JSON object.

    .venv/bin/python bench/findings.py [--sizes 1000 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.defs.keys import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day.tables import LOOK_ALIKES, PHOTOS, encode_table, table
from pipeline.lib.findings.features import (
    LOOK_ALIKE,
    PHOTO,
    WIDTH,
    DayFeatures,
    encode_features,
    features_key,
)

PAIRS_PER_DAY = 100
LABELS = ("tabby", "coffee mug", "space shuttle", "volcano", "lakeside")


def synthesise(root: Path, pairs: int, first: int = 0) -> None:
    """`pairs` pairs, as days `first`, `first` + 1, … (each day its own random draws)."""
    store = LocalObjectStore(root)
    start = date(2026, 1, 1)
    for d in range(first, first + pairs // PAIRS_PER_DAY):
        rng = np.random.default_rng(d)
        day = (start + timedelta(days=d)).isoformat()
        photos, looks, held = [], [], DayFeatures()
        for p in range(PAIRS_PER_DAY):
            photo_id = d * PAIRS_PER_DAY + p + 1
            photos.append({"id": photo_id, "day": day, "status": "stored", "rank": p + 1,
                           "object_key": f"originals/{photo_id}.jpg", "source": "unsplash",
                           "source_id": f"s{photo_id}", "sha256": f"{photo_id:064x}"})  # fmt: skip
            looks.append({"photo_id": photo_id, "status": "succeeded", "generator": "patch-remix",
                          "object_key": f"generated/{photo_id}.png", "sha256": f"{photo_id:063x}1",
                          "comparisons": {"ssim": float(rng.random()),
                                          "colour_distance": float(rng.random()),
                                          "patch_swd": float(rng.random() * 3),
                                          "semantic_similarity": float(rng.random()),
                                          "phash_distance": int(rng.integers(64)),
                                          "original": {"labels": _label(rng)},
                                          "generated": {"labels": _label(rng)}}})  # fmt: skip
            photo = rng.standard_normal(WIDTH).astype(np.float16)
            look = (rng.standard_normal(WIDTH) + 0.05).astype(np.float16)
            held.add((PHOTO, photo_id, ""), photos[-1]["sha256"], photo)
            held.add((LOOK_ALIKE, photo_id, "patch-remix"), looks[-1]["sha256"], look)
        store.put(DAY_TABLES.key(PHOTOS, day), encode_table(table(PHOTOS, day, photos)))
        store.put(DAY_TABLES.key(LOOK_ALIKES, day), encode_table(table(LOOK_ALIKES, day, looks)))
        store.put(features_key(day), encode_features(held))


def _label(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"name": LABELS[int(rng.integers(5))], "share": 0.5}]


def work(root: Path) -> dict[str, float | int]:
    """What machine_judge and findings do (pipeline/defs/assets/findings.py), then the same
    again after one more day: its time, and how many days' shown verdicts it changed (the
    days the gallery renders again)."""
    import sklearn.linear_model  # noqa: F401 - imported before the clock starts, as in a run

    from pipeline.lib.site.findings import verdicts as shown

    store = LocalObjectStore(root)
    started, cpu = time.perf_counter(), time.process_time()
    first = _judge_and_find(store)
    figures: dict[str, float | int] = {
        "pairs": first["pairs"],
        "images": first["images"],
        "judge_s": first["judge_s"],
        "total_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "judge_accuracy": first["judge_accuracy"],
        "stored_mb": first["stored_mb"],
        # The first run's peak, comparable with the figures before the second run was added.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    synthesise(root, PAIRS_PER_DAY, first=int(first["pairs"]) // PAIRS_PER_DAY)
    started, cpu = time.perf_counter(), time.process_time()
    second = _judge_and_find(store)
    figures["one_more_day_s"] = round(time.perf_counter() - started, 2)
    figures["one_more_day_cpu_s"] = round(time.process_time() - cpu, 2)
    figures["one_more_day_new_verdicts"] = second["new_verdicts"]
    before, after = shown(first["frame"]), shown(second["frame"])
    figures["days_changed_by_one_more_day"] = sum(
        after.get(d) != before.get(d) for d in set(before) | set(after)
    )
    # The same with this run's cross-validation shown instead (no kept verdicts, but the
    # folds and samples by hash): what keeping the verdicts saves.
    unkept = [
        shown(r["frame"].assign(p_photo=r["frame"]["p_photo_now"],
                                p_look_alike=r["frame"]["p_look_alike_now"]))
        for r in (first, second)
    ]  # fmt: skip
    figures["days_changed_unkept"] = sum(
        unkept[1].get(d) != unkept[0].get(d) for d in set(unkept[0]) | set(unkept[1])
    )
    # Both runs, the first's findings table held through the second to compare verdicts.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures["peak_rss_both_runs_mb"] = round(peak / 1024)
    return figures


def _judge_and_find(store: LocalObjectStore) -> dict[str, Any]:
    from pipeline.lib.findings.features import gather_features
    from pipeline.lib.findings.judge import judge
    from pipeline.lib.findings.kept import keep, read_kept
    from pipeline.lib.findings.summary import headline
    from pipeline.lib.findings.table import encode_frame, findings_frame
    from pipeline.lib.site.data import list_days, read_days

    started = time.perf_counter()
    images, matrix, _ = gather_features(store, list_days(store, DAY_TABLES))
    verdicts = judge(images, matrix, kept=read_kept(store))
    del matrix
    verdicts.images, added = keep(store, verdicts.images, verdicts.keys)
    judged_s = time.perf_counter() - started
    judged = encode_frame(verdicts.images)
    days = (raw.tables() for raw in read_days(store, DAY_TABLES))
    frame = findings_frame(((d.photos, d.look_alikes) for d in days), verdicts.images)
    summary = headline(frame)
    encoded = encode_frame(frame)
    return {
        "frame": frame,
        "pairs": len(frame),
        "images": len(verdicts.images),
        "new_verdicts": added,
        "judge_s": round(judged_s, 2),
        "judge_accuracy": round(summary["judge_accuracy"]["value"], 3),
        "stored_mb": round((len(judged) + len(encoded)) / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)  # the timed child
    args = parser.parse_args()
    if args.work is not None:
        print(json.dumps(work(args.work)))
        return
    results = {}
    for pairs in args.sizes:
        with tempfile.TemporaryDirectory(prefix="doppel-findings-bench-") as tmp:
            made = time.perf_counter()
            synthesise(Path(tmp), pairs)
            print(f"{pairs} pairs synthesised in {time.perf_counter() - made:.1f} s", flush=True)
            child = subprocess.run(
                [sys.executable, __file__, "--work", tmp],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"{pairs} pairs: {figures}", flush=True)
            results[str(pairs)] = figures
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(json.dumps({"bench": "findings", "load": load, "results": results}))


if __name__ == "__main__":
    main()
