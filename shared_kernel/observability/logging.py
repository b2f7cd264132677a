"""Structured JSON logs (Powertools Logger) with card-data scrubbing on every record.

The scrubbing happens on the formatted line, after exception tracebacks and extra fields
are rendered, and the formatter is installed on the root logger too, so third-party
libraries' records are scrubbed as well.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from shared_kernel.observability.scrubbing import scrub


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, then the card-data scrubber on the result."""

    def format(self, record: logging.LogRecord) -> str:
        """Format the record as JSON and mask card numbers and CVVs in it."""
        return scrub(super().format(record))


_loggers: dict[str, Logger] = {}


def get_logger(service: str) -> Logger:
    """The process's structured logger for `service`, created once."""
    logger = _loggers.get(service)
    if logger is None:
        logger = Logger(
            service=service,
            level=os.environ.get("LOG_LEVEL", "INFO"),
            logger_formatter=ScrubbingFormatter(),
        )
        # Its own handler writes the line; propagating would print it again via the root.
        # Powertools has no option for it: its Logger writes through the standard library
        # logger of its name, which `logging.getLogger` returns.
        logging.getLogger(logger.name).propagate = False
        _route_root_logger_through(logger)
        _loggers[service] = logger
    return logger


def _route_root_logger_through(logger: Logger) -> None:
    # Library records (ours via logging.getLogger(__name__), botocore, urllib3) reach the
    # root logger; give its handlers the same scrubbing JSON formatter.
    # On stdout, like the service logger's own lines and the EMF metric lines, so that all of
    # one invocation's lines come out in order on one stream (a runner that reads stdout and
    # stderr apart, as serverless-offline's does, lost stderr lines that came after the
    # invocation's answer).
    root = logging.getLogger()
    formatter: Any = logger.registered_formatter
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stdout))
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setStream(sys.stdout)
        handler.setFormatter(formatter)
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
