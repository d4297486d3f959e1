"""Job definitions: create, list, read, change (a new version each time), delete, run."""

import uuid

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError, BaseHandler

from ... import definitions, queue, schemas
from ...job_checks import (
    check_exec_limits,
    check_job_options,
    complete_job,
    queue_or_400,
    workflow_fields,
)
from .jobs import JobAccessMixin


def visible_definition(sql, user: CurrentUser, name: str, owner: str | None = None) -> dict:
    """The definition called ``name`` that ``user`` may see: their own first, else
    the one other user's they may see (shared; for an admin, any).

    Parameters
    ----------
    sql : PlainSQL
    user : CurrentUser
    name : str
        From the path or a query (any text).
    owner : str or None
        The username of its owner, to pick one of several.

    Returns
    -------
    dict
        As ``queue.definitions_named`` returns it.

    Raises
    ------
    APIError
        404 when the user may see none of that name; 400 naming ``owner`` when
        several owners' definitions have it and ``owner`` does not say which.
    """
    if "\x00" in name:  # PostgreSQL refuses a NUL; no name holds one
        raise APIError(404, f"No definition called {name!r}")
    found = queue.definitions_named(sql, name, user.id, user.is_admin, owner)
    if not found:
        raise APIError(404, f"No definition called {name!r}")
    if found[0]["owner_id"] == user.id or len(found) == 1:
        return found[0]
    owners = ", ".join(sorted(d["owner"] for d in found))
    error = f"several definitions are called {name!r} (owners: {owners}); name its owner"
    raise APIError(400, f"Invalid query arguments: owner: {error}", {"errors": {"owner": [error]}})


