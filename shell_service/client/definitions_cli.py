"""``shell-service def ...``: job definitions from the command line.

``def ls``, ``def show NAME``, ``def create FILE`` (a definition file, YAML or
JSON: the body of ``POST /api/definitions``, with ``code_file`` allowed in place
of ``code``), ``def update FILE`` (its next version), ``def rm NAME`` and ``def
run NAME --param NAME=VALUE ... [--wait]``.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

from .api import Api
from .errors import ClientError, ExitCode
from .output import aligned, format_time, printable


def add_definition_commands(commands: argparse._SubParsersAction, common, follow) -> None:
    """The ``def`` command and its subcommands.

    Parameters
    ----------
    commands : argparse._SubParsersAction
        The main parser's subcommands.
    common : argparse.ArgumentParser
        The connection options every command takes.
    follow : callable
        ``follow(api, job_id, wait) -> exit code`` (``cli.follow_submitted``).
    """
    parser = commands.add_parser(
        "def",
        parents=[common],
        help="job definitions: ls, show, create, update, rm, run",
        description="Scripts kept with their typed parameters and default options; "
        "`def run` runs one with values for its parameters.",
    )
    sub = parser.add_subparsers(dest="def_command", required=True, metavar="COMMAND")

    ls = sub.add_parser("ls", parents=[common], help="your definitions and the shared ones")
    ls.add_argument("--json", action="store_true", help="as JSON")
    ls.set_defaults(handler=cmd_def_ls)

    show = sub.add_parser("show", parents=[common], help="a definition: parameters and script")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--version", type=int, help="this version (default: the latest)")
    show.add_argument("--owner", help="whose (a username), when several share the name")
    show.add_argument("--json", action="store_true", help="as JSON")
    show.set_defaults(handler=cmd_def_show)

    for name, help_text, handler in (
        ("create", "create a definition from a file (YAML or JSON)", cmd_def_create),
        ("update", "store a file (YAML or JSON) as a definition's next version", cmd_def_update),
    ):
        command = sub.add_parser(name, parents=[common], help=help_text)
        command.add_argument(
            "file",
            metavar="FILE",
            help="name, code (or code_file, relative to FILE), parameters, options...",
        )
        command.set_defaults(handler=handler)

    rm = sub.add_parser("rm", parents=[common], help="delete a definition (its jobs stay)")
    rm.add_argument("name", metavar="NAME")
    rm.add_argument("--owner", help="whose (admins)")
    rm.set_defaults(handler=cmd_def_rm)

    run = sub.add_parser(
        "run",
        parents=[common],
        help="run a definition; prints the job id, or with --wait its output",
    )
    run.add_argument("name", metavar="NAME")
    add_parameter_options(run)
    run.add_argument("--version", type=int, help="run this version (default: the latest)")
    run.add_argument("--owner", help="whose definition (a username), when several share the name")
    run.add_argument("--queue", help="override its queue")
    run.add_argument("--timeout", type=int, metavar="SECONDS", help="override its time limit")
    run.add_argument("--priority", type=int, help="override its priority")
    run.add_argument("--cpus", type=int, help="override its CPUs")
    run.add_argument("--memory-mb", type=int, help="override its memory, MiB")
    run.add_argument("--id", dest="job_id", metavar="NAME", help="the job's name")
    add_workflow_options(run)
    run.add_argument(
        "--wait", action="store_true", help="stream the output; exit with the job's exit code"
    )
    run.set_defaults(handler=lambda api, args: cmd_def_run(api, args, follow))


def array_value(text: str) -> int | str:
    """``--array``: a number alone is the array's size (as the API's ``"array": N``),
    anything else sbatch's index text (``3-3``: index 3 alone).

    Raises
    ------
    argparse.ArgumentTypeError
        A number with a ``%M`` bound (``3%1``): to sbatch that is index 3 alone, to
        this option's ``3`` three tasks; the message gives both spellings.
    """
    if text.isascii() and text.isdigit():
        return int(text)
    number, _, bound = text.partition("%")
    if all(part.isascii() and part.isdigit() for part in (number, bound)) and int(number):
        size = int(number)
        raise argparse.ArgumentTypeError(
            f"{text!r} is ambiguous: for {size} tasks, {bound} at once, write "
            f"0-{size - 1}%{bound}; for index {size} alone, write {size}-{size}%{bound}"
        )
    return text


def depends_on_value(text: str) -> list | str:
    """``--depends-on``: sbatch's text, or the API's list form in JSON (``[{"job":
    "ARRAY:7"}]``, the way to name an array's task)."""
    if not text.lstrip().startswith("["):
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a JSON list: {exc}") from exc


def add_workflow_options(command: argparse.ArgumentParser) -> None:
    """``--array`` (a size or sbatch's index text) and ``--depends-on DEPS``
    (``submit`` and ``def run``), as sbatch's ``--array`` and ``--dependency``
    take them."""
    command.add_argument(
        "--array",
        metavar="SPEC",
        type=array_value,
        help="an array job, one task per index: N alone is N tasks (indexes 0 to N-1), as "
        "the API's \"array\": N; or sbatch --array's indexes: 0-99, 1,3,5-9, 0-15:4, 3-3 "
        "(index 3 alone); %%N at the end: at most N tasks at once (the script reads "
        "SHELL_SERVICE_ARRAY_INDEX)",
    )
    command.add_argument(
        "--depends-on",
        metavar="DEPS",
        type=depends_on_value,
        help="wait for other jobs, as sbatch --dependency: afterok:ID[:ID...], afternotok:..., "
        "afterany:...; comma-separate several conditions. An array's task: the API's list "
        'form in JSON, \'[{"job": "ARRAY:7", "condition": "afterok"}]\'',
    )


def add_parameter_options(command: argparse.ArgumentParser) -> None:
    """``--param NAME=VALUE`` and ``--param-file NAME=PATH``, repeatable: a run's or
    a schedule's parameter values (``parameter_values`` joins them)."""
    command.add_argument(
        "--param",
        action="append",
        type=param_pair,
        metavar="NAME=VALUE",
        help="a parameter's value (a multichoice: its choices joined by its separator, "
        "',' unless it says otherwise); repeat for more",
    )
    command.add_argument(
        "--param-file",
        action="append",
        type=param_pair,
        metavar="NAME=PATH",
        help="a parameter's value read from a file (- for stdin; one final newline "
        "dropped): for secrets, kept out of the command line and the shell's history",
    )


def param_pair(value: str) -> tuple[str, str]:
    """``--param NAME=VALUE`` as ``(NAME, VALUE)``."""
    name, sep, text = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return name, text


def read_definition_file(path: str) -> dict:
    """A definition file as a request body: YAML (JSON is YAML too), with
    ``code_file`` (a path relative to the file) read into ``code``.

    Raises
    ------
    ClientError
        The file cannot be read, is not a mapping, or its code_file cannot be read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError(f"cannot read {path}: {exc}")
    try:
        body = yaml.load(text, Loader=DefinitionLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ClientError(f"cannot read {path}: {yaml_problem(exc, text)}")
    if not isinstance(body, dict):
        raise ClientError(f"{path}: expected a mapping (name, code, parameters...)")
    if "code_file" in body:
        body["code"] = read_code_file(Path(path), str(body.pop("code_file")))
    return body


def read_code_file(definition_file: Path, name: str) -> str:
    """The script a definition file names in ``code_file``: a file in the
    definition file's directory or below it (a definition file someone else wrote
    cannot make ``def create`` upload ``~/.ssh/id_rsa`` or ``/etc/passwd``).

    Raises
    ------
    ClientError
        The path leaves that directory, or the file cannot be read as UTF-8.
    """
    folder = definition_file.resolve().parent
    code_path = (folder / name).resolve()
    if not code_path.is_relative_to(folder):
        raise ClientError(f"{definition_file}: code_file {name!r} is not in {folder} (or below it)")
    try:
        return code_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError(f"cannot read {code_path}: {exc}")


def yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """What is wrong with a YAML text, for a person: PyYAML's message, but a control
    character YAML cannot hold as typed (ESC, NUL...: YAML takes them only as
    escapes in double quotes) named with its line and column and how to write it.

    Parameters
    ----------
    exc : yaml.YAMLError
        What the loader raised on ``text``.
    text : str

    Returns
    -------
    str
    """
    if not (isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int)):
        return str(exc)
    before = text[: exc.position]
    line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
    code = exc.character
    return (
        f"line {line}, column {column}: YAML cannot hold the control character "
        f"U+{code:04X} as typed; write it as an escape inside double quotes "
        f'("\\x{code:02x}"; ESC is also "\\e", as in "echo \\e[31mred"), or send JSON '
        f'("\\u{code:04x}")'
    )


class DefinitionLoader(yaml.SafeLoader):
    """YAML's safe loader, but dates and yes/no/on/off stay text (as YAML 1.2 has
    them): a default of 2026-11-30 is the string a string parameter takes, and
    choices [yes, no] are strings."""


DefinitionLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag != "tag:yaml.org,2002:timestamp"
        and not (tag == "tag:yaml.org,2002:bool" and regexp.match("yes"))
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
DefinitionLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def cmd_def_ls(api: Api, args: argparse.Namespace) -> int:
    """``def ls``: a table of definitions."""
    found = api.list_definitions()
    if args.json:
        print(json.dumps(found, indent=2))
        return ExitCode.OK
    if not found:
        print("no definitions", file=sys.stderr)
        return ExitCode.OK
    rows = [["NAME", "OWNER", "VERSION", "SHARED", "MODIFIED (UTC)", "DESCRIPTION"]]
    for d in found:
        description = (d.get("description") or "").splitlines()[:1]
        rows.append(
            [
                d["name"],
                d["owner"],
                str(d["latest_version"]),
                "yes" if d["shared"] else "no",
                format_time(d["modified"]),
                description[0][:60] if description else "",
            ]
        )
    print(printable(aligned(rows)))
    return ExitCode.OK


def parameter_line(spec: dict) -> str:
    """One parameter: name, type, how it is passed, and its rules."""
    parts = [spec["name"], spec["type"]]
    parts.append("required" if spec.get("required") else "optional")
    if spec.get("pass_as") == "arg":
        parts.append("as an argument")
    else:
        parts.append(f"as ${spec.get('env_var') or spec['name']}")
    if spec.get("default") is not None:
        parts.append(f"default {json.dumps(spec['default'])}")
    if spec.get("choices"):
        parts.append("choices " + ",".join(spec["choices"]))
    for bound in ("min", "max"):
        if spec.get(bound) is not None:
            parts.append(f"{bound} {spec[bound]:g}")
    if spec.get("pattern"):
        parts.append(f"pattern {spec['pattern']}")
    line = "  ".join(parts)
    return f"{line}  - {spec['description']}" if spec.get("description") else line


def cmd_def_show(api: Api, args: argparse.Namespace) -> int:
    """``def show``: one definition's fields, parameters and script."""
    d = api.get_definition(args.name, args.version, args.owner)
    if args.json:
        print(json.dumps(d, indent=2))
        return ExitCode.OK
    lines = [
        f"name:        {d['name']} (owner {d['owner']}{', shared' if d['shared'] else ''})",
        f"version:     {d['version']} of {d['latest_version']}, "
        f"{format_time(d['created_at'])} UTC by {d.get('author') or '-'}",
    ]
    if d.get("description"):
        lines.append(f"description: {d['description']}")
    lines.append(f"shell:       {d.get('shell') or '(default)'}")
    if d.get("options"):
        options = ", ".join(f"{k}={v}" for k, v in sorted(d["options"].items()))
        lines.append(f"options:     {options}")
    lines.append("parameters:" if d["parameters"] else "parameters:  none")
    lines += [f"    {parameter_line(spec)}" for spec in d["parameters"]]
    lines.append("code:")
    lines += [f"    {line}" for line in d["code"].splitlines()]
    print(printable("\n".join(lines)))
    return ExitCode.OK


