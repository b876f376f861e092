"""Database URLs read without SQLAlchemy: settings resolve the URL in every process, and
`doppel gallery` only needs a lock beside a SQLite file, so neither pays SQLAlchemy's
import (about 0.3 s of CPU) for it."""

from __future__ import annotations


def database_url_for(url: str) -> str:
    """Pin Postgres URLs to psycopg2, the driver dagster-postgres already installs.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which is not installed.
    """
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare) :]
    return url


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL, as SQLAlchemy's `make_url(url).database` reads it; None for
    an in-memory database or another backend."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite":
        return None
    # `sqlite:///relative.db`, `sqlite:////absolute.db`: the host part is empty.
    path = rest[1:].split("?", 1)[0] if rest.startswith("/") else ""
    return path if path and path != ":memory:" else None


def is_postgres(url: str) -> bool:
    return url.split("://", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")