class DefinitionAccessMixin(BaseHandler):
    """Finding a definition by name as the current user sees it.

    A user sees their own definitions and shared ones (an admin, everyone's);
    any other answers exactly like a missing one (404). A name is looked up
    among the user's own first, then among the others they may see; ``owner``
    (a username) picks one of several.
    """

    current_user: CurrentUser

    def definition_or_404(self, name: str, owner: str | None = None) -> dict:
        """The definition called ``name`` that the current user may see
        (``visible_definition``)."""
        return visible_definition(self.sql, self.current_user, name, owner)

    def changeable_or_403(self, name: str) -> dict:
        """The definition ``name`` if the current user may change it: its owner or an admin.

        Raises
        ------
        APIError
            404 as ``definition_or_404``; 403 for a shared definition of someone else.
        """
        owner = self.load_query(schemas.DefinitionQuery).get("owner")
        definition = self.definition_or_404(name, owner)
        self.check_changeable(definition)
        return definition

    def may_change(self, definition: dict) -> bool:
        """Whether the current user may change or delete ``definition``: its owner or an admin.

        Parameters
        ----------
        definition : dict
            As ``definition_or_404`` returns it.

        Returns
        -------
        bool
        """
        return definition["owner_id"] == self.current_user.id or self.current_user.is_admin

    def check_changeable(self, definition: dict) -> None:
        """Refuse a change of ``definition`` by anyone but its owner or an admin.

        Parameters
        ----------
        definition : dict
            As ``definition_or_404`` returns it (one the user may see).

        Raises
        ------
        APIError
            403 for a shared definition of someone else.
        """
        if not self.may_change(definition):
            raise APIError(
                403,
                f"Definition {definition['name']!r} is {definition['owner']}'s: only they or "
                "an admin may change it",
            )

    def check_version_fields(self, fields: dict) -> None:
        """A version's job options must fit the config as a job's do (its queue, or the
        default queue; the shell; the script's size).

        Raises
        ------
        APIError
            400 or 413 naming the field (``check_job_options``).
        """
        cfg = self.settings["config"]
        job_queue = queue_or_400(cfg, fields["options"].get("queue"))
        checked = {"code": fields["code"], **fields["options"]}
        if fields.get("shell"):
            checked["shell"] = fields["shell"]
        check_job_options(checked, cfg["jobs"], job_queue, self.settings["allowed_shells"])

    def shown(self, definition: dict, version: dict) -> dict:
        """A definition with one of its versions, as ``schemas.Definition`` shows it."""
        return schemas.Definition().dump({**version, **definition})

    def store_version(self, definition: dict, fields: dict, shared: bool | None) -> dict:
        """Store ``fields`` as the next version of ``definition``.

        Parameters
        ----------
        definition : dict
            One the user may change (``changeable_or_403``, or ``check_changeable``).
        fields : dict
            The version's fields (``version_fields``).
        shared : bool or None
            Its new ``shared``; None keeps it.

        Returns
        -------
        dict
            The definition with its new version, as ``shown``.

        Raises
        ------
        APIError
            400 or 413 for options the config refuses; 404 if it was deleted meanwhile.
        """
        self.check_version_fields(fields)
        shared = definition["shared"] if shared is None else shared
        stored = queue.insert_version(
            self.sql, definition["id"], shared, fields, self.current_user.id
        )
        if stored is None:
            raise APIError(404, f"No definition called {definition['name']!r}")
        version = queue.definition_version(self.sql, stored["id"], stored["latest_version"])
        if version is None:
            raise APIError(404, f"No definition called {definition['name']!r}")
        return self.shown(stored, version)

    def replace_definition(self, definition: dict, body: dict) -> dict:
        """Store ``body`` as the whole next version of ``definition`` (``PUT
        /api/definitions/{name}``, and the dashboard's editor).

        Parameters
        ----------
        definition : dict
            One the user may change (``changeable_or_403``, or ``check_changeable``).
        body : dict
            Loaded by ``schemas.DefinitionReplace``: fields left out are left out
            of the version (``shared`` left out is kept).

        Returns
        -------
        dict
            The definition with its new version, as ``shown``.

        Raises
        ------
        APIError
            As ``store_version``.
        """
        return self.store_version(definition, version_fields(body), body.get("shared"))

    def delete_definition(self, definition: dict) -> None:
        """Delete ``definition`` with its versions and every schedule of it (anyone's);
        the jobs that ran from it stay, with its name and the version they ran
        (``DELETE /api/definitions/{name}``, and the dashboard's Delete).

        Parameters
        ----------
        definition : dict
            One the user may change (``changeable_or_403``, or ``check_changeable``).
        """
        queue.delete_definition(self.sql, definition["id"])

    def create_definition(self, body: dict) -> dict:
        """Store a new definition, owned by the current user, as its version 1 (``POST
        /api/definitions``, and the dashboard's form).

        Parameters
        ----------
        body : dict
            Loaded by ``schemas.DefinitionCreate``.

        Returns
        -------
        dict
            The definition as ``shown``.

        Raises
        ------
        APIError
            400 or 413 for options the config refuses; 409 when the user has a
            definition of that name; 404 if it was deleted meanwhile.
        """
        fields = version_fields(body)
        self.check_version_fields(fields)
        user = self.current_user
        definition = queue.insert_definition(
            self.sql, user.id, body["name"], body.get("shared", False), fields
        )
        if definition is None:
            raise APIError(409, f"You have a definition called {body['name']!r} already")
        version = queue.definition_version(self.sql, definition["id"], 1)
        if version is None:  # deleted meanwhile
            raise APIError(404, f"No definition called {body['name']!r}")
        return self.shown(definition, version)


def version_fields(body: dict) -> dict:
    """A version's stored fields (``queue.VERSION_FIELDS``) from a validated body."""
    return {
        "description": body.get("description"),
        "code": body["code"],
        "shell": body.get("shell"),
        "args": body.get("args", []),
        "env": body.get("env", {}),
        "stdin": body.get("stdin"),
        "options": {k: body[k] for k in definitions.JOB_OPTIONS if k in body},
        "parameters": body.get("parameters", []),
    }


