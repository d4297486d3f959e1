"""Logging for every supervised program: one line per record.

A record's message may quote what a user sent (a parameter's choice, a job's
name, a skip's reason): with a newline in it, it could forge a line of the log
an operator reads with ``make log``, and with an escape sequence act on their
terminal. ``OneLineFormatter`` writes each control character of a message as an
escape (``\\x0a``); tracebacks keep their lines.
"""

import logging
import re

#: C0 controls (newline included, tab not), DEL, and the C1 controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """``text`` with each control character but tab written as ``\\xNN``."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class OneLineFormatter(logging.Formatter):
    """A ``logging.Formatter`` whose messages are one line (``one_line``); the
    traceback of a ``log.exception`` follows as it is (it holds no user text the
    message did not)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """The record's line, its message made one line (``one_line``).

        Parameters
        ----------
        record : logging.LogRecord
            Its ``message`` already made by ``format``.

        Returns
        -------
        str
        """
        record.message = one_line(record.message)
        return super().formatMessage(record)


def configure(label: str | None = None, level: int = logging.INFO) -> None:
    """Log to stderr (supervisor's log file) in the stack's format, one line a record.

    Parameters
    ----------
    label : str or None
        The program's name, shown in brackets on each line (``[scheduler]``);
        None: none.
    level : int
        The root logger's level.
    """
    tag = f"[{label}] " if label else ""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(f"%(asctime)s %(levelname)s {tag}%(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
