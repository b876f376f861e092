"""Object storage behind one interface: a local folder or any S3-compatible bucket.

Keys are always forward-slash paths relative to the store's root. Writes are whole or not
at all: the local store writes a temporary file and renames it; an S3 PUT is atomic.
"""

from __future__ import annotations

import mimetypes
import os
import secrets
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from botocore.exceptions import ClientError


class ObjectNotFound(KeyError):
    """The key does not exist in the store."""


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> Iterator[str]: ...
    def list_versions(self, prefix: str = "") -> Iterator[tuple[str, str]]: ...
    def delete(self, key: str) -> None: ...
    def uri(self, key: str) -> str: ...


def guess_content_type(key: str) -> str:
    kind, _ = mimetypes.guess_type(key)
    if key.endswith(".webp"):
        return "image/webp"
    return kind or "application/octet-stream"


def write_atomically(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, then a rename.

    `durable` also syncs it to disk first; data that can be rebuilt may skip that.
    """
    # Folders and files get the usual 0777/0666 less the umask (0755/0644 with umask 022), so
    # another user such as a web server can read them. mkstemp would force 0600.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _clean_key(key: str) -> str:
    path = PurePosixPath(key)
    if path.is_absolute() or ".." in path.parts or not key or key.endswith("/"):
        raise ValueError(f"invalid object key {key!r}")
    return str(path)


class LocalObjectStore:
    """Objects as files under `root`; the content type follows from the file extension."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / _clean_key(key)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        write_atomically(self._path(key), data)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        # Walk only the prefix's folder: listing `tables/x/` must not visit every image.
        base = self.root / prefix.rpartition("/")[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".part"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def list_versions(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(key, version) of the files directly in the prefix's folder: the version (inode,
        size, modification time) changes whenever a write replaces the file (always a new
        file, renamed over the old), so a reader tells a changed object without reading it."""
        folder, _, start = prefix.rpartition("/")
        try:
            entries = list(os.scandir(self.root / folder))
        except FileNotFoundError:
            return
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith(start) and not entry.name.endswith(".part"):
                stat = entry.stat()
                if entry.is_file():
                    key = f"{folder}/{entry.name}" if folder else entry.name
                    yield key, f"{entry.inode()}-{stat.st_size}-{stat.st_mtime_ns}"

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def path(self, key: str) -> Path:
        """Local path of a key (only the local store has one)."""
        return self._path(key)


class S3ObjectStore:
    """Objects in `bucket` under `prefix`, through a boto3 S3 client (thread-safe)."""

    def __init__(self, client: Any, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        key = _clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type or guess_content_type(key),
        )

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise ObjectNotFound(key) from None
            raise
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]

    def list_versions(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(key, ETag) of every object under the prefix: a changed object has a new ETag."""
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Contents", []):
                yield item["Key"][strip:], f"{item['Size']}-{item['ETag'].strip(chr(34))}"

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def content_type(self, key: str) -> str:
        response = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return response.get("ContentType", "")