class DefinitionHandler(DefinitionAccessMixin, BaseHandler):
    """``/api/definitions`` and ``/api/definitions/{name}``: job definitions.

    Any user with a token. GET lists or reads (yours and shared ones; an admin,
    all); POST creates (version 1); PUT and PATCH make the next version (owner or
    admin); DELETE deletes it with its versions and schedules (the jobs that ran
    from it stay).
    """

    async def get(self, name: str | None = None):
        """List definitions, or read one (``name`` from the path; None on the list).

        ---
        single:
          summary: Read a definition
          description: |
            Its latest version (its script, default options and parameters), who
            owns it and whether it is shared. Yours is found first; `owner`
            names another user's shared one.
          tags: [definitions]
          security: [{token: []}]
          parameters:
            - {in: query, schema: DefinitionQuery}
          responses:
            200:
              content: {application/json: {schema: DefinitionEnvelope}}
            400: BadRequest
            401: Unauthorized
            404: NotFound
        multiple:
          summary: List definitions
          description: Yours and the shared ones (an admin's list, everyone's), by name.
          tags: [definitions]
          security: [{token: []}]
          parameters:
            - {in: query, schema: DefinitionListQuery}
          responses:
            200:
              content: {application/json: {schema: DefinitionListEnvelope}}
            400: BadRequest
            401: Unauthorized
        """
        user = self.current_user
        if name is None:
            args = self.load_query(schemas.DefinitionListQuery)
            rows = queue.list_definitions(
                self.sql, user.id, user.is_admin, args["limit"], args["offset"]
            )
            return self.success(schemas.DefinitionSummary(many=True).dump(rows))
        owner = self.load_query(schemas.DefinitionQuery).get("owner")
        definition = self.definition_or_404(name, owner)
        version = queue.definition_version(self.sql, definition["id"], None)
        if version is None:  # deleted meanwhile
            raise APIError(404, f"No definition called {name!r}")
        self.success(self.shown(definition, version))

    async def post(self, name: str | None = None):
        """Create a definition (only on ``/api/definitions``: 405 with a name).

        ---
        multiple:
          summary: Create a definition
          description: |
            A script with its default job options and typed parameters, stored as
            version 1 under a name unique among yours. Run it with
            `POST /api/definitions/{name}/run`.
          tags: [definitions]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: DefinitionCreate}}
          responses:
            200:
              content: {application/json: {schema: DefinitionEnvelope}}
            400: BadRequest
            401: Unauthorized
            409:
              description: You have a definition of this name already
              content: {application/json: {schema: Error}}
            413:
              description: The script is over jobs.max_script_bytes
              content: {application/json: {schema: Error}}
        """
        if name is not None:
            raise APIError(405, "POST a new definition to /api/definitions")
        self.success(self.create_definition(self.load_body(schemas.DefinitionCreate)))

    async def put(self, name: str | None = None):
        """Replace a definition with a whole new version (``name`` required).

        ---
        single:
          summary: Replace a definition (a new version)
          description: |
            The body is the whole next version: fields left out are not carried
            over (PATCH carries them). Earlier versions stay and can still run.
          tags: [definitions]
          security: [{token: []}]
          parameters:
            - {in: query, schema: DefinitionQuery}
          requestBody:
            required: true
            content: {application/json: {schema: DefinitionReplace}}
          responses:
            200:
              content: {application/json: {schema: DefinitionEnvelope}}
            400: BadRequest
            401: Unauthorized
            403:
              description: Someone else's shared definition
              content: {application/json: {schema: Error}}
            404: NotFound
            413:
              description: The script is over jobs.max_script_bytes
              content: {application/json: {schema: Error}}
        """
        if name is None:
            raise APIError(405, "Name the definition: PUT /api/definitions/{name}")
        definition = self.changeable_or_403(name)
        body = self.load_body(schemas.DefinitionReplace)
        self.success(self.replace_definition(definition, body))

    async def patch(self, name: str | None = None):
        """Change some fields of a definition: a new version (``name`` required).

        ---
        single:
          summary: Change a definition (a new version)
          description: |
            The fields sent replace the latest version's, the others are carried
            over; the result is stored as the next version.
          tags: [definitions]
          security: [{token: []}]
          parameters:
            - {in: query, schema: DefinitionQuery}
          requestBody:
            required: true
            content: {application/json: {schema: DefinitionReplace}}
          responses:
            200:
              content: {application/json: {schema: DefinitionEnvelope}}
            400: BadRequest
            401: Unauthorized
            403:
              description: Someone else's shared definition
              content: {application/json: {schema: Error}}
            404: NotFound
            413:
              description: The script is over jobs.max_script_bytes
              content: {application/json: {schema: Error}}
        """
        if name is None:
            raise APIError(405, "Name the definition: PATCH /api/definitions/{name}")
        definition = self.changeable_or_403(name)
        changes = self.load_body(schemas.DefinitionReplace, partial=True)
        if not changes:
            raise APIError(400, "Invalid request body: nothing to change")
        latest = queue.definition_version(self.sql, definition["id"], None)
        if latest is None:
            raise APIError(404, f"No definition called {name!r}")
        merged = {key: latest[key] for key in queue.VERSION_FIELDS if key != "options"}
        merged.update(latest["options"])
        merged.update(changes)
        if "args" in changes or "env" in changes:
            # Stored args with new env (or the reverse) must still fit execve's limits.
            check_exec_limits(merged["args"], merged["env"])
        self.success(self.store_version(definition, version_fields(merged), changes.get("shared")))

    async def delete(self, name: str | None = None):
        """Delete a definition (``name`` required).

        ---
        single:
          summary: Delete a definition
          description: |
            With all its versions and its schedules. The jobs that ran from it
            stay, with its name and the version they ran.
          tags: [definitions]
          security: [{token: []}]
          parameters:
            - {in: query, schema: DefinitionQuery}
          responses:
            200:
              content: {application/json: {schema: EmptyEnvelope}}
            400: BadRequest
            401: Unauthorized
            403:
              description: Someone else's shared definition
              content: {application/json: {schema: Error}}
            404: NotFound
        """
        if name is None:
            raise APIError(405, "Name the definition: DELETE /api/definitions/{name}")
        self.delete_definition(self.changeable_or_403(name))
        self.success()


