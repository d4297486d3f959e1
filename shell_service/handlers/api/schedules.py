"""Schedules: a definition run on a cron expression, in a time zone (README, "Schedules").

The app workers only store schedules; the scheduler (``services/scheduler/``)
fires them. A schedule's secret parameter values are stored apart
(``schedules.secret_parameters``) and never shown: answers show
``definitions.SECRET_MASK`` in their place.
"""

import datetime

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError, BaseHandler, parse_int_id
from baselayer.app.models import utcnow

from ... import queue, schedules, schemas
from ...definitions import SECRET_MASK, RunError, check_values, job_from_version
from ...job_checks import complete_job
from ...scheduler import NEVER, scheduler_settings
from .definitions import visible_definition

#: Ticks shown ahead of each schedule, and fires shown behind it.
UPCOMING = 5
RECENT_FIRES = 5


def _invalid(field: str, message: str) -> APIError:
    return APIError(
        400, f"Invalid request body: {field}: {message}", {"errors": {field: [message]}}
    )


def _local(tick: datetime.datetime, zone) -> dict:
    aware = tick.replace(tzinfo=datetime.UTC)
    return {"utc": tick, "local": aware.astimezone(zone).isoformat()}


def dump_schedule(row: dict, fires: list[dict], now: datetime.datetime) -> dict:
    """A schedule as the API shows it (``schemas.Schedule``).

    Parameters
    ----------
    row : dict
        As ``queue.schedule_row`` reads it.
    fires : list of dict
        Its last fires (``queue.recent_fires``).
    now : datetime.datetime
        Naive UTC.

    Returns
    -------
    dict
        Secret values masked; ``next_fires`` its next ``UPCOMING`` ticks (UTC
        and local; none while paused); ``last_fires`` newest first.
    """
    zone: datetime.tzinfo
    try:
        zone = schedules.parse_timezone(row["timezone"])
        cron = schedules.parse_cron(row["cron"])
        upcoming = [row["next_fire_at"]]
        upcoming += schedules.next_ticks(cron, zone, row["next_fire_at"], UPCOMING - 1)
    except schedules.ScheduleError:
        zone, upcoming = datetime.UTC, []
    # NEVER (no tick left) is no tick; nor is one a zone's offset would push past year 9999.
    upcoming = [tick for tick in upcoming if tick < NEVER - datetime.timedelta(days=1)]
    shown = {
        **row,
        "parameters": {
            **row["parameters"],
            **{name: SECRET_MASK for name in row["secret_parameters"]},
        },
        "next_fires": [_local(tick, zone) for tick in upcoming] if row["enabled"] else [],
        "waiting": bool(row["enabled"] and row["next_fire_at"] <= now),
        "last_fires": [{**fire, "recorded_at": fire["created_at"]} for fire in fires],
    }
    return schemas.Schedule().dump(shown)


