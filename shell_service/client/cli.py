"""``shell-service``: the command line (argparse), one function per command.

Each command takes the Api and the parsed arguments and returns the exit code;
``main`` turns a ClientError into one line on stderr and its exit code.
"""

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence

from .api import Api
from .definitions_cli import add_definition_commands, add_workflow_options
from .errors import ClientError, ExitCode
from .output import job_details, job_table, printable, queue_table
from .schedules_cli import add_schedule_commands
from .settings import (
    DEFAULT_RETRY_SECONDS,
    DEFAULT_URL,
    RETRY_ENV,
    TOKEN_ENV,
    TOKENS_FILE,
    URL_ENV,
    resolve_settings,
)
from .watch import FINISHED, copy_stream, wait_for_job
from .webhooks_cli import add_webhook_commands

#: The job states ``ls --status`` accepts.
STATES = ("READY", "QUEUED", "RUNNING", *sorted(FINISHED))
#: Most jobs one list request asks for (the API's limit).
PAGE_LIMIT = 1000

DESCRIPTION = "Run shell scripts on a shell_service server, follow them, and read their output."

EPILOG = f"""\
server and token:
  --url and --token, else ${URL_ENV} and ${TOKEN_ENV}, else the INITIAL_ADMIN
  token in ./{TOKENS_FILE} (written by `make run`) and {DEFAULT_URL}.

when the service cannot answer (503: restarting, its database away; or no
connection), reads, submit and cancel are sent again after its Retry-After,
for up to {DEFAULT_RETRY_SECONDS:.0f} s (--retry SECONDS or ${RETRY_ENV}; 0: never), with a
note on stderr. A submit retried after an answer was lost finds its job by its
id (chosen by the client when --id is not given) instead of making a second.
rerun is sent again only when the connection was refused. (submit's own
--retry N is its job's attempts: give the connection's before the command.)

exit codes:
  0     success (with --wait: the job was COMPLETE)
  1     the service refused the request (400, 403, 413, 429, 5xx...), or a local error
  2     bad command line
  3     the service cannot be reached
  4     401: no token, or one the service does not know
  5     404: no such job (or not yours)
  6     409: the job is in the wrong state (e.g. cancelling an ended job), or the id is taken
  N     with --wait: the job FAILED with exit code N
  124   with --wait: the job TIMED_OUT
  125   with --wait: the job was CANCELLED
  126   with --wait: the job ended with SERVER_ERROR (the service failed it)
  130   interrupted (Ctrl-C); the job itself goes on

examples:
  shell-service submit job.sh --shell bash --arg input.csv --env MODE=fast --wait
  echo 'echo hello' | shell-service submit - --id hello
  shell-service ls --status RUNNING,QUEUED
  shell-service submit big.sh --queue big --memory-mb 8192
  shell-service submit part.sh --array 0-99%10 --id parts
  shell-service submit merge.sh --depends-on afterok:parts --wait
  shell-service submit fetch.sh --retry 3 --retry-exit-codes 75 --retry-backoff 10:2:600
  shell-service logs fetch --attempt 1
  shell-service logs hello -f
  shell-service def run nightly_load --param day=2026-11-30 --wait
  shell-service schedule create nightly_load --cron "30 2 * * *" --tz Europe/Berlin
"""


# ---- argument types ---------------------------------------------------------


def env_pair(value: str) -> tuple[str, str]:
    """``--env NAME=VALUE`` as ``(NAME, VALUE)``."""
    name, sep, text = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return name, text


def status_list(value: str) -> list[str]:
    """``--status`` as a list of job states: comma-separated, any case."""
    states = [part.strip().upper() for part in value.split(",") if part.strip()]
    unknown = [state for state in states if state not in STATES]
    if unknown or not states:
        raise argparse.ArgumentTypeError(
            f"unknown state {', '.join(unknown) or repr(value)}; one of {', '.join(STATES)}"
        )
    return states


def exit_code_list(value: str) -> list[int]:
    """``--retry-exit-codes 1,75``: exit codes, comma-separated."""
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected exit codes such as 1,75, got {value!r}")


def ending_list(value: str) -> list[str]:
    """``--retry-on failed,timed_out``: the endings that retry, any case."""
    return [part.strip().upper() for part in value.split(",") if part.strip()]


def backoff_spec(value: str) -> dict:
    """``--retry-backoff INITIAL[:FACTOR[:MAX]]`` (seconds; factor; seconds)."""
    parts = value.split(":")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if not all(math.isfinite(n) for n in numbers):
        numbers = []  # nan, inf: no number JSON can carry
    if not 1 <= len(numbers) <= 3 or len(numbers) != len(parts):
        raise argparse.ArgumentTypeError(
            f"expected INITIAL[:FACTOR[:MAX]] such as 10:2:600, got {value!r}"
        )
    numbers = [int(n) if n.is_integer() else n for n in numbers]  # 10, not 10.0
    return dict(zip(("initial", "factor", "max"), numbers, strict=False))