class DefinitionVersionsHandler(DefinitionAccessMixin, BaseHandler):
    """``/api/definitions/{name}/versions[/{version}]``: a definition's versions.

    Whoever may see the definition.
    """

    async def get(self, name: str, version: str | None = None):
        """Every version, newest first, or one (``version`` from the path).

        ---
        single:
          summary: Read one version of a definition
          tags: [definitions]
          security: [{token: []}]
          parameters:
            - {in: query, schema: DefinitionQuery}
          responses:
            200:
              content: {application/json: {schema: DefinitionEnvelope}}
            400: BadRequest
            401: Unauthorized
            404: NotFound
        multiple:
          summary: List a definition's versions
          description: |
            Its versions, newest first (a version never changes), a page at a
            time (`limit`, at most 100; `offset`).
          tags: [definitions]
          security: [{token: []}]
          parameters:
            - {in: query, schema: DefinitionVersionsQuery}
          responses:
            200:
              content: {application/json: {schema: DefinitionVersionListEnvelope}}
            400: BadRequest
            401: Unauthorized
            404: NotFound
        """
        if version is None:
            args = self.load_query(schemas.DefinitionVersionsQuery)
            definition = self.definition_or_404(name, args.get("owner"))
            versions = queue.definition_versions(
                self.sql, definition["id"], args["limit"], args["offset"]
            )
            return self.success(schemas.DefinitionVersion(many=True).dump(versions))
        owner = self.load_query(schemas.DefinitionQuery).get("owner")
        definition = self.definition_or_404(name, owner)
        number = int(version) if version.isascii() and version.isdigit() else 0
        found = None
        if 1 <= number <= definition["latest_version"]:
            found = queue.definition_version(self.sql, definition["id"], number)
        if found is None:
            raise APIError(404, f"Definition {name!r} has no version {version!r}")
        self.success(self.shown(definition, found))


