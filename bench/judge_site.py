"""What one new day costs the gallery once the judge has spoken: real builds, kept or not.

What is synthesised (not timed): `--days` days of `--per-day` pairs (bench/site_build.py's
days, every photo a stored original) and each image's features (random; the look-alikes
shifted a little), in a temporary local object store. Then, twice (the judge's verdicts kept,
as `machine_judge` does, and this run's cross-validation shown instead): judge every image,
build the findings table, build the gallery; add one day, judge again, build again. Printed:
the second build's files (written, rendered with the same bytes, skipped) and days parsed.
With kept verdicts only the new day's pages and the pages made from every day are written.

    .venv/bin/python bench/judge_site.py [--days 40 --per-day 20]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
from site_build import START, write_day  # bench/, beside this script

from pipeline.defs.names import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day.tables import LOOK_ALIKES, PHOTOS, decode_table
from pipeline.lib.findings.features import (
    LOOK_ALIKE,
    PHOTO,
    WIDTH,
    DayFeatures,
    encode_features,
    features_key,
    gather_features,
)
from pipeline.lib.findings.judge import judge
from pipeline.lib.findings.kept import keep, read_kept
from pipeline.lib.findings.table import encode_frame, findings_frame
from pipeline.lib.site import build_site
from pipeline.lib.site.data import list_days, read_days

FINDINGS = "tables/findings/all.json"


def add_day(store: LocalObjectStore, d: int, per_day: int, rng: np.random.Generator) -> None:
    day = (START + timedelta(days=d)).isoformat()
    write_day(store, day, d * per_day + 1, per_day, 1.0, random.Random(d))
    photos = decode_table(store.get(DAY_TABLES.key(PHOTOS, day))).rows
    looks = decode_table(store.get(DAY_TABLES.key(LOOK_ALIKES, day))).rows
    held = DayFeatures()
    for photo, look in zip(photos, looks, strict=True):
        held.add((PHOTO, photo["id"], ""), str(photo["sha256"]), rng.standard_normal(WIDTH))
        held.add(
            (LOOK_ALIKE, look["photo_id"], str(look["generator"])),
            str(look["sha256"]),
            rng.standard_normal(WIDTH) + 0.05,
        )
    store.put(features_key(day), encode_features(held))


def judge_and_find(store: LocalObjectStore, kept: bool) -> None:
    """machine_judge then findings (pipeline/defs/assets/findings.py); `kept`: False shows
    this run's cross-validation, as the judge did before its verdicts were kept."""
    images, matrix, _ = gather_features(store, list_days(store, DAY_TABLES))
    verdicts = judge(images, matrix, kept=read_kept(store) if kept else None)
    if kept:
        verdicts.images, _ = keep(store, verdicts.images, verdicts.keys)
    days = (raw.tables() for raw in read_days(store, DAY_TABLES))
    frame = findings_frame(((d.photos, d.look_alikes) for d in days), verdicts.images)
    store.put(FINDINGS, encode_frame(frame))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--per-day", type=int, default=20)
    args = parser.parse_args()
    results = {}
    for kept in (True, False):
        with tempfile.TemporaryDirectory(prefix="doppel-judge-site-") as tmp:
            store = LocalObjectStore(Path(tmp))
            rng = np.random.default_rng(0)
            for d in range(args.days):
                add_day(store, d, args.per_day, rng)
            judge_and_find(store, kept)
            build_site(store, tables=DAY_TABLES, findings_key=FINDINGS, render_workers=1)
            add_day(store, args.days, args.per_day, rng)
            judge_and_find(store, kept)
            again = build_site(store, tables=DAY_TABLES, findings_key=FINDINGS, render_workers=1)
            files = again.files
            results["kept" if kept else "not_kept"] = {
                "written": files.written,
                "unchanged": files.unchanged,
                "skipped": files.skipped,
                "days_parsed": again.days_parsed,
                "problems": len(again.problems),
            }
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(json.dumps({"bench": "judge_site", "days": args.days + 1, "per_day": args.per_day,
                      "load": load, "one_more_day": results}))  # fmt: skip


if __name__ == "__main__":
    main()
