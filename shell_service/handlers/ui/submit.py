"""The dashboard's submit form: a job as ``POST /api/jobs`` makes it, from a form.

The form's fields become the same JSON body the API takes (``schemas.JobCreate``:
retry, dependencies and array too), loaded and checked by the API handler's own
code (``JobCreateMixin``): a 400's ``errors`` are shown beside their fields (a
retry's parts beside theirs: ``retry.backoff.initial``), any other refusal above
the form. ``?from=<job id>`` fills it from a job ("Rerun with changes": the rerun
API takes no changes, so this makes a new job).
"""

import re
import urllib.parse

import marshmallow

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError

from ... import queues, retries, schemas
from ..api.jobs import JobCreateMixin
from .base import UI_ROOT, UIHandler, form_integer

#: The form's number fields (left as typed when not a number: the schema says so).
NUMBER_FIELDS = ("timeout", "priority", "cpus", "memory_mb")
#: The retry's fields: form name -> the part of ``retry`` it sets.
RETRY_FIELDS = {
    "retry_attempts": "attempts",
    "retry_exit_codes": "exit_codes",
    "retry_backoff_initial": "backoff.initial",
    "retry_backoff_factor": "backoff.factor",
    "retry_backoff_max": "backoff.max",
}
#: The endings a retry may be on (``retries.ENDINGS``), as the form's boxes.
RETRY_ENDINGS = retries.ENDINGS
#: Dependencies: rows of (job, condition), or Slurm's text.
DEPENDENCY_ROWS = 4
CONDITIONS = ("afterok", "afternotok", "afterany")
DEPENDENCY_FIELDS = tuple(
    name
    for row in range(1, DEPENDENCY_ROWS + 1)
    for name in (f"depends_job_{row}", f"depends_condition_{row}")
)
#: The form's text fields, as typed.
TEXT_FIELDS = (
    "id", "code", "shell", "args", "env", "stdin", "queue", *NUMBER_FIELDS, *RETRY_FIELDS,
    *DEPENDENCY_FIELDS, "depends_on_text", "array",
)  # fmt: skip
#: What "Rerun with changes" reads of a job: never ``secret_env`` (nor its id).
PREFILL_COLUMNS = (
    "code", "shell", "args", "env", "stdin", "queue", "timeout", "priority", "cpus", "memory_mb",
    "retry", "definition_name", "definition_version", "array_spec", "array_id", "array_index",
    "array_size",
)  # fmt: skip


def lines_of(text: str) -> list[str]:
    """A textarea's lines (browsers send CRLF), without a last empty one.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str
    """
    text = text.replace("\r\n", "\n")
    if not text:
        return []
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def number_or_text(text: str):
    """A number field's value: an int or float when it reads as one, else the text
    (the API's check then names the field).

    Parameters
    ----------
    text : str

    Returns
    -------
    int, float or str
    """
    text = text.strip()
    if isinstance(form_integer(text), int):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def retry_of(form: dict) -> dict | None:
    """The ``retry`` of the form's retry fields, or None when they are all empty.

    Parameters
    ----------
    form : dict
        The fields as typed; ``retry_on``: the ticked endings (a list).

    Returns
    -------
    dict or None
        As the API takes it (its defaults fill in what is left out).
    """
    retry: dict = {}
    if form.get("retry_attempts", "").strip():
        retry["attempts"] = number_or_text(form["retry_attempts"])
    if form.get("retry_on"):
        retry["on"] = list(form["retry_on"])
    codes = [c for c in re.split(r"[\s,]+", form.get("retry_exit_codes", "")) if c]
    if codes:
        retry["exit_codes"] = [number_or_text(c) for c in codes]
    backoff = {}
    for part in ("initial", "factor", "max"):
        value = form.get(f"retry_backoff_{part}", "").strip()
        if value:
            backoff[part] = number_or_text(value)
    if backoff:
        retry["backoff"] = backoff
    return retry or None


