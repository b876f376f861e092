"""Finding every process a command started, by a marker in its environment: tests and
benches that stop `doppel dev` check with it that nothing is left behind."""

from __future__ import annotations

from pathlib import Path


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds `marker`: everything a process started with it
    (code servers and run workers too), wherever in the process tree and session."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found
