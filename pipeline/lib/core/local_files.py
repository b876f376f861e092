"""What may be read from a folder the user named (the photo folder and its photos.json, the
style folder): one place decides, before anything is opened.

A name (a photos.json entry, a file found in the folder) is refused, with a one-line reason,
when it is written as a path that could lead elsewhere (absolute, `~`, `..`, a Windows drive
or backslash, URL-encoded, a hidden part), when it resolves outside the folder (a symbolic
link to a file or a folder elsewhere), or when it is not a regular file (a FIFO would block
the run, a device would never end). Only then is it opened: without following a last link,
without blocking, and checked to be the very file that was judged, then read under a cap.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

_URL_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


class FileRefused(Exception):
    """The name may not be read from the folder; reading it later will not change that."""


class LocalFolder:
    """A folder whose files may be read, and nothing outside it."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.root = Path(folder).resolve()

    def files(self, suffixes: frozenset[str] | set[str]) -> list[str]:
        """Names of the folder's own files with one of `suffixes` (lower case, with the
        dot), sorted: regular files and symbolic links (judged when read, so a link that
        leads out is refused with its reason); hidden names, FIFOs, devices, sockets and
        folders are skipped. Raises OSError if the folder cannot be listed."""
        names = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith(".") or Path(entry.name).suffix.lower() not in suffixes:
                    continue
                if entry.is_symlink() or entry.is_file(follow_symlinks=False):
                    names.append(entry.name)
        return sorted(names)

    def check(self, name: str) -> tuple[Path, os.stat_result]:
        """The resolved path of `name` and its status, if it may be read; raises
        FileRefused. Nothing is opened."""
        shown = repr(name[:100])
        why = _written_wrongly(name)
        if why:
            raise FileRefused(f"{shown} {why}; name a file inside the folder, relative to it")
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root):
            raise FileRefused(
                f"{shown} resolves outside the folder (a symbolic link); only "
                "files inside it are read"
            )
        try:
            status = path.stat()
        except FileNotFoundError:
            raise FileNotFoundError("no such file in the folder") from None
        if not stat.S_ISREG(status.st_mode):
            kind = _KINDS.get(stat.S_IFMT(status.st_mode), "not a regular file")
            raise FileRefused(f"{shown} is {kind}, not a regular file; it is not read")
        return path, status

    def read(self, name: str, max_bytes: int) -> bytes:
        """The file's bytes after `check`; raises FileRefused, or OSError (a missing or
        unreadable file, which may be fixed)."""
        path, judged = self.check(name)
        if judged.st_size > max_bytes:
            raise FileRefused(
                f"{name[:100]!r} is {judged.st_size:,} bytes, over the {max_bytes:,}-byte cap"
            )
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a link put in its place since the check
                raise FileRefused(f"{name[:100]!r} became a symbolic link") from None
            raise
        with os.fdopen(fd, "rb") as file:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) != (judged.st_dev, judged.st_ino):
                raise FileRefused(f"{name[:100]!r} changed while it was being read")
            data = file.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FileRefused(f"{name[:100]!r} grew over the {max_bytes:,}-byte cap")
        return data


def _written_wrongly(name: str) -> str | None:
    """Why the written name could lead out of the folder, or None."""
    if not name.strip() or "\x00" in name:
        return "is not a file name"
    if name.startswith("~"):
        return "starts with ~ (a home folder)"
    if "\\" in name or _WINDOWS_DRIVE.match(name):
        return "is a Windows-style path"
    if _URL_ENCODED.search(name) or "://" in name:
        return "is URL-encoded or a URL"
    if name.startswith("/"):
        return "is an absolute path"
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts:
        return "is not a file name"
    if ".." in parts:
        return "goes up out of the folder (..)"
    if any(part.startswith(".") for part in parts):
        return "is hidden (a name starting with a dot)"
    return None