def positive_int(value: str) -> int:
    """An integer of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


# ---- the parser -------------------------------------------------------------


def add_connection_options(
    parser: argparse.ArgumentParser, default: object, retry: bool = True
) -> None:
    """``--url``, ``--token`` and ``--retry``: on the main parser, and again after each
    command (but ``submit``'s ``--retry``, its job's attempts: ``retry`` False)."""
    parser.add_argument(
        "--url", default=default, help=f"server URL (${URL_ENV}; default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--token",
        default=default,
        help=f"API token (${TOKEN_ENV}; default from ./{TOKENS_FILE}); "
        "write --token=TOKEN when it starts with '-'",
    )
    if not retry:
        return
    parser.add_argument(
        "--retry",
        default=default,
        metavar="SECONDS",
        help=f"keep trying a call the service cannot answer now for this long (${RETRY_ENV}; "
        f"default {DEFAULT_RETRY_SECONDS:.0f}; 0: never)",
    )


def add_job_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser):
    """The commands on one job: show, logs, cancel, rerun."""
    show = commands.add_parser("show", parents=[common], help="a job's fields and history")
    show.add_argument("job_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="the job as JSON")
    show.set_defaults(handler=cmd_show)

    logs = commands.add_parser("logs", parents=[common], help="a job's output")
    logs.add_argument("job_id", metavar="ID")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing output until the job ends"
    )
    logs.add_argument("--stderr", action="store_true", help="standard error instead of output")
    logs.add_argument(
        "--attempt",
        type=positive_int,
        metavar="N",
        help="a retried job's earlier attempt (1 first; default the current one)",
    )
    logs.set_defaults(handler=cmd_logs)

    cancel = commands.add_parser("cancel", parents=[common], help="cancel a job")
    cancel.add_argument("job_id", metavar="ID")
    cancel.set_defaults(handler=cmd_cancel)

    rerun = commands.add_parser(
        "rerun", parents=[common], help="run a job again as a new job; prints the new id"
    )
    rerun.add_argument("job_id", metavar="ID")
    rerun.add_argument("--wait", action="store_true", help="as submit --wait, for the new job")
    rerun.set_defaults(handler=cmd_rerun)


def add_submit_command(commands: argparse._SubParsersAction, common: argparse.ArgumentParser):
    """``submit FILE [options]``. Its ``--retry`` is the job's attempts (as AWS
    Batch's retry strategy): the connection's ``--retry`` goes before the command."""
    submit = commands.add_parser(
        "submit",
        parents=[common],
        help="run a script; prints the job id, or with --wait its output",
        description="Create a job from a script and execute it. Without --wait, print its "
        "id; with --wait, stream its output (stdout and stderr apart) and exit with its "
        "exit code.",
    )
    submit.add_argument("file", metavar="FILE", help="the script; - reads it from stdin")
    submit.add_argument("--shell", help="interpreter: sh (the default), bash, python3...")
    submit.add_argument("--timeout", type=positive_int, metavar="SECONDS", help="time limit")
    submit.add_argument(
        "--arg",
        dest="args",
        action="append",
        metavar="A",
        help="an argument ($1, $2... in order); repeat for more (--arg=-x for a leading dash)",
    )
    submit.add_argument(
        "--env",
        action="append",
        type=env_pair,
        metavar="NAME=VALUE",
        help="an environment variable; repeat for more",
    )
    submit.add_argument("--id", dest="job_id", metavar="NAME", help="the job's name")
    submit.add_argument("--queue", help="the queue to run in (`shell-service queues` lists them)")
    submit.add_argument("--priority", type=int, help="-100..100; higher starts first (yours)")
    submit.add_argument("--cpus", type=positive_int, help="CPUs the job may use")
    submit.add_argument("--memory-mb", type=positive_int, help="memory the job may use, MiB")
    add_workflow_options(submit)
    submit.add_argument(
        "--retry",
        dest="attempts",
        type=positive_int,
        metavar="N",
        help="attempts in all, the first included (retry on a non-zero exit unless "
        "--retry-on/--retry-exit-codes say otherwise); the script reads "
        "SHELL_SERVICE_ATTEMPT. (The connection's --retry SECONDS goes before `submit`.)",
    )
    submit.add_argument(
        "--retry-on",
        type=ending_list,
        metavar="ENDINGS",
        help="endings that retry, comma-separated: failed (default), timed_out, "
        "server_error, host_lost",
    )
    submit.add_argument(
        "--retry-exit-codes",
        type=exit_code_list,
        metavar="CODES",
        help="only these exit codes retry, e.g. 1,75 (default: every non-zero one)",
    )
    submit.add_argument(
        "--retry-backoff",
        type=backoff_spec,
        metavar="INITIAL[:FACTOR[:MAX]]",
        help="seconds before the next attempt, times FACTOR (default 2) each time, at "
        "most MAX (default 3600), e.g. 10:2:600 (default: at once)",
    )
    submit.add_argument(
        "--wait", action="store_true", help="stream the output; exit with the job's exit code"
    )
    submit.set_defaults(handler=cmd_submit)


def add_list_command(commands: argparse._SubParsersAction, common: argparse.ArgumentParser):
    """``ls [--status S] [--queue Q] [--limit N]``; ``queues``."""
    ls = commands.add_parser("ls", parents=[common], help="your jobs, newest first")
    ls.add_argument(
        "--status",
        action="append",
        type=status_list,
        metavar="STATE",
        help="only jobs in this state; repeat or comma-separate for several",
    )
    ls.add_argument("--queue", help="only jobs of this queue")
    ls.add_argument("--definition", metavar="NAME", help="only runs of this definition")
    ls.add_argument("--array", metavar="ID", help="only the tasks of this array job")
    ls.add_argument("--limit", type=positive_int, default=20, help="most jobs (default 20)")
    ls.add_argument("--json", action="store_true", help="the jobs as JSON")
    ls.set_defaults(handler=cmd_ls)
    queues = commands.add_parser(
        "queues", parents=[common], help="the queues: limits, jobs queued and running"
    )
    queues.add_argument("--json", action="store_true", help="the queues as JSON")
    queues.set_defaults(handler=cmd_queues)


def build_parser() -> argparse.ArgumentParser:
    """The ``shell-service`` argument parser with all its commands."""
    parser = argparse.ArgumentParser(
        prog="shell-service",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_options(parser, default=None)
    # After a command, --url/--token are optional again; SUPPRESS keeps those given first.
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common, default=argparse.SUPPRESS)
    # submit's --retry is its job's attempts.
    submit_common = argparse.ArgumentParser(add_help=False)
    add_connection_options(submit_common, default=argparse.SUPPRESS, retry=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_submit_command(commands, submit_common)
    add_list_command(commands, common)
    add_job_commands(commands, common)
    add_definition_commands(commands, common, follow_submitted)
    add_webhook_commands(commands, common)
    add_schedule_commands(commands, common)
    return parser


# ---- commands ---------------------------------------------------------------


def read_script(path: str) -> str:
    """The script in ``path`` (``-``: standard input), as text."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ClientError(f"{'stdin' if path == '-' else path} is not UTF-8 text")