class ScheduleAccessMixin(BaseHandler):
    """Finding a schedule as the current user may see it (their own; an admin's,
    anyone's), checking its timing and its runs, and changing it (the API's
    ``PATCH`` and the dashboard's pause and resume call ``change_schedule``)."""

    current_user: CurrentUser

    def schedule_or_404(self, schedule_id: str) -> dict:
        """The schedule, if the current user may see it.

        Raises
        ------
        APIError
            404 when there is none or it is someone else's (for a non-admin).
        """
        number = parse_int_id(schedule_id)
        row = queue.schedule_row(self.sql, number) if number is not None else None
        if row is None or not (
            self.current_user.is_admin or row["owner_id"] == self.current_user.id
        ):
            raise APIError(404, f"No schedule with id {schedule_id!r}")
        return row

    def check_timing(self, cron_text: str, timezone: str, now: datetime.datetime):
        """The five-field expression, and the first tick after ``now``.

        Raises
        ------
        APIError
            400 naming ``cron`` or ``timezone``.
        """
        try:
            cron = schedules.parse_cron(cron_text)
            zone = schedules.parse_timezone(timezone)
        except schedules.ScheduleError as exc:
            raise _invalid(exc.field, str(exc))
        first = schedules.next_tick(cron, zone, now)
        if first is None:
            raise _invalid("cron", "this expression has no tick after now")
        return first

    def check_run(self, version: dict, values: dict, overrides: dict) -> tuple[dict, dict]:
        """Check parameter values and overrides against a version, as a fire will.

        Parameters
        ----------
        version : dict
            ``queue.definition_version``'s row.
        values : dict
            Parameter name -> value, as sent (secrets included).
        overrides : dict
            ``schemas.RunOverrides``.

        Returns
        -------
        parameters, secret_parameters : dict
            The values sent, in their checked form, split: what may be shown, and
            the secrets' (stored apart, never shown).

        Raises
        ------
        APIError
            400 naming ``parameters.<name>`` (missing, wrong type, not a choice,
            out of range, pattern), or the job option over its queue's limits.
        """
        try:
            checked = check_values(version["parameters"], values)
            run = job_from_version(version, values, overrides)
        except RunError as exc:
            raise APIError(400, f"Invalid request body: {exc}", {"errors": exc.errors})
        complete_job(
            self.sql,
            self.settings["config"],
            self.settings["allowed_shells"],
            run.fields,
            run.secret_env,
        )
        secret = {spec["name"] for spec in version["parameters"] if spec["type"] == "secret"}
        sent = {name: checked[name] for name in values if name in checked}
        shown = {name: value for name, value in sent.items() if name not in secret}
        hidden = {name: value for name, value in sent.items() if name in secret}
        return shown, hidden

    def version_or_400(self, definition_id: int, version: int | None, name: str) -> dict:
        """A definition's version (None: its latest), as ``queue.definition_version``.

        Raises
        ------
        APIError
            400 naming ``version`` when the definition has no such version.
        """
        found = queue.definition_version(self.sql, definition_id, version)
        if found is None:
            raise _invalid("version", f"definition {name} has no version {version}")
        return found

    def create_schedule(self, body: dict) -> dict:
        """Store a new schedule of the current user (``POST /api/schedules``, and the
        dashboard's form).

        Parameters
        ----------
        body : dict
            Loaded by ``schemas.ScheduleCreate``.

        Returns
        -------
        dict
            The schedule (``queue.schedule_row``).

        Raises
        ------
        APIError
            404 for a definition the user may not see; 400 naming the field (cron,
            timezone, version, a parameter, an override); 409 past
            ``scheduler.max_per_user``.
        """
        user = self.current_user
        most = scheduler_settings(self.settings["config"]).max_per_user
        if queue.schedules_of(self.sql, user.id) >= most:
            raise APIError(
                409,
                f"You have {most} schedules, the most one user may have "
                "(config scheduler.max_per_user): delete one first",
            )
        definition = visible_definition(self.sql, user, body["definition"], body.get("owner"))
        if "version" not in body:
            # Someone else's script runs as you on every tick: pinned to the version
            # you could read now, unless you ask for "latest".
            mine = definition["owner_id"] == user.id
            body["version"] = None if mine else definition["latest_version"]
        version = self.version_or_400(definition["id"], body["version"], definition["name"])
        now = utcnow()
        first = self.check_timing(body["cron"], body["timezone"], now)
        shown, hidden = self.check_run(version, body["parameters"], body["overrides"])
        fields = {
            "definition_id": definition["id"],
            "version": body["version"],
            "description": body.get("description"),
            "parameters": shown,
            "secret_parameters": hidden,
            "overrides": body["overrides"],
            "cron": " ".join(body["cron"].split()),
            "timezone": body["timezone"],
            "enabled": body["enabled"],
            "overlap": body["overlap"],
            "catch_up": body["catch_up"],
            "next_fire_at": first,
        }
        row = queue.insert_schedule(self.sql, user.id, fields)
        if row is None:
            raise _invalid("definition", "the definition was deleted meanwhile")
        return row

    def change_schedule(self, row: dict, changes: dict) -> dict:
        """Change a schedule as ``PATCH /api/schedules/{id}`` does.

        Parameters
        ----------
        row : dict
            The schedule (``schedule_or_404``).
        changes : dict
            Loaded by ``schemas.ScheduleUpdate`` (partial): ``enabled: false``
            pauses it, ``true`` resumes it from the next tick after now; a new
            ``cron`` or ``timezone`` starts from now; ``parameters`` are merged
            over the stored values (None removes one) and checked again.

        Returns
        -------
        dict
            The schedule as changed (``queue.schedule_row``).

        Raises
        ------
        APIError
            400 naming a field (cron, timezone, version, a parameter, an
            override over its queue's limits); 404 if it is gone meanwhile.
        """
        now = utcnow()
        if "cron" in changes:
            changes["cron"] = " ".join(changes["cron"].split())
        retimed = (
            "cron" in changes
            or "timezone" in changes
            or (changes.get("enabled") and not row["enabled"])
        )
        if retimed:
            changes["next_fire_at"] = self.check_timing(
                changes.get("cron", row["cron"]), changes.get("timezone", row["timezone"]), now
            )
        if changes.keys() & {"version", "parameters", "overrides"}:
            version_number = changes["version"] if "version" in changes else row["version"]
            version = self.version_or_400(row["definition_id"], version_number, row["definition"])
            values = {**row["parameters"], **row["secret_parameters"]}
            for name, value in changes.pop("parameters", {}).items():
                if value is None:
                    values.pop(name, None)
                else:
                    values[name] = value
            overrides = changes.get("overrides", row["overrides"])
            changes["parameters"], changes["secret_parameters"] = self.check_run(
                version, values, overrides
            )
        changed = queue.update_schedule(self.sql, row["id"], changes)
        if changed is None:
            raise APIError(404, f"No schedule with id {str(row['id'])!r}")
        return changed

    def delete_schedule(self, row: dict) -> None:
        """Delete a schedule and its fire records; the jobs it fired stay, with its id
        (``DELETE /api/schedules/{id}``, and the dashboard's Delete).

        Parameters
        ----------
        row : dict
            The schedule (``schedule_or_404``).

        Raises
        ------
        APIError
            404 if it is gone meanwhile.
        """
        if not queue.delete_schedule(self.sql, row["id"]):
            raise APIError(404, f"No schedule with id {str(row['id'])!r}")


