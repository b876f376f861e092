"""Doppel's gallery beside sigal's (a well-known static gallery builder) on the same images.

    pip install -e '.[bench]'   # sigal, an optional bench dependency
    .venv/bin/python bench/sigal_compare.py [--pairs 1000] [--rounds 3]

The images: `--pairs` synthetic pairs (bench/site_build.py's days), every photo a stored
original (as the bundled samples are) and every look-alike a PNG, so both builders copy all
2 × pairs images: Doppel makes its WebP copies and its pages, sigal its thumbnails, resized
images and album pages (one album per day, the same files, hard-linked).

Each round, both from nothing, the order alternating between rounds:
- full: sigal (`sigal build`, a fresh process), Doppel as a fresh `doppel gallery` process,
  and Doppel in this process (`publish_gallery`, as the `gallery_site` asset runs it);
- one day: a new day's images added to both, then sigal's build and a fresh `doppel gallery`
  again (sigal skips the images it already made; Doppel writes only what changed).
Times are wall seconds; the machine's load average is printed with them. Targets (issue 28):
Doppel's full build no slower than sigal's, and its one-day build as a fresh process ≤ 1 s.
The last line is one JSON object (medians over the rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from site_build import START, QuickStore, write_day  # bench/, beside this script

from pipeline.defs.names import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day.tables import LOOK_ALIKES, PHOTOS, decode_table
from pipeline.lib.db import Database
from pipeline.lib.settings import load_settings
from pipeline.lib.site.gallery import gallery_target, open_store, publish_gallery

BIN = Path(sys.executable).parent
SIGAL_CONF = """# sigal's defaults, with its thumbnails and resized copies as Doppel makes them
source = {source!r}
destination = {destination!r}
img_size = (1080, 1080)
thumb_size = (400, 400)
"""


def day_name(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


def link_day(store: LocalObjectStore, day: str, album: Path) -> int:
    """Hard-link a day's images (photos and look-alikes) into a sigal album."""
    album.mkdir(parents=True, exist_ok=True)
    count = 0
    for schema in (PHOTOS, LOOK_ALIKES):
        for row in decode_table(store.get(DAY_TABLES.key(schema, day)), schema).rows:
            key = row.get("object_key")
            if isinstance(key, str):
                target = album / key.replace("/", "_")
                if not target.exists():
                    os.link(store.path(key), target)
                count += 1
    return count


def timed(command: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=os.environ, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--per-day", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("sigal", path=str(BIN)) is None:
        sys.exit("sigal is not installed: pip install -e '.[bench]' (or pip install sigal)")

    work = Path(tempfile.mkdtemp(prefix="doppel-sigal-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    os.environ.clear()
    os.environ.update(env | {"DOPPEL_DATA_DIR": str(work)})
    settings = load_settings()
    store, target = open_store(settings), gallery_target(settings)
    assert isinstance(store, LocalObjectStore)
    db = Database(settings.resolved_database_url)
    days, rng = args.pairs // args.per_day, random.Random(7)
    quick = QuickStore(store.root)
    source, destination = work / "sigal-source", work / "sigal-site"
    images = 0
    for n in range(days + 1):  # the last one is the "new day" of each round
        write_day(quick, day_name(n), n * args.per_day + 1, args.per_day, 1.0, rng)
        if n < days:
            images += link_day(store, day_name(n), source / day_name(n))
    conf = work / "sigal.conf.py"
    conf.write_text(SIGAL_CONF.format(source=str(source), destination=str(destination)))
    sigal = [str(BIN / "sigal"), "build", "-q", "-c", str(conf)]
    doppel = [sys.executable, "-m", "pipeline.cli", "gallery"]
    new_day = day_name(days)
    new_tables = {s: store.get(DAY_TABLES.key(s, new_day)) for s in (PHOTOS, LOOK_ALIKES)}
    print(f"{images} images in {days} days; one more day: 2 × {args.per_day} images")

    rounds = []
    try:
        for r in range(args.rounds):
            for schema in (PHOTOS, LOOK_ALIKES):  # the new day is not there yet
                store.delete(DAY_TABLES.key(schema, new_day))
            shutil.rmtree(source / new_day, ignore_errors=True)
            figures: dict[str, float] = {"load": os.getloadavg()[0]}

            def sigal_full(figures: dict[str, float]) -> None:
                shutil.rmtree(destination, ignore_errors=True)
                figures["sigal_full_s"] = timed(sigal, work)

            def doppel_full(figures: dict[str, float]) -> None:
                shutil.rmtree(store.root / target.prefix, ignore_errors=True)
                figures["doppel_full_fresh_s"] = timed(doppel, work)
                shutil.rmtree(store.root / target.prefix, ignore_errors=True)
                began = time.perf_counter()
                publish_gallery(store, target, db, tables=DAY_TABLES)
                figures["doppel_full_in_process_s"] = time.perf_counter() - began

            for step in (sigal_full, doppel_full) if r % 2 == 0 else (doppel_full, sigal_full):
                step(figures)
            for schema, data in new_tables.items():
                store.put(DAY_TABLES.key(schema, new_day), data)
            link_day(store, new_day, source / new_day)
            runs = [("sigal_one_day_s", sigal), ("doppel_one_day_fresh_s", doppel)]
            for name, command in runs if r % 2 == 0 else runs[::-1]:
                figures[name] = timed(command, work)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
            rounds.append(figures)
    finally:
        db.dispose()
        shutil.rmtree(work, ignore_errors=True)
    medians = {k: round(statistics.median(f[k] for f in rounds), 2) for k in rounds[0]}
    medians["full_fresh_vs_sigal"] = round(
        medians["doppel_full_fresh_s"] / medians["sigal_full_s"], 2
    )
    medians["one_day_fresh_vs_sigal"] = round(
        medians["doppel_one_day_fresh_s"] / medians["sigal_one_day_s"], 2
    )
    print(json.dumps({"images": images, "rounds": args.rounds, **medians}))


if __name__ == "__main__":
    main()
