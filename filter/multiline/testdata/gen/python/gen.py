"""Prints one Python traceback, as the first argument says, the way Python and its logging
module print them."""

import logging
import sys

logging.basicConfig(level=logging.INFO)
log = logging.getLogger("app")


def parse(text):
    return int(text)


def load(text):
    try:
        return parse(text)
    except ValueError as e:
        raise RuntimeError("cannot load config") from e


def cleanup(path):
    return open(path).read()


def handle():
    try:
        return {}["missing"]
    except KeyError:
        cleanup("/nonexistent/state.json")


def group():
    errors = []
    for text in ("x", "y"):
        try:
            parse(text)
        except ValueError as e:
            errors.append(e)
    raise ExceptionGroup("2 inputs failed", errors)


mode = sys.argv[1]
if mode == "uncaught":
    load("x42")
elif mode == "logged-cause":
    try:
        load("x42")
    except RuntimeError:
        log.exception("request 17 failed")
elif mode == "logged-during":
    try:
        handle()
    except OSError:
        log.exception("cleanup failed")
elif mode == "group":
    group()
else:
    raise SystemExit("unknown mode " + mode)
