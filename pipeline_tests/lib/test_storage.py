from __future__ import annotations

import os
import stat
from pathlib import Path

import boto3
import pytest

from pipeline.lib.core.storage import (
    LocalObjectStore,
    ObjectNotFound,
    S3ObjectStore,
    write_atomically,
)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    endpoint = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return S3ObjectStore(client, bucket, prefix="base")


def test_put_get_exists_list_delete(store) -> None:  # type: ignore[no-untyped-def]
    assert not store.exists("a/b.png")
    store.put("a/b.png", b"png-bytes", "image/png")
    store.put("a/c.json", b"{}", "application/json")
    store.put("z.txt", b"z")
    assert store.exists("a/b.png")
    assert store.get("a/b.png") == b"png-bytes"
    assert list(store.list("a/")) == ["a/b.png", "a/c.json"]
    assert sorted(store.list()) == ["a/b.png", "a/c.json", "z.txt"]
    store.put("a/b.png", b"new", "image/png")
    assert store.get("a/b.png") == b"new"
    store.delete("a/b.png")
    assert not store.exists("a/b.png")
    with pytest.raises(ObjectNotFound):
        store.get("a/b.png")


@pytest.mark.parametrize("key", ["", "/abs", "../escape", "a/../../b", "dir/"])
def test_keys_cannot_escape_the_store(store, key: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_s3_objects_carry_content_types(s3_server: str, s3_bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    store = S3ObjectStore(client, s3_bucket, prefix="p")
    store.put("x.png", b"1", "image/png")
    store.put("y.webp", b"2")
    store.put("z.json", b"{}")
    assert store.content_type("x.png") == "image/png"
    assert store.content_type("y.webp") == "image/webp"
    assert store.content_type("z.json") == "application/json"
    assert store.uri("x.png") == f"s3://{s3_bucket}/p/x.png"


def test_local_writes_leave_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("img/a.png", b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("pipeline.lib.core.storage.os.replace", broken_replace)
    with pytest.raises(OSError):
        store.put("img/a.png", b"new-but-never-complete")
    assert store.get("img/a.png") == b"old"
    assert [p.name for p in (tmp_path / "img").iterdir()] == ["a.png"]


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)]
)
def test_local_files_and_folders_follow_the_umask(
    tmp_path: Path, umask: int, file_mode: int, dir_mode: int
) -> None:
    """A web server running as another user must be able to read what the store writes
    (a 0600 file answered 403 on every gallery page)."""
    previous = os.umask(umask)
    try:
        store = LocalObjectStore(tmp_path / "objects")
        store.put("site/2026/11/26/index.html", b"<html></html>")
        write_atomically(tmp_path / "objects" / "site" / "rebuildable.css", b"", durable=False)
    finally:
        os.umask(previous)
    root = tmp_path / "objects"
    for folder in (root, root / "site", root / "site/2026", root / "site/2026/11/26"):
        assert stat.S_IMODE(folder.stat().st_mode) == dir_mode, folder
    for name in ("site/2026/11/26/index.html", "site/rebuildable.css"):
        assert stat.S_IMODE((root / name).stat().st_mode) == file_mode, name
