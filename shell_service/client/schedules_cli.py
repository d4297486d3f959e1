"""``shell-service schedule ls|create|pause|resume|rm``: schedules from the command line.

Each command takes the Api and the parsed arguments and returns the exit code, as
the job commands in ``cli.py`` do; ``add_schedule_commands`` adds them.
"""

import argparse
import json
import sys

from .api import Api
from .definitions_cli import add_parameter_options, parameter_values
from .errors import ExitCode
from .output import aligned, printable


def version_arg(value: str) -> int | str:
    """``--version``: a positive number, or ``latest``."""
    if value == "latest":
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise argparse.ArgumentTypeError(f'expected a version number or "latest", not {value!r}')


def add_schedule_commands(
    commands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """``schedule ls|create|pause|resume|rm``."""
    schedule = commands.add_parser(
        "schedule", parents=[common], help="run definitions on a clock: ls, create, pause..."
    )
    actions = schedule.add_subparsers(dest="schedule_command", required=True, metavar="ACTION")

    ls = actions.add_parser("ls", parents=[common], help="your schedules, next and last ticks")
    ls.add_argument("--json", action="store_true", help="the schedules as JSON")
    ls.set_defaults(handler=cmd_schedule_ls)

    create = actions.add_parser(
        "create",
        parents=[common],
        help="schedule a definition; prints the schedule's id and next ticks",
        description="Run a definition on a cron expression (five fields, or @daily, "
        "@hourly...) read in a time zone.",
    )
    create.add_argument("definition", metavar="DEFINITION", help="the definition's name")
    create.add_argument("--cron", required=True, help='e.g. "30 2 * * *" or @daily')
    create.add_argument("--tz", dest="timezone", help="IANA time zone (default UTC)")
    add_parameter_options(create)
    create.add_argument("--version", type=version_arg, help='a version number or "latest"')
    create.add_argument("--owner", help="the definition's owner, if several share the name")
    create.add_argument("--overlap", choices=["skip", "queue", "allow"], help="default skip")
    create.add_argument("--catch-up", choices=["none", "latest"], help="default none")
    create.add_argument("--description")
    create.add_argument("--paused", action="store_true", help="create it paused")
    create.set_defaults(handler=cmd_schedule_create)

    for name, helptext, handler in (
        ("pause", "stop a schedule firing", cmd_schedule_pause),
        ("resume", "fire again, from the next tick after now", cmd_schedule_resume),
        ("rm", "delete a schedule (its jobs stay)", cmd_schedule_rm),
    ):
        action = actions.add_parser(name, parents=[common], help=helptext)
        action.add_argument("schedule_id", metavar="ID", type=int)
        action.set_defaults(handler=handler)


def last_fire(schedule: dict) -> str:
    """A schedule's last fire: ``job <id> <status>``, ``skipped: <why>``, or ``-``
    (a reason may quote a shared definition's text: escaped by the table)."""
    if not schedule["last_fires"]:
        return "-"
    fire = schedule["last_fires"][0]
    if fire["job_id"]:
        return f"{fire['job_id']} {fire['job_status'] or 'deleted'}"
    return f"skipped: {fire['skipped']}"


def schedule_table(schedules: list[dict]) -> str:
    """Schedules as a table: id, definition, cron and zone, on or paused, the next
    tick (local time), the last fire; control characters escaped (``printable``)."""
    rows = [["ID", "DEFINITION", "CRON", "TIMEZONE", "STATE", "NEXT (LOCAL)", "LAST"]]
    for schedule in schedules:
        upcoming = schedule["next_fires"]
        cells = [
            str(schedule["id"]),
            schedule["definition"],
            schedule["cron"],
            schedule["timezone"],
            "on" if schedule["enabled"] else "paused",
            upcoming[0]["local"] if upcoming else "-",
            last_fire(schedule),
        ]
        rows.append([printable(text).replace("\n", " ") for text in cells])
    return aligned(rows)


def cmd_schedule_ls(api: Api, args: argparse.Namespace) -> int:
    """``schedule ls``: a table of schedules."""
    found = api.call("GET", "/api/schedules", params={"limit": 1000})["data"]
    if args.json:
        print(json.dumps(found, indent=2))
    elif not found:
        print("no schedules", file=sys.stderr)
    else:
        print(schedule_table(found))
    return ExitCode.OK


def cmd_schedule_create(api: Api, args: argparse.Namespace) -> int:
    """``schedule create``: make a schedule; print its id and next ticks."""
    body: dict = {"definition": args.definition, "cron": args.cron}
    if args.param or args.param_file:
        body["parameters"] = parameter_values(args.param or [], args.param_file or [])
    if args.paused:
        body["enabled"] = False
    for option in ("timezone", "version", "owner", "overlap", "catch_up", "description"):
        if getattr(args, option) is not None:
            body[option] = getattr(args, option)
    schedule = api.call("POST", "/api/schedules", json=body)["data"]
    print(schedule["id"])
    if schedule["next_fires"]:
        first = schedule["next_fires"][0]
        print(f"next: {first['local']} ({first['utc']} UTC)", file=sys.stderr)
    return ExitCode.OK


def _set_enabled(api: Api, schedule_id: int, enabled: bool) -> int:
    path = f"/api/schedules/{schedule_id}"
    schedule = api.call("PATCH", path, json={"enabled": enabled})["data"]
    state = f"resumed; next: {schedule['next_fires'][0]['local']}" if enabled else "paused"
    print(f"schedule {schedule_id} {state}")
    return ExitCode.OK


def cmd_schedule_pause(api: Api, args: argparse.Namespace) -> int:
    """``schedule pause ID``."""
    return _set_enabled(api, args.schedule_id, False)


def cmd_schedule_resume(api: Api, args: argparse.Namespace) -> int:
    """``schedule resume ID``: from the next tick after now (ticks while paused do not fire)."""
    return _set_enabled(api, args.schedule_id, True)


def cmd_schedule_rm(api: Api, args: argparse.Namespace) -> int:
    """``schedule rm ID``: delete a schedule (its jobs stay)."""
    api.call("DELETE", f"/api/schedules/{args.schedule_id}")
    print(f"deleted schedule {args.schedule_id}")
    return ExitCode.OK