class DefinitionRunMixin(DefinitionAccessMixin, JobAccessMixin):
    """Running a definition: the job a run makes, checked and queued (the API's run
    and the dashboard's run form call ``run_definition``)."""

    async def run_definition(self, name: str, body: dict) -> str:
        """Run the definition ``name`` as the current user; answers the new job's id.

        Parameters
        ----------
        name : str
            The definition's name (from the path).
        body : dict
            The run as ``schemas.DefinitionRun`` loaded it (``owner``, when
            given, picks whose; else the query's ``owner``).

        Returns
        -------
        str
            The queued job's id.

        Raises
        ------
        APIError
            404 for a definition the user may not see (or a dependency on a job
            they may not see); 400 naming each wrong parameter, override, the
            version, ``array`` or ``depends_on``; 413 for a script over the
            limit; 409 for a job id in use.
        """
        owner = body.get("owner") or self.load_query(schemas.DefinitionQuery).get("owner")
        try:
            definition = self.definition_or_404(name, owner)
        except APIError as exc:
            if exc.status_code == 400 and "owner" in body:
                exc.message = exc.message.replace("Invalid query arguments", "Invalid request body")
            raise
        version = queue.definition_version(self.sql, definition["id"], body.get("version"))
        if version is None:
            error = (
                f"definition {name!r} has no version {body.get('version')} "
                f"(its latest is {definition['latest_version']})"
            )
            raise APIError(
                400, f"Invalid request body: version: {error}", {"errors": {"version": [error]}}
            )
        try:
            run = definitions.job_from_version(version, body["parameters"], body["overrides"])
        except definitions.RunError as exc:
            raise APIError(400, f"Invalid request body: {exc}", {"errors": exc.errors})
        cfg = self.settings["config"]
        job = complete_job(
            self.sql, cfg, self.settings["allowed_shells"], run.fields, run.secret_env
        )
        job_id = body.get("id") or f"job_{uuid.uuid4().hex}"
        workflow, dependencies = workflow_fields(self.sql, cfg, body, job_id, self.may_see)
        job.update(
            workflow,
            id=job_id,
            submitter_id=self.current_user.id,
            definition_id=definition["id"],
            definition_name=definition["name"],
            definition_version=version["version"],
            parameters=run.parameters,
            secret_env=run.secret_env or None,
        )
        detail = (
            f"run of definition {definition['owner']}/{definition['name']} v{version['version']}"
        )
        new_job = queue.NewJob(
            job, self.current_user.id, submit=True, detail=detail, dependencies=dependencies
        )
        if not await self.settings["job_writer"].insert(new_job):
            raise APIError(409, f"A job with id {job['id']!r} exists already")
        return job["id"]


class DefinitionRunHandler(DefinitionRunMixin, BaseHandler):
    """``POST /api/definitions/{name}/run``: a job from a definition, queued.

    Whoever may see the definition; the job is the caller's and runs as them.
    """

    async def post(self, name: str):
        """Run the definition ``name`` (from the path) with parameters; answers the job's id.

        ---
        summary: Run a definition
        description: |
          Checks every parameter (a 400 names each one wrong: missing, wrong
          type, not a choice, out of range, not matching its pattern), makes the
          job from the version asked for (default: the latest) with your
          overrides of its job options (within its queue's limits), and queues
          it. The job is yours; it records the definition, its version and the
          parameter values (secrets shown as ********). With `array`, the run
          is an array job; with `depends_on`, it waits for those jobs (as for
          `POST /api/jobs`).
        tags: [definitions]
        security: [{token: []}]
        parameters:
          - {in: query, schema: DefinitionQuery}
        requestBody:
          required: true
          content: {application/json: {schema: DefinitionRun}}
        responses:
          200:
            content: {application/json: {schema: JobIdEnvelope}}
          400: BadRequest
          401: Unauthorized
          404: NotFound
          409:
            description: A job with this id exists already
            content: {application/json: {schema: Error}}
        """
        body = self.load_body(schemas.DefinitionRun)
        self.success({"id": await self.run_definition(name, body)})
