"""The client's exit codes, and the one exception that carries a message and a code."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``shell-service`` exits with (``--wait`` passes a failed job's own code on)."""

    OK = 0
    #: The service refused the request (400, 403, 413, 429, 5xx...), or a local problem.
    ERROR = 1
    #: Bad command line (argparse's code).
    USAGE = 2
    #: No answer from the service: not running, wrong URL, network down.
    UNREACHABLE = 3
    #: 401: no token, or one the service does not know.
    UNAUTHORIZED = 4
    #: 404: no such job (or not yours), or no such endpoint.
    NOT_FOUND = 5
    #: 409: the job is in the wrong state, or the id is taken.
    CONFLICT = 6
    #: --wait: the job ran past its timeout (as ``timeout(1)`` exits).
    JOB_TIMED_OUT = 124
    #: --wait: the job was cancelled.
    JOB_CANCELLED = 125
    #: --wait: the service, not the script, failed the job.
    JOB_SERVER_ERROR = 126
    #: Ctrl-C: the client stopped; the job itself goes on.
    INTERRUPTED = 130


#: HTTP status -> exit code; any other error status exits with ExitCode.ERROR.
EXIT_FOR_HTTP_STATUS = {
    401: ExitCode.UNAUTHORIZED,
    404: ExitCode.NOT_FOUND,
    409: ExitCode.CONFLICT,
}


class ClientError(Exception):
    """A failure to report in one line and exit with ``exit_code``.

    Parameters
    ----------
    message
        What went wrong, for the user.
    exit_code
        What the process exits with.
    http_status
        The service's HTTP status, when it answered with an error.
    after_retry
        The request was sent more than once, and a try before the last may have
        reached the service (its answer was a 503, or the connection broke).
    """

    def __init__(
        self,
        message: str,
        exit_code: int = ExitCode.ERROR,
        http_status: int | None = None,
        after_retry: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.exit_code = int(exit_code)
        self.http_status = http_status
        self.after_retry = after_retry
