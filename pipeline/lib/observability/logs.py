"""Logging for deployments: optional JSON lines, and no secret in any log record.

`configure_logging(settings)` is called by the entry points, never by loading the
definitions: the `doppel` CLI, and in each process that runs a Doppel step (run worker or
step process) the `logs` resource, which Dagster sets up there before the step's code.

- Redaction is always on: every log record made in the process (Doppel's, Dagster's,
  httpx's...) has the value of each configured secret, any password inside a URL and any
  credential in a URL's query string (`?key=`, `client_id=`, a signature) replaced by `***`
  before any handler sees it, including Dagster's event-log handler.
- `DOPPEL_LOG_FORMAT=json` gives the `pipeline` and `doppel` loggers one handler writing one
  JSON object per line to stderr (what log collectors parse), at `DOPPEL_LOG_LEVEL`.
  The default (`text`) leaves handlers as they are.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

# The loggers Doppel's own code logs to (`logging.getLogger(__name__)` under `pipeline`, and
# the one-line settings summary on `doppel`).
DOPPEL_LOGGERS = ("pipeline", "doppel")

# Environment variables whose values are secrets, whatever their name says...
SECRET_ENV_VARS = (
    "UNSPLASH_ACCESS_KEY",
    "OPENAI_API_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "DAGSTER_PG_PASSWORD",
    "DOPPEL_IMG2IMG_AUTH",
    "MINIO_ROOT_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
)
# ...and any other whose name says it holds one.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|ACCESS_KEY|CREDENTIAL|_AUTH$")
# user:password@ in any URL (database URLs above all).
URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/:@\s]*:)[^@\s/]+(?=@)")
# A credential in a query string (?key=, &client_id=, a presigned URL's signature): httpx
# logs every request's full URL at INFO.
URL_QUERY_SECRET = re.compile(
    r"(?P<head>[?&](?:[a-z_-]*key|[a-z_-]*token|client_id|[a-z_-]*secret|password|auth|"
    r"sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s\"'>]+",
    re.IGNORECASE,
)
# Shorter values are not secrets worth the damage of replacing them everywhere.
MIN_SECRET_LENGTH = 4
MASK = "***"

_HANDLER_NAME = "doppel-json"


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret strings configured in `environ`, longest first (so that a secret that
    contains another is masked whole)."""
    env = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in env.items():
        if name in SECRET_ENV_VARS or SECRET_NAME.search(name):
            found.add(value.strip())
            if ":" in value and name.endswith("_AUTH"):  # user:password
                found.add(value.split(":", 1)[1])
        for match in URL_PASSWORD.finditer(value):
            found.add(match.group(0)[len(match.group("head")) :])
    return sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)


class Redactor:
    """Replaces known secret values, URL passwords and query-string credentials in text."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = [s for s in secrets if s]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = URL_PASSWORD.sub(rf"\g<head>{MASK}", text)
        return URL_QUERY_SECRET.sub(rf"\g<head>{MASK}", text)


_redactor = Redactor([])
_base_factory: Callable[..., logging.LogRecord] | None = None


def _redacting_record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _base_factory is not None
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it as usual
        return record
    clean = _redactor(message)
    if clean != message:
        # Only a record that carried a secret loses its args (some formatters read them).
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        record.exc_text = _redactor(text)
    return record


def install_secret_redaction(environ: Mapping[str, str] | None = None) -> None:
    """Mask the secrets configured now in every record made from here on (idempotent; call
    again after the environment changes, e.g. after loading .env)."""
    global _redactor, _base_factory
    _redactor = Redactor(secret_values(environ))
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_record_factory)


# Attributes every LogRecord has; anything else was passed with `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, `extra=` fields, and the
    exception if any. The whole line is redacted again, so `extra` values are covered."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and key not in payload:
                payload[key] = value
        if record.exc_info:
            payload["exception"] = record.exc_text or self.formatException(record.exc_info)
        return _redactor(json.dumps(payload, default=str, ensure_ascii=False))


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    """Redaction always; with `log_format="json"`, JSON lines from Doppel's loggers."""
    install_secret_redaction()
    for name in DOPPEL_LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(handler)
            logger.propagate = True
        if log_format != "json":
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(level.upper())
        # The root logger's (text) handlers would print each record a second time.
        logger.propagate = False
