"""The dashboard's definitions: the list, one definition (any version), and its run form.

The pages read what ``GET /api/definitions`` and ``.../versions`` read, with the
same visibility (``DefinitionAccessMixin``: your own and shared ones, an
admin's every one; any other is a 404, as a missing one). The run form is made
from the version's typed parameters (a widget per type, with the HTML
constraints the browser enforces mirroring ``definitions.check_value``) and
runs through the API's own ``run_definition``: its 400's errors are shown
beside their fields, the values kept (a secret's excepted: it is never written
into a page).
"""

import json
import re
import urllib.parse

import yaml

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError
from baselayer.app.models import utcnow

from ... import definitions, queue, queues, retries, schemas
from ...client.definitions_cli import DefinitionLoader, yaml_problem
from ..api.definitions import DefinitionAccessMixin, DefinitionRunMixin
from ..api.schedules import RECENT_FIRES, ScheduleAccessMixin, dump_schedule
from .base import UI_ROOT, UIHandler, form_integer

#: A parameter's form field is this prefix and its name.
PARAM_PREFIX = "param-"
#: The run options' form fields (``schemas.DefinitionRun`` and its ``overrides``).
NUMBER_OPTIONS = ("priority", "timeout", "cpus", "memory_mb")
OPTION_FIELDS = ("id", "queue", *NUMBER_OPTIONS, "retry_attempts", "array", "depends_on")
#: A 400's error keys -> the form field shown beside (the rest go above the form).
ERROR_FIELDS = {
    **{name: name for name in ("id", "queue", *NUMBER_OPTIONS, "array", "depends_on")},
    **{f"overrides.{name}": name for name in ("queue", *NUMBER_OPTIONS)},
    "retry": "retry_attempts",
    "overrides.retry": "retry_attempts",
}
#: Recent jobs shown on a definition's page.
RECENT_JOBS = 10
#: A job id as the API takes it, in the syntax browsers read ``pattern`` with
#: (JavaScript's ``v`` flag: a ``-`` in a class is escaped).
JOB_ID_PATTERN = r"[A-Za-z0-9_.\-]{1,128}"
#: RE2 syntax JavaScript reads differently or not at all: a pattern holding any
#: is left to the server (the browser would refuse values RE2 takes).
_NOT_JAVASCRIPT = ("(?", "\\p", "\\P", "\\z", "\\A", "\\Q", "\\C", "[[:", "\\pN")


def definition_url(definition: dict, version: int | None = None) -> str:
    """A definition's page (``version``: that version's), naming its owner.

    Parameters
    ----------
    definition : dict
        ``name`` and ``owner``.
    version : int or None

    Returns
    -------
    str
    """
    path = f"{UI_ROOT}/definitions/{urllib.parse.quote(definition['name'], safe='')}"
    if version is not None:
        path += f"/versions/{version}"
    owner = definition.get("owner")
    return path + ("?" + urllib.parse.urlencode({"owner": owner}) if owner else "")


def run_url(definition: dict) -> str:
    """Where a definition's run form posts (``.../run?owner=``).

    Parameters
    ----------
    definition : dict
        ``name`` and ``owner``.

    Returns
    -------
    str
    """
    path = f"{UI_ROOT}/definitions/{urllib.parse.quote(definition['name'], safe='')}/run"
    owner = definition.get("owner")
    return path + ("?" + urllib.parse.urlencode({"owner": owner}) if owner else "")


