"""The gallery published to a local folder, served by nginx whose workers run as another
user (nobody), as a web server on the same host would: every page and image answers 200."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.defs.names import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.site import build_site
from pipeline_tests.fixtures.gallery_days import write_gallery_days
from pipeline_tests.system_tools import require_nginx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def readable_root() -> Iterator[Path]:
    """A folder others may enter (pytest's own tmp folders are 0700 for everyone but us)."""
    root = Path(tempfile.mkdtemp(prefix="doppel-gallery-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root)


@pytest.mark.slow
def test_nginx_as_another_user_serves_the_gallery_folder(
    readable_root: Path, shared_cache: Path
) -> None:
    nginx = require_nginx()  # skips naming the install command (fails under CI's flag)
    if os.geteuid() != 0:
        pytest.skip("nginx can switch its workers to another user only when started as root")
    previous = os.umask(0o022)  # the usual umask of a service account
    try:
        data = LocalObjectStore(readable_root / "objects")
        write_gallery_days(
            data, unsplash_image_base="https://images.unsplash.test/img", cache=shared_cache
        )
        public = readable_root / "public"
        result = build_site(data, tables=DAY_TABLES, out_store=LocalObjectStore(public), prefix="")
    finally:
        os.umask(previous)
    assert result.problems == []
    day_page = sorted(public.glob("days/*.html"))[0]
    image = sorted(public.rglob("*.webp"))[0]

    port = _free_port()
    work = readable_root / "nginx"
    work.mkdir()
    (work / "nginx.conf").write_text(
        f"user nobody nogroup;\npid {work}/nginx.pid;\nerror_log {work}/error.log;\n"
        "events {}\nhttp {\n access_log off;\n include /etc/nginx/mime.types;\n"
        f" client_body_temp_path {work}/body;\n proxy_temp_path {work}/proxy;\n"
        f" fastcgi_temp_path {work}/fastcgi;\n uwsgi_temp_path {work}/uwsgi;\n"
        f" scgi_temp_path {work}/scgi;\n"
        f" server {{\n  listen 127.0.0.1:{port};\n  root {public};\n }}\n}}\n"
    )
    args = [nginx, "-p", str(work), "-c", str(work / "nginx.conf")]
    process = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        for path in (
            "/",
            f"/{day_page.relative_to(public).as_posix()}",
            f"/{image.relative_to(public).as_posix()}",
        ):
            response = httpx.get(url + path)
            assert response.status_code == 200, (path, response.status_code)
        workers = subprocess.run(
            ["ps", "-o", "user=", "--ppid", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        assert workers and set(workers) == {"nobody"}, workers
    finally:
        process.terminate()
        process.wait(timeout=10)
