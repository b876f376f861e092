"""`doppel`: run the pipeline locally, inspect it, and use its parts from the shell.

Every command fails with one line that says what to do next, never a traceback, unless
DOPPEL_DEBUG=1 is set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dotenv import load_dotenv

from pipeline.lib.observability.logs import install_secret_redaction
from pipeline.lib.settings import DoppelSettings, SettingsError, load_settings


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""


def _settings(local_start: bool = True):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from pipeline.lib.core import clock
    from pipeline.lib.observability.logs import configure_logging
    from pipeline.lib.orchestration.instance import with_local_start

    load_dotenv(".env", override=False)
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)  # secrets from .env included
    if not local_start:
        return settings
    # The start the local instance's partitions have (as `make dev` loads them). Once only:
    # a resolved start counts as set, so it would not move earlier again.
    return with_local_start(settings, clock.utc_today() - timedelta(days=1))


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.runner import run_days

    settings = _settings(local_start=False)  # run_days starts at the first day it makes
    signal.signal(signal.SIGTERM, _interrupt)  # `timeout`, `docker stop`: like Ctrl-C
    try:
        day = _backfill_days(settings, args.day, args.day)[0] if args.day else None
        report = run_days(settings, days=args.days, day=day, say=lambda s: print(s, flush=True))
    except KeyboardInterrupt:
        print(
            "doppel: interrupted; this run's Dagster runs are marked failed and their pool "
            "slots freed",
            file=sys.stderr,
            flush=True,
        )
        # Exit now rather than wait for requests in flight (up to their timeout): their
        # ledger rows stay pending, which counts them as billed, and no re-run repeats them.
        os._exit(130)
    for line in report.lines():
        print(line, flush=True)
    return report.exit_status


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_retry(args: argparse.Namespace) -> int:
    from pipeline.lib.day.paid_retry import RetryRefused, lift_paid_cap
    from pipeline.lib.db import Database

    settings = _settings()
    db = Database(settings.resolved_database_url)
    db.upgrade()
    try:
        lifted = lift_paid_cap(
            db,
            args.day,
            photo=args.photo,
            max_paid_attempts=settings.max_paid_attempts,
        )
    except RetryRefused as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.dispose()
    for name in lifted:
        print(f"{args.day}: {name} may be paid for again ({settings.max_paid_attempts} attempts)")
    print(f"the next `doppel run` or backfill of {args.day} asks for them again")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.lib.day.counts import day_status
    from pipeline.lib.db import Database

    settings = _settings()
    db = Database(settings.resolved_database_url)
    db.upgrade()
    days = day_status(db, settings.generator_names)
    if args.json:
        print(json.dumps({"days": days}))
        return 0
    if not days:
        from pipeline.runner import doppel_command

        print(f"No days collected yet: run `{doppel_command()} run`.")
    for day in days:
        # Kept, not pending: they are asked for again if their generator comes back.
        aside = day["generated_set_aside"]
        print(
            f"{day['day']}: {day['photos']} photos, {day['generated_succeeded']} look-alikes, "
            f"{day['generated_failed']} failed"
            + (f", {aside} waiting on a generator no longer in the lineup" if aside else "")
        )
    return 0


def cmd_redo(args: argparse.Namespace) -> int:
    """Hand a day to the configured source and collect it again (its old rows stay stored,
    look-alikes included, but are no longer the day's)."""
    from datetime import date

    import dagster as dg

    from pipeline.definitions import build_definitions
    from pipeline.defs.jobs import daily_images_job
    from pipeline.lib.db import Database
    from pipeline.lib.orchestration.instance import ensure_local_instance
    from pipeline.runner import failure_reason

    settings = _settings()
    [key] = _backfill_days(settings, args.day, args.day, ("DAY", "DAY"))  # a day Doppel makes
    day = date.fromisoformat(key)
    db = Database(settings.resolved_database_url)
    db.upgrade()
    before = db.set_day_source(day, settings.source)
    db.dispose()
    print(f"{day}: source {before or 'none'} -> {settings.source}", flush=True)
    ensure_local_instance()
    job = build_definitions(settings).resolve_job_def(daily_images_job.name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=False,
        )
    print(f"{day}: {'ok' if result.success else failure_reason(result)}")
    return 0 if result.success else 1


def cmd_gallery(args: argparse.Namespace) -> int:
    # Dagster-free on purpose (`pipeline.lib.site.gallery`): this process and its render
    # workers import what building pages takes, nothing of the orchestrator.
    from pipeline.defs.names import DAY_TABLES, FINDINGS_TABLE
    from pipeline.lib.db.locks import UrlLocks
    from pipeline.lib.site.gallery import gallery_target, open_store, publish_gallery

    settings = _settings(local_start=False)
    db = UrlLocks(settings.resolved_database_url)  # only the site's lock: no SQLAlchemy
    try:
        result = publish_gallery(
            open_store(settings),
            gallery_target(settings),
            db,
            tables=DAY_TABLES,
            findings=FINDINGS_TABLE,
            force=args.force,
        )
    finally:
        db.dispose()
    for problem in result.problems:
        print(f"doppel: {problem}", file=sys.stderr)
    print(result.summary())
    print(f"index: {result.local_index or result.index_uri}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    """The settings' docs from their declarations: print them, rewrite them, or check them."""
    from pipeline.lib import settings_docs

    root = Path(args.root)
    if args.env_example:
        print(settings_docs.env_example(), end="")
    if args.markdown:
        print(settings_docs.readme_table(), end="")
    if args.write:
        for path in settings_docs.write(root):
            print(f"rewrote the generated settings in {path}")
    if args.check:
        stale = settings_docs.stale(root)
        for path in stale:
            print(
                f"{path} disagrees with the settings' declarations: run `doppel settings --write`"
            )
        return 1 if stale else 0
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from pipeline.lib.db import migrate

    print(migrate(_settings(local_start=False).resolved_database_url))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from pipeline.lib.generators.patch_remix.files import generate_file

    try:
        record = generate_file(
            args.input,
            args.output,
            generator=args.generator,
            seed=args.seed,
            size=args.size,
            style=args.style,
            style_folder=args.style_folder,
            strength=args.strength,
        )
    except ValueError as exc:  # bad arguments or files: the message says which
        raise CommandError(str(exc)) from None
    print(json.dumps(record, sort_keys=True, default=str))
    return 0


def cmd_instance_init(args: argparse.Namespace) -> int:
    from pipeline.lib.orchestration.instance import ensure_local_instance

    print(f"local Dagster instance: {ensure_local_instance()}")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from pipeline.lib.orchestration.dev import run_dev
    from pipeline.lib.orchestration.instance import ensure_local_instance

    home = ensure_local_instance()
    settings = _settings()  # after the instance: the local start is recorded in it
    return run_dev(settings, home, ["-h", args.host, "-p", str(args.port)])


def cmd_backfill(args: argparse.Namespace) -> int:
    from pipeline.lib.orchestration.backfills import WebserverError, launch_backfill

    settings = _settings()
    days = _backfill_days(settings, args.first, args.last)
    from pipeline.defs.jobs import run_logs_config
    from pipeline.defs.sensors import DAY_ASSETS  # the assets a day consists of

    url = args.url or settings.webserver_url
    try:
        launched = launch_backfill(
            url,
            asset_paths=[key.path for key in DAY_ASSETS],
            first_day=days[0],
            last_day=days[-1],
            title=f"doppel backfill {days[0]}..{days[-1]}",
            tags={"doppel/trigger": "doppel_backfill"},
            run_config=run_logs_config(settings),
        )
    except WebserverError as exc:
        raise CommandError(str(exc)) from None
    names = [key.to_user_string() for key in DAY_ASSETS]
    assets = ", ".join(names[:-1]) + " and " + names[-1]
    count = f"{len(days)} day" + ("s" if len(days) > 1 else "")
    print(f"backfill {launched.id}: {days[0]}..{days[-1]} ({count}) of {assets}")
    print(f"watch it: {launched.url}")
    print("its runs start while the Dagster daemon runs (`make dev` starts one)")
    return 0


def _backfill_days(
    settings: DoppelSettings, first: str, last: str, names: tuple[str, str] = ("--from", "--to")
) -> list[str]:
    """The partition keys from `first` to `last`, or a CommandError saying what is wrong."""
    from datetime import date

    for flag, value in zip(names, (first, last), strict=True):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"{flag} {value!r} is not a day: write it as YYYY-MM-DD") from None
    if first > last:
        raise CommandError(f"--from {first} is after --to {last}")
    from pipeline.defs.partitions import complete_days, daily_partitions

    keys = complete_days(daily_partitions(settings.start_date))
    if not keys:
        raise CommandError("no UTC day has closed since DOPPEL_START_DATE: nothing to backfill")
    for day in (first, last):
        if day not in keys:
            raise CommandError(
                f"{day} is not a day Doppel makes: days run from {keys[0]} (DOPPEL_START_DATE) "
                f"to {keys[-1]} (the last complete UTC day)"
            )
    return keys[keys.index(first) : keys.index(last) + 1]


def cmd_exporter(args: argparse.Namespace) -> int:
    from pipeline.defs.keys import LOOK_ALIKES_KEY, PHOTOS_KEY
    from pipeline.lib.db import Database
    from pipeline.lib.observability.exporter import (
        DoppelCollector,
        WatchedAssets,
        build_registry,
        serve,
    )
    from pipeline.lib.orchestration.instance import ensure_local_instance

    settings = _settings()
    if not os.environ.get("DAGSTER_HOME"):
        ensure_local_instance()  # the laptop's .dagster_home, as `make run` uses

    def open_instance():  # type: ignore[no-untyped-def]
        import dagster as dg

        return dg.DagsterInstance.get()

    collector = DoppelCollector(
        Database(settings.resolved_database_url),
        open_instance,
        start_date=settings.start_date,
        assets=WatchedAssets(photos=PHOTOS_KEY, look_alikes=LOOK_ALIKES_KEY),
        daily_budget_usd=settings.openai.daily_budget_usd,
    )
    serve(
        build_registry(collector),
        host=args.host,
        port=args.port,
        on_ready=lambda port: print(
            f"doppel exporter: http://{args.host}:{port}/metrics", flush=True
        ),
    )
    return 0


def cmd_votes_serve(args: argparse.Namespace) -> int:
    from pipeline.lib.votes.serve import serve

    settings = _settings(local_start=False)
    print(f"doppel votes-serve: http://{args.host}:{args.port}/api/votes", flush=True)
    serve(settings.resolved_database_url, args.host, args.port, args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doppel", description="Popular photos beside their machine-made look-alikes."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    _day_commands(sub)
    _tool_commands(sub)
    _service_commands(sub)
    return parser


def _day_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Making, inspecting and repairing days: run, retry, status, redo, migrate."""
    run = sub.add_parser("run", help="materialize the last complete days into the local instance")
    run.add_argument("--days", type=int, default=3, help="how many recent days (default 3)")
    run.add_argument("--day", metavar="DAY", help="this one day instead (YYYY-MM-DD)")
    run.set_defaults(func=cmd_run)

    retry = sub.add_parser(
        "retry", help="let a day's failed photos be paid for again (lifts the per-photo cap)"
    )
    retry.add_argument("day", metavar="DAY", help="YYYY-MM-DD")
    retry.add_argument("--photo", metavar="ID", help="only this photo (its id or source id)")
    retry.set_defaults(func=cmd_retry)

    status = sub.add_parser("status", help="photos and look-alikes per day, from the database")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")
    status.set_defaults(func=cmd_status)

    redo = sub.add_parser(
        "redo", help="collect a day again with the configured source (DOPPEL_SOURCE)"
    )
    redo.add_argument("day", metavar="DAY", help="YYYY-MM-DD")
    redo.set_defaults(func=cmd_redo)

    migrate_help = "apply pending database migrations (under a lock; safe to repeat)"
    sub.add_parser("migrate", help=migrate_help).set_defaults(func=cmd_migrate)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="the same as `doppel migrate`").set_defaults(func=cmd_migrate)


def _tool_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """One-off tools: one look-alike, the gallery without Dagster, the settings' docs."""
    gen = sub.add_parser("generate", help="make one look-alike of an image file")
    gen.add_argument("input", type=Path)
    gen.add_argument("output", type=Path)
    gen.add_argument(
        "--generator", default="patch-remix", choices=["patch-remix", "style-transfer"]
    )
    gen.add_argument(
        "--style", type=int, help="style-transfer: a built-in style, 0-25 (default: by seed)"
    )
    gen.add_argument(
        "--style-folder", type=Path, help="style-transfer: draw the style from these pictures"
    )
    gen.add_argument(
        "--strength", type=float, default=0.75, help="style-transfer: painting's share, 0-1"
    )
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--size", type=int, default=256, help="long side of the output, pixels")
    gen.set_defaults(func=cmd_generate)

    gallery = sub.add_parser(
        "gallery", help="build the gallery from the stored day tables (no Dagster; as gallery_site)"
    )
    gallery.add_argument("--force", action="store_true", help="render and compare every page again")
    gallery.set_defaults(func=cmd_gallery)

    docs = sub.add_parser(
        "settings", help=".env.example's variables and the README's table, from the declarations"
    )
    docs.add_argument("--env-example", action="store_true", help="print .env.example's lines")
    docs.add_argument("--markdown", action="store_true", help="print the README's table")
    docs.add_argument("--write", action="store_true", help="rewrite both files' generated parts")
    docs.add_argument("--check", action="store_true", help="exit 1 if either file is stale")
    docs.add_argument("--root", default=".", help="the checkout holding both files (default .)")
    docs.set_defaults(func=cmd_settings)


def _service_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The long-running parts and their instance: Dagster, backfills, exporter, votes."""
    instance = sub.add_parser("instance", help="the local Dagster instance")
    inst_sub = instance.add_subparsers(dest="instance_command", required=True)
    inst_sub.add_parser("init", help="create DAGSTER_HOME and its dagster.yaml").set_defaults(
        func=cmd_instance_init
    )

    dev = sub.add_parser(
        "dev", help="the Dagster UI and daemon on the local instance (`make dev`); Ctrl-C stops all"
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=cmd_dev)

    backfill = sub.add_parser(
        "backfill", help="launch a backfill of a range of days on a running Dagster webserver"
    )
    backfill.add_argument("--from", dest="first", required=True, metavar="DAY", help="YYYY-MM-DD")
    backfill.add_argument("--to", dest="last", required=True, metavar="DAY", help="YYYY-MM-DD")
    backfill.add_argument(
        "--url", help="the webserver (default DOPPEL_WEBSERVER_URL or http://127.0.0.1:3000)"
    )
    backfill.set_defaults(func=cmd_backfill)
    exporter = sub.add_parser(
        "exporter", help="serve Prometheus metrics read from the database and Dagster instance"
    )
    exporter.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in Docker)")
    exporter.add_argument("--port", type=int, default=9108, help="port (default 9108; 0: any)")
    exporter.set_defaults(func=cmd_exporter)
    votes = sub.add_parser(
        "votes-serve", help="the vote service: the deployed game's answers into the database"
    )
    votes.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in Docker)")
    votes.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    votes.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    votes.set_defaults(func=cmd_votes_serve)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    install_secret_redaction()
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        print("doppel: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("DOPPEL_DEBUG") == "1":
            raise
        print(f"doppel: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: Exception) -> str:
    from pipeline.lib.core.images import ImageError

    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, SettingsError | ImageError | CommandError):
        return message
    return f"{type(exc).__name__}: {message} (set DOPPEL_DEBUG=1 for the full traceback)"


if __name__ == "__main__":
    sys.exit(main())