def cmd_def_create(api: Api, args: argparse.Namespace) -> int:
    """``def create``: a new definition from a file."""
    stored = api.create_definition(read_definition_file(args.file))
    print(f"created {stored['name']} version {stored['version']}")
    return ExitCode.OK


def cmd_def_update(api: Api, args: argparse.Namespace) -> int:
    """``def update``: a file as the next version of the definition it names."""
    body = read_definition_file(args.file)
    name = body.pop("name", None)
    if not isinstance(name, str) or not name:
        raise ClientError(f"{args.file}: no name: which definition to update?")
    stored = api.replace_definition(name, body)
    print(f"updated {stored['name']}: version {stored['version']}")
    return ExitCode.OK


def cmd_def_rm(api: Api, args: argparse.Namespace) -> int:
    """``def rm``: delete a definition."""
    api.delete_definition(args.name, args.owner)
    print(f"deleted {args.name}")
    return ExitCode.OK


def parameter_values(pairs: list[tuple[str, str]], files: list[tuple[str, str]]) -> dict:
    """``--param`` and ``--param-file`` as the run's ``parameters``.

    Raises
    ------
    ClientError
        A parameter given twice, or a file that cannot be read as UTF-8.
    """
    values: dict[str, str] = {}
    for name, value in pairs + [(name, read_value(path)) for name, path in files]:
        if name in values:
            raise ClientError(f"parameter {name} is given twice", ExitCode.USAGE)
        values[name] = value
    return values


def read_value(path: str) -> str:
    """A parameter's value from a file (``-``: stdin), without one final newline."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError(f"cannot read {path}: {exc}")
    return text.removesuffix("\n")


def cmd_def_run(api: Api, args: argparse.Namespace, follow) -> int:
    """``def run``: run a definition with parameter values, as ``submit`` runs a script."""
    overrides = {
        "queue": args.queue,
        "timeout": args.timeout,
        "priority": args.priority,
        "cpus": args.cpus,
        "memory_mb": args.memory_mb,
    }
    body: dict = {
        "parameters": parameter_values(args.param or [], args.param_file or []),
        "overrides": {k: v for k, v in overrides.items() if v is not None},
    }
    given = (
        ("version", args.version),
        ("owner", args.owner),
        ("id", args.job_id),
        ("array", args.array),
        ("depends_on", args.depends_on),
    )
    for key, value in given:
        if value is not None:
            body[key] = value
    return follow(api, api.run_definition(args.name, body), args.wait)
