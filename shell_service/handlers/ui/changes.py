"""The dashboard's changes to definitions and schedules: edit and delete.

A definition's editor is the new-definition form filled with its latest version
(YAML or JSON, as the user picks) and stores the whole next version through the
API's own ``replace_definition`` (``PUT``); Delete is the API's
``delete_definition``. Only the definition's owner or an admin may do either
(``check_changeable``: someone else's shared definition is a 403, as for the API;
one the user may not see, a 404). A schedule's editor is the new-schedule form
filled with the schedule and sends what changed through the API's
``change_schedule`` (``PATCH``); Delete is ``delete_schedule``. A secret's stored
value is never written into a page: its field stays empty, and empty keeps it.
"""

import json
import re
import urllib.parse

import yaml
from marshmallow import fields, validate

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError
from baselayer.app.models import utcnow

from ... import definitions, queue, schemas
from ..api.definitions import DefinitionAccessMixin
from ..api.schedules import ScheduleAccessMixin, dump_schedule
from .base import UI_ROOT, UIHandler
from .definitions import (
    PARAM_PREFIX,
    SCHEDULE_FORM_FIELDS,
    definition_url,
    errors_by_field,
    flat_errors,
    parameter_field,
    parse_definition_text,
    run_body,
)

#: The editor's text formats (``parse_definition_text`` reads either).
TEXT_FORMATS = ("yaml", "json")


class DefinitionEditQuery(schemas.DefinitionQuery):
    """The editor's query: ``owner`` (as the API's) and the text's ``format``."""

    format = fields.String(load_default="yaml", validate=validate.OneOf(TEXT_FORMATS))


