"""Logging for every Tessera process: one structlog setup (`configure_logging`), and py-libp2p's stdlib
logger routed through structlog (it otherwise prints to stderr on its own)."""

from __future__ import annotations

import logging
import re
import sys
from collections import OrderedDict

import structlog

LIBP2P_LOGGER = "libp2p"
TIME_FORMAT_JSON = "iso"
TIME_FORMAT_CONSOLE = "%Y-%m-%d %H:%M:%S"
UNSUPPORTED_PEERS_REMEMBERED = 4096
"""How many (peer, protocols) pairs `UnsupportedProtocolFilter` remembers having logged."""

_UNSUPPORTED = re.compile(
    r"^Failed to open stream to peer (?P<peer>\S+):\n\s*Error: protocols? not supported"
    r".*?\n\s*Protocols: (?P<protocols>[^\n]*)",
    re.DOTALL,
)


class UnsupportedProtocolFilter(logging.Filter):
    """py-libp2p logs an ERROR whenever a peer answers "na" to the protocols a stream offered, and its
    pubsub retries every 10 s while such a peer stays connected. A peer that does not speak gossipsub
    (a light client written against the request protocols only, another implementation's tool) is
    normal, and the caller of `new_stream` gets the failure anyway: the record is dropped, and each
    (peer, protocols) pair is logged once at debug level instead."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        """False (drop) for a "protocols not supported" stream failure; True for every other record."""
        if record.levelno < logging.WARNING or not isinstance(record.msg, str):
            return True
        match = _UNSUPPORTED.match(record.msg)
        if match is None:
            return True
        key = (match["peer"], match["protocols"])
        if key not in self._seen:
            self._seen[key] = None
            if len(self._seen) > UNSUPPORTED_PEERS_REMEMBERED:
                self._seen.popitem(last=False)
            structlog.get_logger(record.name).debug(
                "peer does not offer these protocols", peer=match["peer"], protocols=match["protocols"]
            )
        return False

    def logged(self) -> list[tuple[str, str]]:
        """The (peer, protocols) pairs logged so far, oldest first."""
        return list(self._seen)


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
        handler.addFilter(UnsupportedProtocolFilter())
        logger.addHandler(handler)
    handler.setLevel(level)  # some libp2p modules set their own logger to INFO
    logger.setLevel(level)
    logger.propagate = False


def _drop_libp2p_records(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """py-libp2p's own records (routed through structlog): dropped unless the user asked for detail."""
    if event.get("event") == "libp2p":
        raise structlog.DropEvent
    return event


def configure_logging(*, json_lines: bool = False, verbose: bool = True) -> None:
    """The one structlog setup, to stderr (stdout carries a command's report).

    `json_lines`: JSON records with ISO timestamps, for daemons; otherwise readable console lines.
    `verbose`: INFO and up with libp2p's own records; otherwise warnings only, without libp2p's.
    The logger is looked up per use, so tests that swap `sys.stderr` see the records.
    """
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer()
    )
    quiet: list[structlog.types.Processor] = [] if verbose else [_drop_libp2p_records]
    structlog.configure(
        processors=[
            *quiet,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt=TIME_FORMAT_JSON if json_lines else TIME_FORMAT_CONSOLE),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO if verbose else logging.WARNING),
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
