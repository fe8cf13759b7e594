"""Writes the lines of ../python-logging.log, ../python-asctime.log, ../python-json.log and
../structlog.log with Python's logging and the libraries named, or with the argument absl
those of absl's logging (glog's format) to standard error. Run from this folder with
structlog, python-json-logger and absl-py installed:

    python3 python.py && python3 python.py absl 2>../absl-glog.log
"""
import logging
import sys


def emit(log):
    log.debug("cache warmed entries=42")
    log.info("listening on :8080")
    log.warning("disk almost full", extra={"disk": {"free_mb": 512}})
    log.error('request failed: dial tcp: "café" refused')
    log.critical("giving up")


def plain(path, fmt):
    with open(path, "w") as f:
        h = logging.StreamHandler(f)
        h.setFormatter(logging.Formatter(fmt))
        log = logging.getLogger("app")
        log.handlers = [h]
        log.setLevel(logging.DEBUG)
        log.propagate = False
        emit(log)


if len(sys.argv) > 1 and sys.argv[1] == "absl":
    from absl import logging as absl_logging

    absl_logging.use_absl_handler()
    absl_logging.set_verbosity(absl_logging.DEBUG)
    absl_logging.debug("cache warmed entries=42")
    absl_logging.info("listening on :8080")
    absl_logging.warning("disk almost full")
    absl_logging.error('request failed: dial tcp: "café" refused')
    sys.exit(0)

# logging.basicConfig's default format, and the asctime form most tutorials show.
plain("../python-logging.log", logging.BASIC_FORMAT)
plain("../python-asctime.log", "%(asctime)s - %(name)s - %(levelname)s - %(message)s")

from pythonjsonlogger.json import JsonFormatter

with open("../python-json.log", "w") as f:
    h = logging.StreamHandler(f)
    h.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log = logging.getLogger("jsonapp")
    log.handlers = [h]
    log.setLevel(logging.DEBUG)
    log.propagate = False
    emit(log)

import structlog

with open("../structlog.log", "w") as f:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=f),
    )
    log = structlog.get_logger()
    log.debug("cache warmed", entries=42)
    log.info("listening", addr=":8080")
    log.warning("disk almost full", disk={"free_mb": 512})
    log.error("request failed", err='dial tcp: "café" refused')