def submit_body(args: argparse.Namespace, code: str) -> dict:
    """The ``POST /api/jobs`` body: the script, the options given, and execute."""
    body: dict = {"code": code, "execute": True}
    options = {
        "id": args.job_id,
        "shell": args.shell,
        "timeout": args.timeout,
        "priority": args.priority,
        "queue": args.queue,
        "cpus": args.cpus,
        "memory_mb": args.memory_mb,
        "args": args.args,
        "env": dict(args.env) if args.env else None,
        "array": args.array,
        "depends_on": args.depends_on,
        "retry": retry_strategy(args),
    }
    body.update({key: value for key, value in options.items() if value is not None})
    return body


def retry_strategy(args: argparse.Namespace) -> dict | None:
    """The job's ``retry`` from ``--retry`` and ``--retry-*`` (None: none given;
    the service fills in the rest and checks it)."""
    strategy = {
        "attempts": args.attempts,
        "on": args.retry_on,
        "exit_codes": args.retry_exit_codes,
        "backoff": args.retry_backoff,
    }
    strategy = {key: value for key, value in strategy.items() if value is not None}
    return strategy or None


def follow_submitted(api: Api, job_id: str, wait: bool) -> int:
    """After submitting: print the id, or (``wait``) follow the job to its end."""
    if not wait:
        print(job_id)
        return ExitCode.OK
    if sys.stderr.isatty():
        print(f"shell-service: job {job_id}", file=sys.stderr)
    try:
        return wait_for_job(api, job_id)
    except KeyboardInterrupt:
        raise ClientError(
            f"stopped waiting; job {job_id} goes on: `shell-service logs -f {job_id}` "
            f"follows it, `shell-service cancel {job_id}` ends it",
            ExitCode.INTERRUPTED,
        )


def cmd_submit(api: Api, args: argparse.Namespace) -> int:
    """``submit``: create and execute a job."""
    job_id = api.create_job(submit_body(args, read_script(args.file)))
    return follow_submitted(api, job_id, args.wait)


