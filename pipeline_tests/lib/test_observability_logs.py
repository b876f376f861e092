"""Structured logs and secret redaction (pipeline/lib/observability/logs.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from pipeline.lib.observability.logs import (
    configure_logging,
    install_secret_redaction,
    secret_values,
)

OPENAI = "sk-test-SECRET123-openai"
PG_PASSWORD = "pg-SECRET-456"
ENV = {
    "OPENAI_API_KEY": OPENAI,
    "DAGSTER_PG_PASSWORD": "dagster-SECRET-789",
    "DOPPEL_DATABASE_URL": f"postgresql://doppel:{PG_PASSWORD}@db:5432/doppel",
    "DOPPEL_IMG2IMG_AUTH": "painter:brush-SECRET",
    "SOME_SERVICE_TOKEN": "token-SECRET-abc",
    "DOPPEL_PHOTOS_PER_DAY": "4",
    "AWS_SECRET_ACCESS_KEY": "ab",  # too short to be worth masking everywhere
}


@pytest.fixture
def redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    install_secret_redaction()
    yield
    configure_logging("text")
    install_secret_redaction({})


def test_secret_values_come_from_names_and_url_passwords() -> None:
    found = secret_values(ENV)
    assert OPENAI in found and PG_PASSWORD in found and "dagster-SECRET-789" in found
    assert "painter:brush-SECRET" in found and "brush-SECRET" in found
    assert "token-SECRET-abc" in found
    assert "4" not in found and "ab" not in found
    assert found == sorted(found, key=len, reverse=True)


def test_log_records_never_carry_a_secret(
    redaction: None, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("pipeline.lib.test")
    with caplog.at_level(logging.INFO):
        log.info("calling OpenAI with %s", OPENAI)
        log.warning(f"connecting to {ENV['DOPPEL_DATABASE_URL']}")
        log.info("any URL: https://user:hunter2-other@example.test/x")
        try:
            raise RuntimeError(f"rejected key {OPENAI}")
        except RuntimeError:
            log.exception("failed")
        logging.getLogger("httpx").info("Authorization: Client-ID %s", "token-SECRET-abc")
    text = caplog.text
    for secret in (OPENAI, PG_PASSWORD, "hunter2-other", "token-SECRET-abc"):
        assert secret not in text
    assert "calling OpenAI with ***" in text
    assert "postgresql://doppel:***@db:5432/doppel" in text
    assert "RuntimeError: rejected key ***" in text
    # A record without a secret keeps its arguments (some formatters read them).
    record = logging.getLogger("pipeline").makeRecord("pipeline", 20, "f", 1, "%s", ("x",), None)
    assert record.args == ("x",)


def test_json_log_lines_from_doppel_loggers(
    redaction: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "info")
    logging.getLogger("pipeline.lib.day.collect").info(
        "collected %d photos", 3, extra={"day": "2026-11-20", "key": OPENAI}
    )
    logging.getLogger("doppel").debug("not at INFO")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 1
    [line] = lines
    assert line["level"] == "info" and line["logger"] == "pipeline.lib.day.collect"
    assert line["message"] == "collected 3 photos"
    assert line["day"] == "2026-11-20" and line["key"] == "***"
    assert line["ts"].endswith("+00:00")
    configure_logging("text")  # back to text: the handler goes, records propagate again
    assert all(h.get_name() != "doppel-json" for h in logging.getLogger("pipeline").handlers)
    assert logging.getLogger("pipeline").propagate
