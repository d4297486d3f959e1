"""The dashboard's submit form: a job as ``POST /api/jobs`` makes it, from a form.

The form's fields become the same JSON body the API takes (``schemas.JobCreate``),
loaded and checked by the API handler's own code (``JobCreateMixin``): a 400's
``errors`` are shown beside their fields, any other refusal above the form.
"""

import urllib.parse

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError

from ... import queues, schemas
from ..api.jobs import JobCreateMixin
from .base import UI_ROOT, UIHandler

#: The form's number fields (left as typed when not a number: the schema says so).
NUMBER_FIELDS = ("timeout", "priority", "cpus", "memory_mb")
#: The form's text fields, as typed.
TEXT_FIELDS = ("id", "code", "shell", "args", "env", "stdin", "queue", *NUMBER_FIELDS)


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


def form_to_body(form: dict[str, str], execute: bool) -> tuple[dict, dict[str, list[str]]]:
    """The ``POST /api/jobs`` body of the submit form, and the form's own errors.

    Parameters
    ----------
    form : dict of str to str
        The fields as typed (``TEXT_FIELDS``).
    execute : bool
        The "queue it now" box.

    Returns
    -------
    tuple of (dict, dict)
        The body (empty fields left out: the queue's defaults apply), and errors by
        field for what is not even the API's shape (an env line without ``=``).
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
            body[name] = int(value) if value.lstrip("-").isdigit() else value
    return body, errors


class SubmitHandler(JobCreateMixin, UIHandler):
    """``/ui/submit``: the form, and a job made from it (errors beside their fields)."""

    # Signed in: ``prepare`` sent anyone else to the sign-in page.
    current_user: CurrentUser

    def initialize(self):
        """As ``UIHandler``, and no JSON body yet (``json_body`` answers the form's)."""
        super().initialize()
        self._form_body: dict = {}

    def json_body(self) -> dict:
        """The form as the API's JSON body (``load_body`` reads this)."""
        return self._form_body

    def show_form(self, form: dict, errors: dict, message: str = "", status: int = 200) -> None:
        """Render the form with its values, errors by field, and a message above."""
        self.set_status(status)
        self.render_page(
            "submit.html",
            form=form,
            errors=errors,
            message=message,
            shells=self.settings["allowed_shells"],
            queue_names=[q.name for q in queues.configured_queues(self.settings["config"])],
            execute=form.get("execute", "on") == "on",
        )

    async def get(self):
        """The empty form (``?from=<job id>``: not yet; the rerun button reruns as is)."""
        self.show_form({"execute": "on"}, {})

    async def post(self):
        """Make the job; to its page, or back to the form with the errors."""
        # As typed: a script's or stdin's last newline is part of it.
        form = {name: self.get_argument(name, "", strip=False) for name in TEXT_FIELDS}
        form["execute"] = "on" if self.get_argument("execute", "") else "off"
        body, errors = form_to_body(form, form["execute"] == "on")
        if errors:
            return self.show_form(form, errors, "Please fix the fields marked below.", 400)
        self._form_body = body
        try:
            job_id = await self.create_job(self.load_body(schemas.JobCreate))
        except APIError as exc:
            if exc.status_code >= 500:
                raise
            field_errors = (exc.data or {}).get("errors") or {}
            return self.show_form(form, field_errors, exc.message, exc.status_code)
        self.redirect(f"{UI_ROOT}/jobs/{urllib.parse.quote(job_id, safe='')}")