def fetch_jobs(
    api: Api,
    limit: int,
    states: list[str] | None,
    queue: str | None = None,
    definition: str | None = None,
    array: str | None = None,
) -> tuple[list[dict], dict]:
    """Up to ``limit`` jobs (in ``states``, ``queue``, runs of ``definition``, tasks
    of ``array``, when given), newest first, following the cursor past one page;
    and the first page's envelope (with ``total`` when the service counts)."""
    params: dict = {"limit": min(limit, PAGE_LIMIT)}
    if states:
        params["status"] = ",".join(states)
    if queue:
        params["queue"] = queue
    if definition:
        params["definition"] = definition
    if array:
        params["array"] = array
    first = envelope = api.list_jobs(params)
    jobs = list(envelope["data"])
    while len(jobs) < limit and envelope["data"] and envelope.get("next_cursor"):
        params.update(cursor=envelope["next_cursor"], limit=min(limit - len(jobs), PAGE_LIMIT))
        envelope = api.list_jobs(params)
        jobs += envelope["data"]
    return jobs[:limit], first


def cmd_ls(api: Api, args: argparse.Namespace) -> int:
    """``ls``: a table of jobs."""
    states = [state for group in args.status or [] for state in group]
    jobs, first = fetch_jobs(api, args.limit, states, args.queue, args.definition, args.array)
    if args.json:
        print(json.dumps(jobs, indent=2))
        return ExitCode.OK
    if not jobs:
        if args.array:
            # No tasks: say so when the array is not one (404: exits NOT_FOUND).
            if api.get_job(args.array).get("array_spec") is None:
                raise ClientError(f"job {args.array} is not an array job")
        print("no jobs", file=sys.stderr)
        return ExitCode.OK
    print(printable(job_table(jobs)))
    total = first.get("total")
    if isinstance(total, int) and total > len(jobs):
        more = "+" if first.get("total_capped") else ""
        print(f"{len(jobs)} of {total}{more} jobs; --limit N shows more", file=sys.stderr)
    return ExitCode.OK


def cmd_queues(api: Api, args: argparse.Namespace) -> int:
    """``queues``: each queue's limits and its jobs now."""
    found = api.list_queues()
    print(json.dumps(found, indent=2) if args.json else printable(queue_table(found)))
    return ExitCode.OK


def cmd_show(api: Api, args: argparse.Namespace) -> int:
    """``show``: one job's fields and history."""
    job = api.get_job(args.job_id)
    if args.json:
        print(json.dumps(job, indent=2))
    else:
        print(printable(job_details(job, api.job_events(args.job_id))))
    return ExitCode.OK


def print_log(api: Api, job_id: str, stream: str, attempt: int | None = None) -> None:
    """The output a job (or one of its attempts) has written so far, page by page."""
    offset = 0
    while True:
        page = api.read_log(job_id, stream, offset, attempt)
        if not page["text"] or page["offset"] <= offset:
            return
        sys.stdout.write(page["text"])
        offset = page["offset"]


def cmd_logs(api: Api, args: argparse.Namespace) -> int:
    """``logs``: a job's stdout (or stderr); ``-f`` until it ends; ``--attempt N``
    a retried job's earlier attempt's."""
    stream = "stderr" if args.stderr else "stdout"
    if args.attempt is not None:
        print_log(api, args.job_id, stream, args.attempt)
        return ExitCode.OK
    # The followed log is the exact bytes; it is also the way to read an ended job
    # (its last attempt's output; -f: every attempt's, from the first).
    if args.follow:
        sys.stdout.flush()
        copy_stream(api, args.job_id, stream, sys.stdout.buffer)
        return ExitCode.OK
    job = api.get_job(args.job_id)
    if job["status"] in FINISHED:
        sys.stdout.flush()
        copy_stream(api, args.job_id, stream, sys.stdout.buffer, job.get("attempt", 1))
    else:
        print_log(api, args.job_id, stream)
    return ExitCode.OK


def cmd_cancel(api: Api, args: argparse.Namespace) -> int:
    """``cancel``: end a job that has not ended."""
    api.cancel_job(args.job_id)
    print(f"cancelled {args.job_id}")
    return ExitCode.OK


def cmd_rerun(api: Api, args: argparse.Namespace) -> int:
    """``rerun``: submit a copy of a job as a new job."""
    return follow_submitted(api, api.rerun_job(args.job_id), args.wait)


# ---- entry point ------------------------------------------------------------

Handler = Callable[[Api, argparse.Namespace], int]


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, and return the exit code."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = resolve_settings(args.url, args.token, retry_flag=args.retry)
        if settings.token is None:
            raise ClientError(
                f"no API token: pass --token, set ${TOKEN_ENV}, or run where "
                f"{TOKENS_FILE} is (`make run` writes it)",
                ExitCode.UNAUTHORIZED,
            )
        return handler(Api(settings), args)
    except ClientError as exc:
        print(f"shell-service: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\nshell-service: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and let no flush at exit complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> None:
    """The ``shell-service`` console script."""
    sys.exit(run(argv))