def flat_errors(errors, prefix: str = "") -> dict[str, list[str]]:
    """A 400's ``errors`` as one level: nested fields joined by dots.

    Parameters
    ----------
    errors : dict, list or str
        As ``load_body`` (marshmallow's nesting) or a run's checks give them.
    prefix : str

    Returns
    -------
    dict of str to list of str
        ``{"overrides.timeout": [...], "parameters.DAY": [...]}``.
    """
    if isinstance(errors, dict):
        out: dict[str, list[str]] = {}
        for key, value in errors.items():
            for name, messages in flat_errors(value, f"{prefix}{key}.").items():
                out.setdefault(name, []).extend(messages)
        return out
    messages = errors if isinstance(errors, list) else [errors]
    name = prefix[:-1] if prefix else "_"
    out = {}
    for message in messages:
        if isinstance(message, dict | list):
            for key, inner in flat_errors(message, prefix).items():
                out.setdefault(key, []).extend(inner)
        else:
            out.setdefault(name, []).append(str(message))
    return out


def errors_by_field(
    errors, specs: list[dict], fields: dict[str, str] | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """A 400's errors split: those beside a form field, and the rest (above the form).

    Parameters
    ----------
    errors : dict
        The 400's ``errors``.
    specs : list of dict
        The version's parameters.
    fields : dict of str to str, optional
        Error key -> form field, besides the parameters (default: the run form's,
        ``ERROR_FIELDS``).

    Returns
    -------
    tuple of (dict, list of str)
        Form field name -> messages; and ``"field: message"`` lines for the rest.
    """
    names = {spec["name"] for spec in specs}
    beside: dict[str, list[str]] = {}
    above: list[str] = []
    for key, messages in flat_errors(errors).items():
        field = (ERROR_FIELDS if fields is None else fields).get(key)
        if key.startswith("parameters.") and key.split(".", 1)[1] in names:
            field = PARAM_PREFIX + key.split(".", 1)[1]
        if field is None:
            above.extend(f"{key}: {message}" for message in messages)
        else:
            beside.setdefault(field, []).extend(messages)
    return beside, above


def _integer_or_text(text: str):
    # The schema refuses a non-number with its own message ("Not a valid integer").
    return form_integer(text)


def run_body(
    specs: list[dict], form: dict[str, list[str]], version: int, owner: str | None
) -> dict:
    """The ``POST /api/definitions/{name}/run`` body of a run form.

    Parameters
    ----------
    specs : list of dict
        The version's parameters.
    form : dict of str to list of str
        The form's fields as sent (a field may repeat: a multichoice's options,
        a boolean's hidden ``false`` before its ticked ``true``).
    version : int
        The version the form was made from (the run runs it, not a newer one).
    owner : str or None
        The definition's owner's username.

    Returns
    -------
    dict
        ``parameters`` (a field left empty is left out: its default applies;
        numbers as typed, which the API reads), ``overrides``, ``version``,
        ``owner`` and, when filled, ``id``, ``array`` and ``depends_on`` (job ids
        alone, or Slurm's text).
    """

    def last(name: str) -> str:
        values = form.get(name) or [""]
        return values[-1]

    parameters: dict = {}
    for spec in specs:
        name, field = spec["name"], PARAM_PREFIX + spec["name"]
        if spec["type"] == "multichoice":
            chosen = [value for value in form.get(field, []) if value]
            if chosen:
                parameters[name] = chosen
        elif spec["type"] == "boolean":
            value = last(field)
            # Unticked is false, unless nothing says false: an optional one
            # without a default is then not set at all.
            if value == "true":
                parameters[name] = True
            elif value == "false" and (spec.get("required") or spec.get("default") is not None):
                parameters[name] = False
        elif last(field) != "":
            parameters[name] = last(field)
    overrides: dict = {}
    if last("queue").strip():
        overrides["queue"] = last("queue").strip()
    for name in NUMBER_OPTIONS:
        if last(name).strip():
            overrides[name] = _integer_or_text(last(name).strip())
    if last("retry_attempts").strip():
        overrides["retry"] = {"attempts": _integer_or_text(last("retry_attempts").strip())}
    body: dict = {"parameters": parameters, "overrides": overrides, "version": version}
    if owner:
        body["owner"] = owner
    if last("id").strip():
        body["id"] = last("id").strip()
    if last("array").strip():
        body["array"] = _integer_or_text(last("array").strip())
    depends_on = last("depends_on").strip()
    if depends_on and ":" not in depends_on:
        # Job ids alone (commas or spaces between): each with the default condition.
        body["depends_on"] = [{"job": job} for job in depends_on.replace(",", " ").split()]
    elif depends_on:
        body["depends_on"] = depends_on  # Slurm's text: afterok:A:B,afterany:C
    return body


def default_values(specs: list[dict]) -> dict[str, list[str]]:
    """A new run form's values: each parameter's default, as its field sends it.

    Parameters
    ----------
    specs : list of dict

    Returns
    -------
    dict of str to list of str
        Form field name -> values.
    """
    values: dict[str, list[str]] = {}
    for spec in specs:
        default = spec.get("default")
        if default is None:
            continue
        field = PARAM_PREFIX + spec["name"]
        if spec["type"] == "multichoice":
            values[field] = list(default)
        else:
            values[field] = [definitions.as_text(spec, default)]
    return values


def _bound(value) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def browser_pattern(pattern: str) -> str | None:
    """A string parameter's pattern for the browser's ``pattern`` attribute, or None
    when RE2 and JavaScript might read it differently (the server checks it anyway)."""
    if any(syntax in pattern for syntax in _NOT_JAVASCRIPT):
        return None
    return pattern


def parameter_field(spec: dict, values: list[str], errors: list[str]) -> dict:
    """One parameter's form field: its widget, the HTML constraints the browser
    enforces (the server's rules, ``definitions.check_value``), its help.

    Parameters
    ----------
    spec : dict
        The parameter (``definitions.ParameterSpec``).
    values : list of str
        What the field holds (its default, or what was sent; never a secret's).
    errors : list of str
        The 400's messages for it.

    Returns
    -------
    dict
        ``name``, ``field`` (the input's name and id), ``kind`` (``input``,
        ``checkbox``, ``select``, ``multiselect``), ``attrs`` (attribute name ->
        value; None for a bare one such as ``required``), ``options`` (a
        select's), ``value``, ``selected``, ``required``, ``rules`` (the
        constraints in words), ``description``, ``errors``, ``spec``.
    """
    kind = spec["type"]
    required = bool(spec.get("required"))
    attrs: dict[str, str | None] = {}
    rules: list[str] = []
    options: list[tuple[str, str]] = []
    widget = "input"
    value = values[-1] if values else ""
    if kind in ("string", "secret"):
        attrs["type"] = "password" if kind == "secret" else "text"
        # UTF-8 bytes are at least as many as characters: never refuses what the server takes.
        attrs["maxlength"] = str(definitions.MAX_VALUE_BYTES)
        if "pattern" in spec:
            rules.append(f"matches {spec['pattern']} (the whole value)")
            shown = browser_pattern(spec["pattern"])
            if shown is not None:
                attrs["pattern"] = shown
                attrs["title"] = f"matches {spec['pattern']}"
        if kind == "secret":
            attrs["autocomplete"] = "new-password"
            rules.append("secret: passed in the environment, never shown")
            value = ""
    elif kind in ("integer", "number"):
        attrs["type"] = "number"
        attrs["step"] = "1" if kind == "integer" else "any"
        attrs["inputmode"] = "numeric" if kind == "integer" else "decimal"
        if "min" in spec:
            attrs["min"] = _bound(spec["min"])
        if "max" in spec:
            attrs["max"] = _bound(spec["max"])
        if "min" in spec and "max" in spec:
            rules.append(f"{kind} from {_bound(spec['min'])} to {_bound(spec['max'])}")
        elif "min" in spec:
            rules.append(f"{kind}, at least {_bound(spec['min'])}")
        elif "max" in spec:
            rules.append(f"{kind}, at most {_bound(spec['max'])}")
        else:
            rules.append("a whole number" if kind == "integer" else "a number")
    elif kind == "boolean":
        widget = "checkbox"
        if not required and spec.get("default") is None:
            rules.append("unticked: not set")
    elif kind == "choice":
        widget = "select"
        if spec.get("default") is None:
            # Required: the empty first option is a placeholder the browser will not submit.
            options.append(("", "(choose one)" if required else "(not set)"))
        options += [(choice, choice) for choice in spec["choices"]]
    else:  # multichoice
        widget = "multiselect"
        attrs["multiple"] = None
        attrs["size"] = str(min(len(spec["choices"]), 8))
        options = [(choice, choice) for choice in spec["choices"]]
        rules.append(
            f"any of them (ctrl/cmd-click), passed joined by {spec.get('separator', ',')!r}"
        )
    if required and kind != "boolean":  # a checkbox always sends true or false
        attrs["required"] = None
    if errors:
        attrs["aria-invalid"] = "true"
    if spec.get("default") is not None:
        shown_default = spec["default"]
        if isinstance(shown_default, list):
            shown_default = ", ".join(shown_default)
        elif isinstance(shown_default, bool):
            shown_default = "true" if shown_default else "false"
        rules.append(f"default {shown_default}")
    if spec.get("pass_as") == "arg":
        rules.append("passed as an argument")
    elif kind != "secret":
        rules.append(f"passed as ${definitions.env_var(spec)}")
    return {
        "spec": spec,
        "name": spec["name"],
        "field": PARAM_PREFIX + spec["name"],
        "kind": widget,
        "type": kind,
        "attrs": attrs,
        "options": options,
        "value": value,
        "selected": set(values),
        "required": required,
        "rules": rules,
        "description": spec.get("description") or "",
        "errors": errors,
    }


def delete_question(definition: dict, schedule_counts: dict) -> str:
    """What Delete asks before it deletes a definition: what goes with it, what stays.

    Parameters
    ----------
    definition : dict
        ``name`` and ``latest_version``.
    schedule_counts : dict
        ``queue.definition_schedule_counts``: ``total`` and ``others``.

    Returns
    -------
    str
    """
    versions = definition["latest_version"]
    question = (
        f"Delete the definition {definition['name']} and its {versions} "
        f"version{'s' if versions != 1 else ''}?"
    )
    total, others = schedule_counts["total"], schedule_counts["others"]
    if total:
        question += f" Its {total} schedule{'s' if total != 1 else ''}"
        if others:
            question += f" ({others} of other users)"
        question += " go with it." if total != 1 else " goes with it."
    return question + " The jobs that ran from it stay, with its name and version."


class DefinitionListPage(UIHandler):
    """``/ui/definitions``: the definitions the user may see, as ``GET
    /api/definitions`` lists them (their own and shared ones; an admin's, all), with
    their latest version, parameters and last run."""

    current_user: CurrentUser

    async def get(self):
        """The list, a page at a time (``offset``)."""
        user = self.current_user
        args = self.load_query(schemas.DefinitionListQuery)
        rows = queue.list_definitions(
            self.sql, user.id, user.is_admin, args["limit"], args["offset"]
        )
        runs = queue.recent_runs(
            self.sql, [row["id"] for row in rows], None if user.is_admin else user.id, 1
        )
        self.render_page(
            "definitions.html",
            definitions=[{**row, "last_run": (runs[row["id"]] or [None])[0]} for row in rows],
            offset=args["offset"],
            page_size=args["limit"],
            definition_url=definition_url,
        )


class DefinitionPage(DefinitionRunMixin, UIHandler):
    """``/ui/definitions/{name}`` (its latest version) and
    ``/ui/definitions/{name}/versions/{version}``: the definition, its versions, its
    recent jobs, its schedules and the run form; ``POST .../run`` runs it.

    A definition the user may not see (so may not run) is a 404, as for the API.
    """

    current_user: CurrentUser

    def definition_and_version(self, name: str, version: str | None) -> tuple[dict, dict]:
        """The definition (as the user sees it) and one of its versions.

        Raises
        ------
        APIError
            404 for a definition the user may not see or a version it has not;
            400 when several are called ``name`` and ``owner`` does not say whose.
        """
        owner = self.load_query(schemas.DefinitionQuery).get("owner")
        definition = self.definition_or_404(name, owner)
        number = None
        if version is not None:
            number = int(version) if version.isascii() and version.isdigit() else 0
            if not 1 <= number <= definition["latest_version"]:
                raise APIError(404, f"Definition {name!r} has no version {version!r}")
        found = queue.definition_version(self.sql, definition["id"], number)
        if found is None:
            raise APIError(404, f"Definition {name!r} has no version {version!r}")
        return definition, found

    def show(
        self,
        definition: dict,
        version: dict,
        form: dict[str, list[str]] | None = None,
        errors: dict[str, list[str]] | None = None,
        messages: list[str] | None = None,
        status: int = 200,
    ) -> None:
        """Render the definition's page with its run form (values and errors by field)."""
        user = self.current_user
        errors = errors or {}
        specs = version["parameters"]
        values = default_values(specs) if form is None else form
        fields = [
            parameter_field(
                spec,
                values.get(PARAM_PREFIX + spec["name"], []),
                errors.get(PARAM_PREFIX + spec["name"], []),
            )
            for spec in specs
        ]
        mine = None if user.is_admin else user.id
        schedule_rows = queue.definition_schedules(self.sql, definition["id"], mine)
        fires = queue.recent_fires(self.sql, [row["id"] for row in schedule_rows], RECENT_FIRES)
        now = utcnow()
        self.set_status(status)
        self.render_page(
            "definition.html",
            definition=definition,
            version=version,
            is_latest=version["version"] == definition["latest_version"],
            versions=queue.definition_versions(self.sql, definition["id"], 20, 0),
            recent_jobs=queue.recent_runs(self.sql, [definition["id"]], mine, RECENT_JOBS)[
                definition["id"]
            ],
            schedules=[dump_schedule(row, fires[row["id"]], now) for row in schedule_rows],
            fields=fields,
            options={name: (values.get(name) or [""])[-1] for name in OPTION_FIELDS},
            errors=errors,
            messages=messages or [],
            queue_names=[q.name for q in queues.configured_queues(self.settings["config"])],
            max_attempts=retries.MAX_ATTEMPTS,
            job_id_pattern=JOB_ID_PATTERN,
            definition_url=definition_url,
            run_url=run_url,
            may_change=self.may_change(definition),
            delete_question=delete_question(
                definition, queue.definition_schedule_counts(self.sql, definition["id"], user.id)
            ),
        )

    async def get(self, name: str, version: str | None = None):
        """The definition's page (its latest version, or ``version``)."""
        definition, found = self.definition_and_version(name, version)
        self.show(definition, found)

    async def post(self, name: str, version: str | None = None):
        """Run the version the form was made from; to the job's page, or back to the
        form with the errors beside their fields (400, values kept)."""
        form = self.decoded_arguments(self.request.body_arguments)
        shown_version = (form.get("version") or [""])[-1]
        if shown_version and not re.fullmatch(r"[0-9]{1,9}", shown_version):
            raise APIError(400, f"Invalid version {shown_version!r}: a version number")
        definition, found = self.definition_and_version(name, shown_version or None)
        self._form_body = run_body(found["parameters"], form, found["version"], definition["owner"])
        try:
            job_id = await self.run_definition(name, self.load_body(schemas.DefinitionRun))
        except APIError as exc:
            errors = (exc.data or {}).get("errors") or {}
            if exc.status_code == 404 and exc.message.startswith("No job"):
                errors = {"depends_on": [exc.message]}  # a job the user may not see
            elif exc.status_code == 409:
                errors = {"id": [exc.message]}
            elif exc.status_code >= 500 or exc.status_code == 404:
                raise  # the definition gone meanwhile: a 404 page
            beside, above = errors_by_field(errors, found["parameters"])
            message = "Please fix the fields marked below." if beside else exc.message
            return self.show(definition, found, form, beside, [message, *above], exc.status_code)
        self.redirect(f"{UI_ROOT}/jobs/{urllib.parse.quote(job_id, safe='')}")


#: What the new-definition form shows to start from.
EXAMPLE_DEFINITION = """name: weekly_report
description: The team's weekly report
shell: bash
code: |
  echo "report for $team, $weeks weeks, formats: $formats"
parameters:
  - {name: team, type: choice, choices: [data, infra, web], required: true}
  - {name: weeks, type: integer, default: 1, min: 1, max: 52}
  - {name: formats, type: multichoice, choices: [pdf, csv, html], default: [pdf]}
"""


class DefinitionTextLoader(DefinitionLoader):
    """The CLI's definition files' YAML (dates and yes/no stay text), without
    aliases: a few lines of ``*a`` references can stand for a body of billions."""

    def compose_node(self, parent, index):
        """A node, unless it is an alias (refused)."""
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not accepted here")
        return super().compose_node(parent, index)


def parse_definition_text(text: str) -> dict:
    """A definition's body as typed in the form: JSON, or YAML as ``def create`` reads it.

    Parameters
    ----------
    text : str

    Returns
    -------
    dict
        The body (checked by ``schemas.DefinitionCreate`` afterwards).

    Raises
    ------
    ValueError
        Neither is an object; the message says where.
    """
    try:
        if text.lstrip().startswith("{"):
            body = json.loads(text)
        else:
            body = yaml.load(text, Loader=DefinitionTextLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise ValueError(f"not JSON or YAML: {yaml_problem(exc, text)}") from None
    except ValueError as exc:
        raise ValueError(f"not JSON or YAML: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("must be an object: name, code, parameters, ...")
    return body


class NewDefinitionPage(DefinitionAccessMixin, UIHandler):
    """``/ui/new-definition``: a definition from its JSON or YAML body, made by the
    API's own ``create_definition`` (its errors listed beside the text, kept)."""

    current_user: CurrentUser

    def show_form(self, text: str, errors: list[str], status: int = 200) -> None:
        """Render the form with the text and the errors beside it."""
        self.set_status(status)
        self.render_page(
            "new_definition.html",
            text=text,
            errors=errors,
            editing=None,
            action=f"{UI_ROOT}/new-definition",
        )

    async def get(self):
        """The form, with an example to start from."""
        self.show_form(EXAMPLE_DEFINITION, [])

    async def post(self):
        """Make the definition; to its page, or back to the form with the errors."""
        text = self.get_argument("body", "", strip=False).replace("\r\n", "\n")
        try:
            self._form_body = parse_definition_text(text)
            created = self.create_definition(self.load_body(schemas.DefinitionCreate))
        except ValueError as exc:
            return self.show_form(text, [str(exc)], 400)
        except APIError as exc:
            if exc.status_code >= 500:
                raise
            errors = flat_errors((exc.data or {}).get("errors") or {})
            lines = [f"{key}: {' '.join(messages)}" for key, messages in errors.items()]
            return self.show_form(text, lines or [exc.message], exc.status_code)
        self.redirect(definition_url(created))


#: A schedule form's own fields (beside the parameters), each shown beside its errors.
SCHEDULE_FORM_FIELDS = ("cron", "timezone", "description", "overlap", "catch_up", "version")


def schedule_body(specs: list[dict], form: dict[str, list[str]], definition: dict) -> dict:
    """The ``POST /api/schedules`` body of a new-schedule form.

    Parameters
    ----------
    specs : list of dict
        The definition's latest version's parameters (the form's).
    form : dict of str to list of str
        The form's fields as sent.
    definition : dict
        ``name`` and ``owner``.

    Returns
    -------
    dict
        ``definition``, ``owner``, ``parameters`` (as a run form's), ``cron``,
        ``timezone`` (empty: UTC), ``overlap``, ``catch_up``, ``enabled`` (unless
        "start paused" is ticked), ``version`` (``"latest"`` or a number) and a
        ``description`` when given.
    """

    def last(name: str) -> str:
        values = form.get(name) or [""]
        return values[-1]

    body: dict = {
        "definition": definition["name"],
        "parameters": run_body(specs, form, 1, None)["parameters"],
        "cron": last("cron").strip(),
        "timezone": last("timezone").strip() or "UTC",
        "overlap": last("overlap") or "skip",
        "catch_up": last("catch_up") or "none",
        "enabled": last("paused") != "on",
    }
    if definition.get("owner"):
        body["owner"] = definition["owner"]
    if last("description").strip():
        body["description"] = last("description").strip()
    version = last("version")
    if version == "latest":
        body["version"] = "latest"
    elif re.fullmatch(r"[0-9]{1,9}", version):
        body["version"] = int(version)
    return body


class NewSchedulePage(ScheduleAccessMixin, DefinitionPage):
    """``/ui/definitions/{name}/new-schedule``: a schedule of the definition from a
    form (its parameters' widgets as the run form's), made by the API's own
    ``create_schedule``: its errors beside their fields, the values kept (a
    secret's excepted)."""

    current_user: CurrentUser

    def show_schedule_form(
        self,
        definition: dict,
        version: dict,
        form: dict[str, list[str]] | None = None,
        errors: dict[str, list[str]] | None = None,
        messages: list[str] | None = None,
        status: int = 200,
    ) -> None:
        """Render the form with its values, errors by field, and messages above."""
        errors = errors or {}
        specs = version["parameters"]
        mine = definition["owner_id"] == self.current_user.id
        values = form or {
            **default_values(specs),
            "timezone": ["UTC"],
            "version": ["latest" if mine else str(version["version"])],
        }
        fields = [
            parameter_field(
                spec,
                values.get(PARAM_PREFIX + spec["name"], []),
                errors.get(PARAM_PREFIX + spec["name"], []),
            )
            for spec in specs
        ]
        self.set_status(status)
        self.render_page(
            "new_schedule.html",
            schedule=None,
            definition=definition,
            version=version,
            version_choices=[version["version"]],
            foreign=not mine,
            action=f"{UI_ROOT}/definitions/{urllib.parse.quote(definition['name'], safe='')}"
            "/new-schedule?" + urllib.parse.urlencode({"owner": definition["owner"] or ""}),
            fields=fields,
            values={
                name: (values.get(name) or [""])[-1] for name in (*SCHEDULE_FORM_FIELDS, "paused")
            },
            errors=errors,
            messages=messages or [],
            definition_url=definition_url,
        )

    async def get(self, name: str, version: str | None = None):
        """The form, for the definition's latest version."""
        definition, found = self.definition_and_version(name, None)
        self.show_schedule_form(definition, found)

    async def post(self, name: str, version: str | None = None):
        """Make the schedule; to its page, or back to the form with the errors."""
        form = self.decoded_arguments(self.request.body_arguments)
        definition, found = self.definition_and_version(name, None)
        self._form_body = schedule_body(found["parameters"], form, definition)
        try:
            row = self.create_schedule(self.load_body(schemas.ScheduleCreate))
        except APIError as exc:
            if exc.status_code >= 500 or exc.status_code == 404:
                raise  # the definition gone meanwhile: a 404 page
            errors = (exc.data or {}).get("errors") or {}
            beside, above = errors_by_field(
                errors, found["parameters"], {name: name for name in SCHEDULE_FORM_FIELDS}
            )
            message = "Please fix the fields marked below." if beside else exc.message
            return self.show_schedule_form(
                definition, found, form, beside, [message, *above], exc.status_code
            )
        self.redirect(f"{UI_ROOT}/schedules/{row['id']}")