class ScheduleHandler(ScheduleAccessMixin, BaseHandler):
    """``/api/schedules`` (list, create) and ``/api/schedules/{schedule_id}`` (read,
    change, delete). Any user with a token; a user sees and changes only their own
    schedules, an admin anyone's (someone else's answers 404, as a missing one)."""

    def answer(self, rows: list[dict], one: bool) -> None:
        """Answer schedules as shown (``dump_schedule``), with their last fires.

        Parameters
        ----------
        rows : list of dict
            As ``queue.schedule_row`` reads them.
        one : bool
            Answer the first alone (a read, create or change), not the list.
        """
        fires = queue.recent_fires(self.sql, [row["id"] for row in rows], RECENT_FIRES)
        now = utcnow()
        data = [dump_schedule(row, fires[row["id"]], now) for row in rows]
        self.success(data[0] if one else data)

    async def get(self, schedule_id: str | None = None):
        """List schedules, or read one.

        ---
        single:
          summary: Read one schedule
          description: |
            The schedule, its next ticks (UTC and its time zone) and its last
            fires: each tick's job and the job's state, or why it was skipped.
            Secret parameters show as `********`.
          tags: [schedules]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: ScheduleEnvelope}}
            401: Unauthorized
            404:
              description: No such schedule, or not yours
              content: {application/json: {schema: Error}}
        multiple:
          summary: List schedules
          description: |
            Your schedules (for an admin, everyone's) by id, each with its next
            ticks and last fires.
          tags: [schedules]
          security: [{token: []}]
          parameters:
            - {in: query, schema: ScheduleListQuery}
          responses:
            200:
              content: {application/json: {schema: ScheduleListEnvelope}}
            400: BadRequest
            401: Unauthorized
        """
        if schedule_id is not None:
            return self.answer([self.schedule_or_404(schedule_id)], one=True)
        args = self.load_query(schemas.ScheduleListQuery)
        owner_id = None if self.current_user.is_admin else self.current_user.id
        rows = queue.list_schedules(self.sql, owner_id, args["limit"], args["offset"])
        self.answer(rows, one=False)

    async def post(self, schedule_id: str | None = None):
        """Create a schedule; only on ``/api/schedules`` (405 with an id).

        ---
        multiple:
          summary: Create a schedule
          description: |
            Runs a definition (yours or one shared with you) on a cron expression
            read in a time zone. Its jobs are yours, with the schedule and the tick
            recorded on them. The parameters are checked against the version now
            (and again at each tick: a tick whose parameters no longer fit is a
            recorded skip).
          tags: [schedules]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: ScheduleCreate}}
          responses:
            200:
              content: {application/json: {schema: ScheduleEnvelope}}
            400:
              description: |
                Bad JSON, a missing or unknown field, a bad cron expression or time
                zone, a parameter refused, options over the queue's limits
              content: {application/json: {schema: Error}}
            401: Unauthorized
            404:
              description: No definition of that name that you may run
              content: {application/json: {schema: Error}}
            409:
              description: You have config scheduler.max_per_user schedules already
              content: {application/json: {schema: Error}}
            413:
              description: The definition's script is over jobs.max_script_bytes
              content: {application/json: {schema: Error}}
        """
        if schedule_id is not None:
            raise APIError(405, "POST a new schedule to /api/schedules")
        body = self.load_body(schemas.ScheduleCreate)
        self.answer([self.create_schedule(body)], one=True)

    async def patch(self, schedule_id: str | None = None):
        """Change a schedule (``schedule_id`` required: 405 without).

        ---
        single:
          summary: Change, pause or resume a schedule
          description: |
            Any of its fields but the definition. `enabled: false` pauses it,
            `true` resumes it. Changing `cron` or `timezone`, or resuming,
            recomputes its next tick from now (ticks while paused are not
            fired). `parameters` are merged over the stored values (null
            removes one) and checked against the version.
          tags: [schedules]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: ScheduleUpdate}}
          responses:
            200:
              content: {application/json: {schema: ScheduleEnvelope}}
            400: BadRequest
            401: Unauthorized
            404: NotFound
            413:
              description: The definition's script is over jobs.max_script_bytes
              content: {application/json: {schema: Error}}
        """
        if schedule_id is None:
            raise APIError(405, "Name the schedule: PATCH /api/schedules/{schedule_id}")
        row = self.schedule_or_404(schedule_id)
        changes = self.load_body(schemas.ScheduleUpdate, partial=True)
        if not changes:
            raise APIError(400, "Invalid request body: nothing to change")
        changed = self.change_schedule(row, changes)
        self.answer([changed], one=True)

    async def delete(self, schedule_id: str | None = None):
        """Delete a schedule (``schedule_id`` required: 405 without).

        ---
        single:
          summary: Delete a schedule
          description: |
            The schedule and its fire records; the jobs it fired stay (yours to
            read, cancel or delete).
          tags: [schedules]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: EmptyEnvelope}}
            401: Unauthorized
            404: NotFound
        """
        if schedule_id is None:
            raise APIError(405, "Name the schedule: DELETE /api/schedules/{schedule_id}")
        self.delete_schedule(self.schedule_or_404(schedule_id))
        self.success()
