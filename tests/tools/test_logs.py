"""Every program logs one line per record: a message quoting user text cannot forge
a log line or reach the operator's terminal."""

import io
import logging

from baselayer.app.logs import OneLineFormatter, one_line


def test_a_message_is_one_line_with_its_controls_escaped_and_a_traceback_kept():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("test_logs")
    log.addHandler(handler)
    log.propagate = False
    try:
        forged = "x\n2026-11-30 16:10:00,000 INFO forged line\x1b[2J\x07"
        log.warning("skipped: %s", forged)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed for %s", "a\rb")
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        "WARNING skipped: x\\x0a2026-11-30 16:10:00,000 INFO forged line\\x1b[2J\\x07"
    )
    assert lines[1] == "ERROR failed for a\\x0db"
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"


def test_one_line_keeps_tabs_and_text():
    assert one_line("a\tb é ✓") == "a\tb é ✓"
    assert one_line("\x00\x7f\x9f") == "\\x00\\x7f\\x9f"
