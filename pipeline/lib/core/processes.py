"""Whether a process that left something behind (a Dagster run, a photo's claim) still lives.

A process is named by its host, its PID namespace and its PID: only a process of the same
host and namespace can be asked about (a container has a namespace of its own; another host
cannot be asked at all), and then only by `os.kill(pid, 0)`.
"""

from __future__ import annotations

import os
import socket
from functools import cache


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@cache
def here() -> str:
    """This host and PID namespace, as one word-free string: `host/namespace`."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:  # not Linux: PIDs cannot be told apart from another namespace's
        namespace = ""
    return f"{socket.gethostname()[:64] or 'host'}/{namespace}"


def gone_here(place: str, pid: int) -> bool:
    """The process `pid` of `place` (a `here()`) is known to be gone: it ran here, in this
    namespace, and no longer does. Anything else (another host or container, a namespace
    not known) is not known to be gone."""
    return (
        place == here()
        and not place.endswith("/")
        and pid != os.getpid()
        and (not process_alive(pid))
    )
