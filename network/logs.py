"""Route py-libp2p's stdlib logger through structlog (it otherwise prints to stderr on its own)."""

from __future__ import annotations

import logging

import structlog

LIBP2P_LOGGER = "libp2p"


class StructlogHandler(logging.Handler):
    """A stdlib handler that re-emits each record as a structlog event with key/value fields."""

    def emit(self, record: logging.LogRecord) -> None:
        """Forward `record` to structlog at the same level."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        structlog.get_logger(record.name).log(record.levelno, "libp2p", message=message, module=record.module)


def route_libp2p_logs(level: int = logging.WARNING) -> None:
    """Send `libp2p` records at `level` and above to structlog (idempotent); nothing reaches stderr raw."""
    logger = logging.getLogger(LIBP2P_LOGGER)
    handler = next((h for h in logger.handlers if isinstance(h, StructlogHandler)), None)
    if handler is None:
        handler = StructlogHandler()
        logger.addHandler(handler)
    handler.setLevel(level)  # some libp2p modules set their own logger to INFO
    logger.setLevel(level)
    logger.propagate = False