class _TextDumper(yaml.SafeDumper):
    """YAML that ``DefinitionTextLoader`` reads back as written: a script in a block."""

    def analyze_scalar(self, scalar: str):
        """PyYAML's analysis, except that a tab inside a line does not rule out a block
        (YAML allows it there; PyYAML is stricter): scripts often hold tabs."""
        analysis = super().analyze_scalar(scalar)
        if "\t" in scalar and not analysis.allow_block:
            analysis.allow_block = super().analyze_scalar(scalar.replace("\t", " ")).allow_block
        return analysis


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Scripts and descriptions of several lines as `|` blocks (PyYAML quotes a
    # text a block cannot hold exactly: trailing spaces, some control characters).
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_TextDumper.add_representer(str, _represent_text)


def editable_body(definition: dict, version: dict) -> dict:
    """A version as the body that ``PUT /api/definitions/{name}`` would store again.

    Parameters
    ----------
    definition : dict
        ``name`` and ``shared``.
    version : dict
        ``queue.definition_version``'s row.

    Returns
    -------
    dict
        ``name`` first (the editor names what it edits), then the version's fields
        that are set, its job options, ``shared`` and its ``parameters``.
    """
    body: dict = {"name": definition["name"]}
    if version["description"] is not None:
        body["description"] = version["description"]
    if version["shell"]:
        body["shell"] = version["shell"]
    body["code"] = version["code"]
    if version["args"]:
        body["args"] = version["args"]
    if version["env"]:
        body["env"] = version["env"]
    if version["stdin"] is not None:
        body["stdin"] = version["stdin"]
    body.update(version["options"])
    body["shared"] = bool(definition["shared"])
    if version["parameters"]:
        body["parameters"] = version["parameters"]
    return body


def definition_text(body: dict, text_format: str) -> str:
    """A definition's body as the editor shows it.

    Parameters
    ----------
    body : dict
        As ``editable_body`` makes it.
    text_format : str
        ``yaml`` or ``json``.

    Returns
    -------
    str
        Text that ``parse_definition_text`` reads back as ``body``.
    """
    if text_format == "json":
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    text = ""
    for readable in (True, False):
        # PyYAML writes some line separators (U+0085, U+2028) raw, which read back
        # as line breaks: then every non-ASCII character is escaped instead.
        text = yaml.dump(
            body,
            Dumper=_TextDumper,
            sort_keys=False,
            allow_unicode=readable,
            default_flow_style=False,
            width=100,
        )
        if parse_definition_text(text) == body:
            break
    return text


class DefinitionEditPage(DefinitionAccessMixin, UIHandler):
    """``/ui/definitions/{name}/edit``: the new-definition editor filled with the latest
    version; saving stores the whole text as the next version (the API's ``PUT``)."""

    current_user: CurrentUser

    def changeable(self, name: str) -> tuple[dict, str]:
        """The definition, if the current user may change it, and the text's format.

        Raises
        ------
        APIError
            404 for one the user may not see; 403 for someone else's shared one;
            400 for a bad query.
        """
        args = self.load_query(DefinitionEditQuery)
        definition = self.definition_or_404(name, args.get("owner"))
        self.check_changeable(definition)
        return definition, args["format"]

    def show_editor(
        self,
        definition: dict,
        base_version: int,
        text: str,
        text_format: str,
        errors: list[str],
        status: int = 200,
    ) -> None:
        """Render the editor with the text and the errors beside it."""
        self.set_status(status)
        action = f"{UI_ROOT}/definitions/{urllib.parse.quote(definition['name'], safe='')}/edit?"
        self.render_page(
            "new_definition.html",
            text=text,
            errors=errors,
            editing=definition,
            base_version=base_version,
            text_format=text_format,
            action=action + urllib.parse.urlencode({"owner": definition["owner"] or ""}),
            edit_url=lambda fmt: (
                action + urllib.parse.urlencode({"owner": definition["owner"] or "", "format": fmt})
            ),
            definition_url=definition_url,
        )

    async def get(self, name: str):
        """The editor, filled with the latest version (``format``: yaml or json)."""
        definition, text_format = self.changeable(name)
        latest = queue.definition_version(self.sql, definition["id"], None)
        if latest is None:  # deleted meanwhile
            raise APIError(404, f"No definition called {name!r}")
        text = definition_text(editable_body(definition, latest), text_format)
        self.show_editor(definition, latest["version"], text, text_format, [])

    async def post(self, name: str):
        """Store the text as the next version; to the definition's page, or back to
        the editor with the errors (the text kept)."""
        definition, text_format = self.changeable(name)
        text = self.get_argument("body", "", strip=False).replace("\r\n", "\n")
        base = self.get_argument("base_version", "")
        latest = definition["latest_version"]
        # A refused save keeps the version the editor opened: a newer one stored
        # meanwhile is still reported by the next save, never overwritten unseen.
        opened = int(base) if re.fullmatch(r"[0-9]{1,9}", base) else latest
        try:
            body = parse_definition_text(text)
            typed_name = body.pop("name", definition["name"])
            if typed_name != definition["name"]:
                raise ValueError(
                    f"name: this is {definition['name']!r}; a definition's name does not "
                    "change (a new name is a new definition: New definition)"
                )
            if base != str(latest):
                # Stored meanwhile (another tab, another admin): say so rather than
                # overwrite it unseen; saving again stores this text over it.
                return self.show_editor(
                    definition,
                    latest,
                    text,
                    text_format,
                    [
                        f"version {latest} was stored since this editor opened version "
                        f"{base or '?'}: yours was not stored. Save again to store it "
                        "over that one, or open the definition to see it first."
                    ],
                    409,
                )
            self._form_body = body
            stored = self.replace_definition(definition, self.load_body(schemas.DefinitionReplace))
        except ValueError as exc:
            return self.show_editor(definition, opened, text, text_format, [str(exc)], 400)
        except APIError as exc:
            if exc.status_code >= 500 or exc.status_code == 404:
                raise  # gone meanwhile: a 404 page
            errors = flat_errors((exc.data or {}).get("errors") or {})
            lines = [f"{key}: {' '.join(messages)}" for key, messages in errors.items()]
            return self.show_editor(
                definition, opened, text, text_format, lines or [exc.message], exc.status_code
            )
        self.redirect(definition_url(stored))


class DefinitionDeletePage(DefinitionAccessMixin, UIHandler):
    """``POST /ui/definitions/{name}/delete``: the API's ``DELETE`` (its versions and
    every schedule of it go; its jobs stay); then the definitions list."""

    current_user: CurrentUser

    async def post(self, name: str):
        """Delete the definition.

        Raises
        ------
        APIError
            404 for one the user may not see; 403 for someone else's shared one.
        """
        owner = self.load_query(schemas.DefinitionQuery).get("owner")
        definition = self.definition_or_404(name, owner)
        self.check_changeable(definition)
        self.delete_definition(definition)
        self.redirect(f"{UI_ROOT}/definitions")


def _as_input(value: str) -> str:
    # What an <input> sends back of a value: browsers drop its line breaks.
    return value.replace("\r", "").replace("\n", "")


def _same(spec: dict, sent, stored) -> bool:
    """Whether a form's value is the stored one (text as typed against the checked
    value; a multichoice's list whatever its order, which a list cannot show)."""
    if stored is None:
        return False
    if spec["type"] == "multichoice":
        return isinstance(stored, list) and sorted(sent) == sorted(stored)
    if spec["type"] == "boolean":
        return sent is stored
    return str(sent) == _as_input(definitions.as_text(spec, stored))


def schedule_form_values(row: dict, specs: list[dict]) -> dict[str, list[str]]:
    """A schedule as its edit form's fields (never a secret's value).

    Parameters
    ----------
    row : dict
        As ``queue.schedule_row`` reads it.
    specs : list of dict
        The parameters of the version it runs (pinned, or the latest).

    Returns
    -------
    dict of str to list of str
        Form field name -> values: the stored parameter values, else their
        defaults (what a tick would run), and the schedule's own fields.
    """
    values: dict[str, list[str]] = {
        "cron": [row["cron"]],
        "timezone": [row["timezone"]],
        "overlap": [row["overlap"]],
        "catch_up": [row["catch_up"]],
        "description": [row["description"] or ""],
        "version": ["latest" if row["version"] is None else str(row["version"])],
    }
    for spec in specs:
        if spec["type"] == "secret":
            continue
        value = row["parameters"].get(spec["name"], spec.get("default"))
        if value is None:
            continue
        if spec["type"] == "multichoice" and isinstance(value, list):
            values[PARAM_PREFIX + spec["name"]] = list(value)
        else:
            values[PARAM_PREFIX + spec["name"]] = [definitions.as_text(spec, value)]
    return values


def schedule_changes(row: dict, specs: list[dict], form: dict[str, list[str]]) -> dict:
    """The ``PATCH /api/schedules/{id}`` body of an edit form: what changed only.

    A new ``cron`` or ``timezone`` restarts the ticks from now, so an unchanged one
    is not sent.

    Parameters
    ----------
    row : dict
        The schedule as stored.
    specs : list of dict
        The parameters the form showed.
    form : dict of str to list of str
        The form's fields as sent.

    Returns
    -------
    dict
        The fields that differ from the stored ones; ``parameters`` holds the
        values changed, None for one emptied (removed: its default applies), and
        a secret only when one was typed (empty keeps the stored value).
    """

    def last(name: str) -> str:
        values = form.get(name) or [""]
        return values[-1]

    changes: dict = {}
    cron = " ".join(last("cron").split())
    if cron != row["cron"]:
        changes["cron"] = cron
    timezone = last("timezone").strip() or "UTC"
    if timezone != row["timezone"]:
        changes["timezone"] = timezone
    for name in ("overlap", "catch_up"):
        if last(name) and last(name) != row[name]:
            changes[name] = last(name)
    description = last("description").strip() or None
    if description != (_as_input(row["description"] or "").strip() or None):
        changes["description"] = description
    version = last("version")
    if version == "latest":
        if row["version"] is not None:
            changes["version"] = "latest"
    elif version != str(row["version"]):
        changes["version"] = int(version) if version.isascii() and version.isdigit() else version
    sent = run_body(specs, form, 1, None)["parameters"]
    stored = row["parameters"]
    parameters: dict = {}
    for spec in specs:
        name = spec["name"]
        if spec["type"] == "secret":
            if name in sent:
                parameters[name] = sent[name]
        elif name in sent:
            if not _same(spec, sent[name], stored.get(name, spec.get("default"))):
                parameters[name] = sent[name]
        elif name in stored:
            parameters[name] = None
    if parameters:
        changes["parameters"] = parameters
    return changes


class ScheduleEditPage(ScheduleAccessMixin, UIHandler):
    """``/ui/schedules/{schedule_id}/edit``: the new-schedule form filled with the
    schedule; saving sends what changed through the API's ``change_schedule``
    (``PATCH``), its errors beside their fields, the values kept (never a secret's)."""

    current_user: CurrentUser

    def show_form(
        self,
        row: dict,
        form: dict[str, list[str]] | None = None,
        errors: dict[str, list[str]] | None = None,
        messages: list[str] | None = None,
        status: int = 200,
    ) -> None:
        """Render the form filled with the schedule (or with what was sent)."""
        errors = errors or {}
        version = self.version_or_400(row["definition_id"], row["version"], row["definition"])
        latest = self.version_or_400(row["definition_id"], None, row["definition"])
        specs = version["parameters"]
        values = form or schedule_form_values(row, specs)
        fields = []
        for spec in specs:
            field = parameter_field(
                spec,
                values.get(PARAM_PREFIX + spec["name"], []),
                errors.get(PARAM_PREFIX + spec["name"], []),
            )
            if spec["type"] == "secret" and spec["name"] in row["secret_parameters"]:
                # Stored: the field stays empty (never written back) and empty keeps it.
                field["attrs"].pop("required", None)
                field["rules"].append("a value is stored: leave empty to keep it")
            fields.append(field)
        definition = {"name": row["definition"], "owner": row["definition_owner"]}
        self.set_status(status)
        self.render_page(
            "new_schedule.html",
            schedule=dump_schedule(row, [], utcnow()),
            definition=definition,
            version=version,
            version_choices=sorted({version["version"], latest["version"]}),
            foreign=row["definition_owner"] != row["owner"],
            action=f"{UI_ROOT}/schedules/{row['id']}/edit",
            fields=fields,
            values={name: (values.get(name) or [""])[-1] for name in SCHEDULE_FORM_FIELDS}
            | {"paused": ""},
            errors=errors,
            messages=messages or [],
            definition_url=definition_url,
        )

    async def get(self, schedule_id: str):
        """The form, filled with the schedule."""
        self.show_form(self.schedule_or_404(schedule_id))

    async def post(self, schedule_id: str):
        """Change the schedule; to its page, or back to the form with the errors."""
        row = self.schedule_or_404(schedule_id)
        form = self.decoded_arguments(self.request.body_arguments)
        version = self.version_or_400(row["definition_id"], row["version"], row["definition"])
        changes = schedule_changes(row, version["parameters"], form)
        here = f"{UI_ROOT}/schedules/{row['id']}"
        if not changes:
            return self.redirect(here)  # nothing changed: nothing to store
        self._form_body = changes
        try:
            self.change_schedule(row, self.load_body(schemas.ScheduleUpdate, partial=True))
        except APIError as exc:
            if exc.status_code >= 500 or exc.status_code == 404:
                raise  # gone meanwhile: a 404 page
            errors = (exc.data or {}).get("errors") or {}
            beside, above = errors_by_field(
                errors, version["parameters"], {name: name for name in SCHEDULE_FORM_FIELDS}
            )
            message = "Please fix the fields marked below." if beside else exc.message
            return self.show_form(row, form, beside, [message, *above], exc.status_code)
        self.redirect(here)


class ScheduleDeletePage(ScheduleAccessMixin, UIHandler):
    """``POST /ui/schedules/{schedule_id}/delete``: the API's ``DELETE`` (its fire
    records go; the jobs it fired stay); then the schedules list."""

    current_user: CurrentUser

    async def post(self, schedule_id: str):
        """Delete the schedule.

        Raises
        ------
        APIError
            404 for one the user may not see (or gone meanwhile).
        """
        self.delete_schedule(self.schedule_or_404(schedule_id))
        self.redirect(f"{UI_ROOT}/schedules")
