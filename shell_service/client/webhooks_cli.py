"""``shell-service webhook ...``: webhooks from the command line.

``webhook ls``, ``webhook create URL [--event E ...] [--queue Q] [--definition
NAME] [--schedule ID] [--secret S] [--disabled] [--description TEXT]`` (prints
the secret, shown this once), ``webhook rm ID``, ``webhook deliveries ID``
(each delivery and its attempts) and ``webhook test ID`` (a ping).
"""

import argparse
import json
import sys

from .api import Api
from .errors import ExitCode
from .output import aligned, format_time

#: The events a webhook may ask for (the API checks; this is for --help).
EVENTS = ("started", "finished", "completed", "failed", "timed_out", "cancelled", "server_error")


def add_webhook_commands(commands: argparse._SubParsersAction, common) -> None:
    """The ``webhook`` command and its subcommands.

    Parameters
    ----------
    commands : argparse._SubParsersAction
        The main parser's subcommands.
    common : argparse.ArgumentParser
        The connection options every command takes.
    """
    parser = commands.add_parser(
        "webhook",
        parents=[common],
        help="webhooks: ls, create, rm, deliveries, test",
        description="Signed HTTP POSTs to a URL of yours when your jobs start or end.",
    )
    sub = parser.add_subparsers(dest="webhook_command", required=True, metavar="COMMAND")

    ls = sub.add_parser("ls", parents=[common], help="your webhooks (an admin's: everyone's)")
    ls.add_argument("--json", action="store_true", help="as JSON")
    ls.set_defaults(handler=cmd_webhook_ls)

    create = sub.add_parser(
        "create", parents=[common], help="create a webhook; prints its id and secret"
    )
    # Not "url": that is the service's own (--url, every command's option).
    create.add_argument("target_url", metavar="URL", help="http(s) URL the service POSTs to")
    create.add_argument(
        "--event",
        action="append",
        choices=EVENTS,
        help="an event wanted (repeat; default: finished)",
    )
    create.add_argument("--queue", help="only jobs of this queue")
    create.add_argument("--definition", help="only runs of this definition (a name)")
    create.add_argument("--schedule", type=int, metavar="ID", help="only jobs this schedule fired")
    create.add_argument("--secret", help="the signing key (default: generated, printed once)")
    create.add_argument("--disabled", action="store_true", help="create it disabled")
    create.add_argument("--description")
    create.add_argument("--json", action="store_true", help="the answer as JSON")
    create.set_defaults(handler=cmd_webhook_create)

    rm = sub.add_parser("rm", parents=[common], help="delete a webhook and its deliveries")
    rm.add_argument("id", metavar="ID")
    rm.set_defaults(handler=cmd_webhook_rm)

    deliveries = sub.add_parser(
        "deliveries", parents=[common], help="a webhook's deliveries and their attempts"
    )
    deliveries.add_argument("id", metavar="ID")
    deliveries.add_argument("--status", choices=("pending", "delivered", "failed"))
    deliveries.add_argument("--limit", type=int, default=20, help="most deliveries (default 20)")
    deliveries.add_argument("--json", action="store_true", help="as JSON")
    deliveries.set_defaults(handler=cmd_webhook_deliveries)

    test = sub.add_parser("test", parents=[common], help="send a webhook a ping")
    test.add_argument("id", metavar="ID")
    test.set_defaults(handler=cmd_webhook_test)


def webhook_path(webhook_id: str, *rest: str) -> str:
    """``/api/webhooks/<id>[/rest...]``; an id that is not a number answers 404 there."""
    return "/".join(["/api/webhooks", str(webhook_id).strip("/"), *rest])


def filters_text(filters: dict) -> str:
    """A webhook's filters as ``queue=q definition=d``; ``-`` for none."""
    shown = [f"{key}={value}" for key, value in filters.items() if value is not None]
    shown = [text for text in shown if not text.startswith("definition_id=")]
    return " ".join(shown) or "-"


def cmd_webhook_ls(api: Api, args: argparse.Namespace) -> int:
    """``webhook ls``: a table of webhooks."""
    found = api.call("GET", "/api/webhooks", params={"limit": 1000})["data"]
    if args.json:
        print(json.dumps(found, indent=2))
        return ExitCode.OK
    if not found:
        print("no webhooks", file=sys.stderr)
        return ExitCode.OK
    rows = [["ID", "OWNER", "ENABLED", "EVENTS", "FILTERS", "URL"]]
    for hook in found:
        rows.append(
            [
                str(hook["id"]),
                hook["owner"],
                "yes" if hook["enabled"] else "no",
                ",".join(hook["events"]),
                filters_text(hook["filters"]),
                hook["url"],
            ]
        )
    print(aligned(rows))
    return ExitCode.OK


def cmd_webhook_create(api: Api, args: argparse.Namespace) -> int:
    """``webhook create``: prints the id and the secret (not shown again)."""
    body: dict = {"url": args.target_url, "enabled": not args.disabled}
    for key, value in (
        ("events", args.event),
        ("queue", args.queue),
        ("definition", args.definition),
        ("schedule_id", args.schedule),
        ("secret", args.secret),
        ("description", args.description),
    ):
        if value is not None:
            body[key] = value
    created = api.call("POST", "/api/webhooks", json=body)["data"]
    if args.json:
        print(json.dumps(created, indent=2))
        return ExitCode.OK
    print(f"created webhook {created['id']}: {created['url']} ({','.join(created['events'])})")
    print(f"secret: {created['secret']}")
    print("(keep the secret: it is not shown again)", file=sys.stderr)
    return ExitCode.OK


def cmd_webhook_rm(api: Api, args: argparse.Namespace) -> int:
    """``webhook rm``: delete a webhook."""
    api.call("DELETE", webhook_path(args.id))
    print(f"deleted webhook {args.id}")
    return ExitCode.OK


def cmd_webhook_deliveries(api: Api, args: argparse.Namespace) -> int:
    """``webhook deliveries``: newest first, one line per attempt under each."""
    params: dict = {"limit": args.limit}
    if args.status:
        params["status"] = args.status
    found = api.call("GET", webhook_path(args.id, "deliveries"), params=params)["data"]
    if args.json:
        print(json.dumps(found, indent=2))
        return ExitCode.OK
    if not found:
        print("no deliveries", file=sys.stderr)
        return ExitCode.OK
    rows = [["DELIVERY", "EVENT", "JOB", "STATUS", "TIME (UTC)", "HTTP", "MS", "ERROR / NEXT"]]
    for d in found:
        rows.append([str(d["id"]), d["event"], d["job_id"] or "-", d["status"], "", "", "", ""])
        for a in d["attempts"]:
            detail = (a["error"] or "")[:80]
            if a["next_retry_at"]:
                detail += f" (next {format_time(a['next_retry_at'])})"
            rows.append(
                [
                    f"  #{a['number']}",
                    "",
                    "",
                    "",
                    format_time(a["started_at"]),
                    str(a["status_code"] or "-"),
                    str(a["duration_ms"]),
                    detail,
                ]
            )
    print(aligned(rows))
    return ExitCode.OK


def cmd_webhook_test(api: Api, args: argparse.Namespace) -> int:
    """``webhook test``: queue a ping."""
    delivery = api.call("POST", webhook_path(args.id, "test"))["data"]
    print(f"ping queued: delivery {delivery['id']} (see: webhook deliveries {args.id})")
    return ExitCode.OK
