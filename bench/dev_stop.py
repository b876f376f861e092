"""How `make dev` starts and stops, on a fresh local instance in a temporary folder that
holds the repository's root files as a clone does, stopped the way a user stops it.

    python bench/dev_stop.py [--command doppel|dagster] [--signal INT|TERM] [--group]
                             [--days 3] [--wait-run]

`--command doppel` (the default) is `make dev` (`doppel dev`); `dagster` is the bare
`dagster dev` that `make dev` used to run. `--group` signals the whole process group, as a
terminal's Ctrl-C does; without it only the command's own process gets the signal (`kill
PID`, an IDE's stop button). `--days N` runs `doppel run --days N` first; `--wait-run`
stops it while a run is in progress (`--start` an earlier day, so there is one).

Prints: seconds until the UI answers, the backfill the gap-fill sensor starts (its days),
seconds from the signal until every process it started is gone (found by a marker in
their environment, so run workers count too), the warnings logged, and the runs and
backfills the instance is left with.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for testbed

from testbed.processes import processes_with

BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--command", choices=["doppel", "dagster"], default="doppel")
    parser.add_argument("--signal", choices=["INT", "TERM"], default="INT")
    parser.add_argument("--group", action="store_true")
    parser.add_argument("--days", type=int, default=0, help="`doppel run --days N` first")
    parser.add_argument("--wait-run", action="store_true")
    parser.add_argument("--start", help="DOPPEL_START_DATE (unset: the local first day)")
    parser.add_argument("--port", type=int, default=3950)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="doppel-dev-stop-"))
    marker = f"DOPPEL_BENCH_MARK={uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOPPEL_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(tmp / ".dagster_home"), "DOPPEL_DATA_DIR": str(tmp / "data")}
    env |= dict([marker.split("=", 1)])
    if args.start:
        env["DOPPEL_START_DATE"] = args.start
    # The repository's root files, as a clone has them (dagster dev looks at its folder).
    repo = Path(__file__).resolve().parents[1]
    for name in ("dagster.yaml", "workspace.yaml", "pyproject.toml"):
        shutil.copy(repo / name, tmp / name)
    subprocess.run([str(BIN / "doppel"), "instance", "init"], env=env, cwd=tmp, check=True)
    if args.days:
        began = time.monotonic()
        subprocess.run([str(BIN / "doppel"), "run", "--days", str(args.days)], env=env, cwd=tmp,
                       check=True, capture_output=True)  # fmt: skip
        print(f"doppel run --days {args.days}: {time.monotonic() - began:.1f} s")

    log = tmp / "dev.log"
    began = time.monotonic()
    with log.open("wb") as out:
        command = (
            [str(BIN / "doppel"), "dev", "--port", str(args.port)]
            if args.command == "doppel"
            else [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(args.port)]
        )
        dev = subprocess.Popen(
            command,
            env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{args.port}/server_info", timeout=2).is_success:
                    break
            except httpx.TransportError:
                pass
            if dev.poll() is not None or time.monotonic() - began > 120:
                print(log.read_text()[-3000:])
                return 1
            time.sleep(0.25)
        print(f"UI answers after {time.monotonic() - began:.1f} s")
        backfill_days = wait_for_first_tick(tmp, env, args.wait_run, began)
        print(f"gap-fill backfill at start: {backfill_days}")
        before = processes_with(marker)
        sig = signal.SIGINT if args.signal == "INT" else signal.SIGTERM
        stopped = time.monotonic()
        if args.group:
            os.killpg(dev.pid, sig)
        else:
            dev.send_signal(sig)
        while processes_with(marker) and time.monotonic() - stopped < 120:
            time.sleep(0.1)
        left = processes_with(marker)
        gone = time.monotonic() - stopped
        target = "process group" if args.group else f"{args.command} dev pid"
        how = f"{args.command} dev, SIG{args.signal} to the {target}"
        print(f"{how}: {len(before)} processes; {'all gone' if not left else 'still alive'} "
              f"after {gone:.1f} s" + (f" ({left})" if left else ""))  # fmt: skip
    finally:
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text(errors="replace"))
    warnings = [line for line in plain.splitlines() if " - WARNING - " in line]
    print(f"warnings logged: {len(warnings)}")
    for line in warnings:
        print("  ", line.split(" - WARNING - ", 1)[1][:160])
    print("\n".join(line for line in plain.splitlines() if line.startswith("doppel dev:")))
    print("left in the instance:", instance_leftovers(env))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def wait_for_first_tick(tmp: Path, env: dict[str, str], wait_run: bool, began: float) -> str:
    """The days of the first gap-fill backfill (or its skip), after the sensor's first tick;
    with `wait_run`, also until a run is in progress."""
    code = (
        "import dagster as dg, json\n"
        "from pipeline.lib.orchestration.backfills import list_backfills\n"
        "with dg.DagsterInstance.get() as i:\n"
        "    b = list_backfills(i)\n"
        "    runs = i.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))\n"
        "    print(json.dumps([[x.days_by_asset.get('generated_images', []) for x in b], "
        "len(runs)]))\n"
    )
    import json

    while time.monotonic() - began < 240:
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp,
                             capture_output=True, text=True)  # fmt: skip
        if out.returncode == 0:
            backfills, started = json.loads(out.stdout)
            if backfills and (started or not wait_run):
                days = backfills[0]
                return f"{len(days)} days ({days[0]}..{days[-1]})"
            if not backfills and not wait_run and time.monotonic() - began > 45:
                return "none within 45 s of start"
        time.sleep(1)
    return "none within 240 s"


def instance_leftovers(env: dict[str, str]) -> str:
    code = (
        "import dagster as dg, collections\n"
        "from pipeline.lib.orchestration.backfills import list_backfills\n"
        "with dg.DagsterInstance.get() as i:\n"
        "    runs = collections.Counter(r.dagster_run.status.value for r in i.get_run_records())\n"
        "    fills = collections.Counter(b.status for b in list_backfills(i))\n"
        "    print(f'runs {dict(runs)}, backfills {dict(fills)}')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return out.stdout.strip() or out.stderr[-500:]


if __name__ == "__main__":
    sys.exit(main())