def form_to_body(form: dict, execute: bool) -> tuple[dict, dict[str, list[str]]]:
    """The ``POST /api/jobs`` body of the submit form, and the form's own errors.

    Parameters
    ----------
    form : dict
        The fields as typed (``TEXT_FIELDS``; ``retry_on``: a list).
    execute : bool
        The "queue it now" box.

    Returns
    -------
    tuple of (dict, dict)
        The body (empty fields left out: the queue's defaults apply), and errors by
        field for what is not even the API's shape (an env line without ``=``,
        dependency rows and Slurm's text both).
    """
    body: dict = {"code": form.get("code", "").replace("\r\n", "\n"), "execute": execute}
    errors: dict[str, list[str]] = {}
    for name in ("id", "shell", "queue"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    if form.get("stdin"):
        body["stdin"] = form["stdin"].replace("\r\n", "\n")
    args = lines_of(form.get("args", ""))
    if args:
        body["args"] = args
    env: dict[str, str] = {}
    for number, line in enumerate(lines_of(form.get("env", "")), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep:
            errors.setdefault("env", []).append(f"Line {number}: write NAME=value.")
        else:
            env[name.strip()] = value
    if env:
        body["env"] = env
    for name in NUMBER_FIELDS:
        value = form.get(name, "").strip()
        if value:
            body[name] = form_integer(value)
    retry = retry_of(form)
    if retry is not None:
        body["retry"] = retry
    rows = [
        {
            "job": form[f"depends_job_{row}"].strip(),
            "condition": form.get(f"depends_condition_{row}") or "afterok",
        }
        for row in range(1, DEPENDENCY_ROWS + 1)
        if form.get(f"depends_job_{row}", "").strip()
    ]
    text = form.get("depends_on_text", "").strip()
    if rows and text:
        errors.setdefault("depends_on", []).append(
            "Name the jobs in the rows or in Slurm's text, not both."
        )
    elif rows or text:
        body["depends_on"] = rows or text
    array = form.get("array", "").strip()
    if array:
        body["array"] = form_integer(array)
    return body, errors


def with_shape_errors(
    body: dict, errors: dict[str, list[str]], schema: marshmallow.Schema
) -> dict[str, list[str]]:
    """The form's own ``errors`` and, for its other fields, what ``schema`` (the API's
    body check) says of ``body``: every mistake is marked at once, not the form's
    first and the API's after a second submit.

    Parameters
    ----------
    body : dict
        What the form made of the fields it could read.
    errors : dict of str to list of str
        The form's own errors by field (they win over the schema's for a field).
    schema : marshmallow.Schema
        The body's schema (``JobCreate``; a partial ``JobUpdate`` for an edit).

    Returns
    -------
    dict of str to list of str
    """
    found = errors_by_field(schema.validate(body))
    return {**{k: v for k, v in found.items() if k not in errors}, **errors}


def errors_by_field(errors: dict) -> dict[str, list[str]]:
    """A 400's ``errors`` by the form's fields: nested ones flattened with dots, and
    a retry's message (``"backoff.initial: must be 0-86400"``) under the part it
    names (``retry.backoff.initial``), and one arg's or env variable's under
    ``args`` or ``env`` (``"Line 2: ..."``, ``"NAME: ..."``).

    Parameters
    ----------
    errors : dict
        ``data.errors`` of the API's 400 (field -> messages, or nested dicts).

    Returns
    -------
    dict of str to list of str
    """
    out: dict[str, list[str]] = {}

    def add(key: str, value) -> None:
        if isinstance(value, dict):
            for inner, messages in value.items():
                add(f"{key}.{inner}", messages)
            return
        for message in value if isinstance(value, list) else [value]:
            message = str(message)
            field = key
            if key == "retry":
                part, sep, rest = message.partition(": ")
                if sep and part in set(RETRY_FIELDS.values()) | {"on", "backoff"}:
                    field, message = f"retry.{part}", rest
            elif key.startswith(("args.", "env.")):
                # One line of the args or env box: beside the box, naming the line.
                field, _, item = key.partition(".")
                item = item.removesuffix(".key").removesuffix(".value")
                label = f"Line {int(item) + 1}" if item.isdigit() else item
                message = f"{label}: {message}"
            out.setdefault(field, []).append(message)

    for key, value in errors.items():
        add(str(key), value)
    return out


def prefill(job: dict) -> dict:
    """The form's fields from a job (``PREFILL_COLUMNS``), for "Rerun with changes".

    As ``POST /api/jobs/{id}/rerun`` copies a job: a task's index, array id and
    size go into its environment; an array job's indexes stay an array.

    Parameters
    ----------
    job : dict

    Returns
    -------
    dict
        The form's values (text), ``retry_on`` a list.
    """
    env = dict(sorted((job["env"] or {}).items()))  # as the job's page lists it
    if job["array_id"] is not None:
        env = {
            "SHELL_SERVICE_ARRAY_ID": job["array_id"],
            "SHELL_SERVICE_ARRAY_INDEX": str(job["array_index"]),
            "SHELL_SERVICE_ARRAY_SIZE": str(job["array_size"]),
            **env,
        }
    form: dict = {
        "code": job["code"],
        "shell": job["shell"] or "",
        "queue": job["queue"] or "",
        "args": "\n".join(job["args"] or []),
        "env": "\n".join(f"{name}={value}" for name, value in env.items()),
        "stdin": job["stdin"] or "",
        "array": job["array_spec"] or "",
        "execute": "on",
        **{name: "" if job[name] is None else str(job[name]) for name in NUMBER_FIELDS},
    }
    retry = job["retry"]
    if retry:
        backoff = retry.get("backoff") or {}
        form.update(
            retry_attempts=str(retry["attempts"]),
            retry_on=list(retry.get("on") or []),
            retry_exit_codes=", ".join(str(c) for c in retry.get("exit_codes") or []),
            **{
                f"retry_backoff_{part}": f"{backoff[part]:g}"
                for part in ("initial", "factor", "max")
                if part in backoff
            },
        )
    return form


class JobFormPage(JobCreateMixin, UIHandler):
    """A page of the submit form: its values as the API's JSON body, and the form
    shown with its errors (``SubmitHandler``; a READY job's edit, ``ready.py``)."""

    # Signed in: ``prepare`` sent anyone else to the sign-in page.
    current_user: CurrentUser

    def show_form(
        self, form: dict, errors: dict, message: str = "", status: int = 200, **page
    ) -> None:
        """Render the form with its values, errors by field, and a message above.

        ``page`` overrides the template's other values: ``editing`` (a READY job's
        edit form, ``handlers/ui/ready.py``; None here), ``shells``, ``queue_names``.
        """
        self.set_status(status)
        values: dict = {
            "shells": self.settings["allowed_shells"],
            "queue_names": [q.name for q in queues.configured_queues(self.settings["config"])],
            "editing": None,
            **page,
        }
        self.render_page(
            "submit.html",
            form=form,
            errors=errors,
            message=message,
            notice=form.pop("notice", ""),
            execute=form.get("execute", "on") == "on",
            endings=RETRY_ENDINGS,
            conditions=CONDITIONS,
            dependency_rows=DEPENDENCY_ROWS,
            **values,
        )


class SubmitHandler(JobFormPage):
    """``/ui/submit``: the form, and a job made from it (errors beside their fields)."""

    async def get(self):
        """The empty form, or (``?from=<job id>``) one filled from a job the user may see."""
        source = self.get_argument("from", "")
        if not source:
            return self.show_form({"execute": "on"}, {})
        job = self.job_row_or_404(source, PREFILL_COLUMNS)
        if job["definition_name"] is not None:
            # Its parameters (secrets among them) are its definition's to fill.
            notice = (
                f"Job {source} is a run of definition {job['definition_name']} (version "
                f"{job['definition_version']}): run it again, with changes, through its "
                "definition (POST /api/definitions/<name>/run takes its parameters and "
                "overrides), which fills in its secret parameters. This form makes jobs of "
                "your own script and was left empty."
            )
            return self.show_form({"execute": "on", "notice": notice}, {})
        form = prefill(job)
        form["notice"] = (
            f"A new job from job {source}'s script and settings: change what you need and "
            "submit. (Rerun takes no changes, so this submits a new job.) Its id, "
            "dependencies and output are not copied."
        )
        self.show_form(form, {})

    async def post(self):
        """Make the job; to its page, or back to the form with the errors."""
        # As typed: a script's or stdin's last newline is part of it.
        form: dict = {name: self.get_argument(name, "", strip=False) for name in TEXT_FIELDS}
        form["retry_on"] = [e for e in self.get_arguments("retry_on") if e]
        form["execute"] = "on" if self.get_argument("execute", "") else "off"
        body, errors = form_to_body(form, form["execute"] == "on")
        if errors:
            errors = with_shape_errors(body, errors, schemas.JobCreate())
            return self.show_form(form, errors, "Please fix the fields marked below.", 400)
        self._form_body = body
        try:
            job_id = await self.create_job(self.load_body(schemas.JobCreate))
        except APIError as exc:
            if exc.status_code >= 500:
                raise
            field_errors = errors_by_field((exc.data or {}).get("errors") or {})
            if exc.status_code == 404 and "depends_on" in body:
                # The one 404 of a create: a dependency on a job the user may not see.
                field_errors = {"depends_on": [exc.message]}
            return self.show_form(form, field_errors, exc.message, exc.status_code)
        self.redirect(f"{UI_ROOT}/jobs/{urllib.parse.quote(job_id, safe='')}")
