"""Retries against a real HTTP server on 127.0.0.1 that fails on purpose."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from pipeline.lib.core import clock
from pipeline.lib.core.http import HttpRetry, retry_after_seconds, send_with_retries
from pipeline.lib.observability.logs import install_secret_redaction


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next scripted step: a status, 'slow' or 'reset'."""

    steps: ClassVar[list[str]] = []
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        step = Script.steps.pop(0) if Script.steps else "200"
        Script.seen.append(step)
        if step == "slow":
            time.sleep(0.5)
            step = "200"
        if step == "reset":
            # Drop the connection without an answer: the client sees a reset/EOF.
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, _, retry_after = step.partition(":")
        self.send_response(int(status))
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Length", "2")
        try:
            self.end_headers()
            self.wfile.write(b"ok")
        except (BrokenPipeError, ConnectionResetError):
            pass  # a 'slow' answer the client already gave up on (its timeout)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Script.steps, Script.seen = [], []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/x?key=secret"
    httpd.shutdown()


def run(url: str, steps: list[str], attempts: int = 3) -> tuple[httpx.Response, list[float]]:
    Script.steps = list(steps)
    waits: list[float] = []
    with httpx.Client(timeout=0.2) as client:
        response = send_with_retries(
            client, "GET", url, policy=HttpRetry(attempts=attempts), sleep=waits.append
        )
    return response, waits


def test_a_key_in_the_query_string_never_reaches_the_logs(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server URL carries `?key=secret`. Each retry is logged by path only, and httpx's
    own request lines (the full URL, at INFO) have the key masked by the redaction every
    Doppel process installs."""
    install_secret_redaction({})
    caplog.set_level(logging.DEBUG)
    response, _ = run(server, ["503", "reset", "200"])
    assert response.status_code == 200
    retries = [r.getMessage() for r in caplog.records if r.name == "pipeline.lib.core.http"]
    assert len(retries) == 2 and all("/x:" in line for line in retries), retries
    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert requests and all("/x?key=***" in line for line in requests), requests
    assert "secret" not in caplog.text


def test_5xx_then_success(server: str) -> None:
    response, waits = run(server, ["503", "502", "200"])
    assert response.status_code == 200
    assert len(waits) == 2 and waits[1] > waits[0] * 1.2  # exponential


def test_budget_is_bounded_and_last_response_returned(server: str) -> None:
    response, waits = run(server, ["500", "500", "500", "200"])
    assert response.status_code == 500 and len(waits) == 2
    assert Script.seen == ["500", "500", "500"]


def test_client_errors_are_not_retried(server: str) -> None:
    response, waits = run(server, ["404"])
    assert response.status_code == 404 and waits == []


def test_retry_after_is_honoured_and_capped(server: str) -> None:
    Script.steps = ["503:2", "503:999", "200"]
    waits: list[float] = []
    with httpx.Client(timeout=1) as client:
        response = send_with_retries(
            client, "GET", server, policy=HttpRetry(max_retry_after_s=5), sleep=waits.append
        )
    assert response.status_code == 200
    assert waits == [2.0, 5.0]


def test_timeouts_and_resets_are_retried_then_raised(server: str) -> None:
    response, _ = run(server, ["slow", "reset", "200"])
    assert response.status_code == 200
    with pytest.raises(httpx.TimeoutException):
        run(server, ["slow", "slow"], attempts=2)


@pytest.mark.dates
def test_retry_after_http_date() -> None:
    response = httpx.Response(503, headers={"retry-after": "Fri, 31 Dec 2027 23:59:30 GMT"})
    with clock.pinned(datetime(2027, 12, 31, 23, 58, 30, tzinfo=UTC)):
        assert retry_after_seconds(response) == 60
    with clock.pinned(datetime(2028, 1, 1, tzinfo=UTC)):  # already past: no wait
        assert retry_after_seconds(response) == 0
    assert retry_after_seconds(httpx.Response(503, headers={"retry-after": "soon"})) is None
