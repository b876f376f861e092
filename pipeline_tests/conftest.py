"""Shared fixtures: a throwaway PostgreSQL database, moto's S3 server, isolated settings."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from sqlalchemy import create_engine, text

from pipeline.lib.db import Database, migrate
from pipeline.lib.settings import DoppelSettings, load_settings
from testbed.unsplash_server import UnsplashImitation

POSTGRES_ADMIN_URL = os.environ.get(
    "DOPPEL_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
SECRET_ENV = ("UNSPLASH_ACCESS_KEY", "OPENAI_API_KEY")
# Settings of the test run itself, not of Doppel: they survive the isolation below.
TEST_RUN_ENV = {"DOPPEL_TEST_POSTGRES_URL", "DOPPEL_REQUIRE_TOOLS", "DOPPEL_SAVE_SCREENSHOTS"}


# The longest modules on two cores (`--durations`: the daemon's backfill, the first
# `doppel run`, the deployed exporter, the built site, `doppel dev`, the kills): started first
# so that no worker is left with one of them at the end while the other idles.
LONGEST_FIRST = (
    "test_daemon_backfill.py",
    "test_cli.py",
    "test_exporter_integration.py",
    "test_site_build.py",
    "test_dev.py",
    "test_cli_interrupted.py",
    "test_overlapping_runs.py",
    "test_gallery_folder.py",
    "test_gallery_browser.py",
)
# A test outside the `slow` mark that takes longer than this is named at the end of the run.
FAST_TEST_LIMIT_S = 3.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first, then the others with slow tests, then the rest (xdist
    hands tests out in this order). Each module stays in one piece, so its module fixtures
    are made once; the sort is stable."""
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> tuple[int, int]:
        if item.path.name in LONGEST_FIRST:
            return (0, LONGEST_FIRST.index(item.path.name))
        return (1 if item.path in slow_modules else 2, 0)

    items.sort(key=rank)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Keeps `make test-fast` fast: names each test without the `slow` mark whose own run
    (its call, not the shared fixtures it may be first to set up) took longer than
    FAST_TEST_LIMIT_S, so it can be marked."""
    over = sorted(
        (report.duration, report.nodeid)
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport)
        and report.when == "call"
        and "slow" not in report.keywords
        and report.duration > FAST_TEST_LIMIT_S
    )
    for seconds, nodeid in reversed(over):
        terminalreporter.write_line(
            f"not marked slow but took {seconds:.1f} s: {nodeid} (mark it @pytest.mark.slow)"
        )


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's .env, keys, proxies or Doppel settings."""
    for name in list(os.environ):
        if name.startswith("DOPPEL_") and name not in TEST_RUN_ENV:
            monkeypatch.delenv(name)
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def either_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Doppel's database, migrated, once on SQLite and once on a throwaway PostgreSQL one."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'doppel.db'}")
    else:
        db = Database(request.getfixturevalue("postgres_database")["url"])
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this run shares (for what several modules make the
    same way); it goes with pytest's temporary folders."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the machine's PostgreSQL; fails loudly if it is not running."""
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__}). Start "
            "it (pg_ctlcluster ... main start) or point DOPPEL_TEST_POSTGRES_URL at one.",
            pytrace=False,
        )
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@contextmanager
def postgres_databases(admin_url: str) -> Iterator[Callable[[], dict[str, str]]]:
    """Creates new, empty databases on `admin_url`'s server and drops them on exit.

    Each call returns the database's URL and the parts dagster-postgres wants.
    """
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    base = admin_url.rsplit("/", 1)[0]
    userinfo, hostport = base.split("://", 1)[1].split("@", 1)
    host, _, port = hostport.partition(":")
    created: list[str] = []

    def make() -> dict[str, str]:
        name = f"doppel_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'create database "{name}"'))
        created.append(name)
        return {
            "url": f"{base}/{name}",
            "db_name": name,
            "hostname": host,
            "port": port or "5432",
            "username": userinfo.split(":")[0],
        }

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(
                    text(
                        "select pg_terminate_backend(pid) from pg_stat_activity "
                        "where datname = :name and pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                conn.execute(text(f'drop database if exists "{name}"'))
        admin.dispose()


@pytest.fixture
def make_postgres_database(postgres_server: str) -> Iterator[Callable[[], dict[str, str]]]:
    """Creates new, empty databases for one test and drops them afterwards."""
    with postgres_databases(postgres_server) as make:
        yield make


@pytest.fixture
def postgres_database(make_postgres_database: Callable[[], dict[str, str]]) -> dict[str, str]:
    return make_postgres_database()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server over real HTTP on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the moto server, with test credentials in the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"doppel-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def migrated(settings: DoppelSettings) -> DoppelSettings:
    """`settings`, their database migrated first, as `doppel migrate` (or `doppel run`)
    does before any run: runs only check the schema."""
    migrate(settings.resolved_database_url)
    return settings


@pytest.fixture
def local_settings(tmp_path: Path) -> DoppelSettings:
    """Embedded-default settings with everything under a temporary folder (the database
    migrated)."""
    return migrated(load_settings(_env_file=None, data_dir=tmp_path / "data"))


@pytest.fixture(scope="session")
def unsplash_server() -> Iterator[UnsplashImitation]:
    """The imitation Unsplash API on 127.0.0.1, one for the whole run."""
    with UnsplashImitation() as server:
        yield server


@pytest.fixture
def unsplash(unsplash_server: UnsplashImitation) -> UnsplashImitation:
    """The imitation Unsplash API with a fresh scenario for this test."""
    unsplash_server.reset()
    return unsplash_server
