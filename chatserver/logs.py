"""Logging for the entry points: one line per record on stderr, plain text or JSON lines."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# python-engineio and python-socketio give these loggers a stderr handler of their own when the
# app asked for no logger (create_app does not), so with the root handler every line was printed twice.
LIBRARY_LOGGERS = ("engineio.server", "socketio.server")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str | int, log_format: str = "text") -> None:
    """Log to stderr through the root logger, each line once (entry points only, after create_app)."""
    if log_format not in ("text", "json"):
        raise ValueError(f"CHATSERVER_LOG_FORMAT={log_format!r}: expected text or json")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    for name in LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        # Only the libraries' own bare handler; the level they set (errors only) stays.
        for library_handler in [h for h in library_logger.handlers if type(h) is logging.StreamHandler]:
            library_logger.removeHandler(library_handler)
