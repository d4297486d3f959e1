"""Job definitions and their versions: every statement on them.

A definition is a row per (owner, name) with ``latest_version``; each change
inserts the next ``definition_versions`` row in the statement that bumps it
(the definition's row is locked by that UPDATE, so two changes at once get
two numbers). A version is never changed or deleted on its own.
"""

import orjson

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

#: A version's columns besides its keys (``definition_versions``).
VERSION_FIELDS = ("description", "code", "shell", "args", "env", "stdin", "options", "parameters")
_JSON = ("args", "env", "options", "parameters")

_DEFINITION_COLUMNS = """
    d.id, d.name, d.owner_id, (SELECT username FROM users WHERE users.id = d.owner_id) AS owner,
    d.shared, d.latest_version, d.created_at, d.modified
"""


def _version_params(fields: dict) -> dict:
    return {
        name: orjson.dumps(fields[name]).decode() if name in _JSON else fields.get(name)
        for name in VERSION_FIELDS
    }


_INSERT_DEFINITION = Statement(
    f"""
    WITH d AS (
        INSERT INTO definitions (owner_id, name, shared, latest_version, created_at, modified)
        VALUES (%(owner_id)s, %(name)s, %(shared)s, 1, %(now)s, %(now)s)
        ON CONFLICT (owner_id, name) DO NOTHING
        RETURNING *
    ),
    v AS (
        INSERT INTO definition_versions (definition_id, version, description, code, shell, args,
                                         env, stdin, options, parameters, author_id,
                                         created_at, modified)
        SELECT d.id, 1, %(description)s, %(code)s, %(shell)s, %(args)s::jsonb, %(env)s::jsonb,
               %(stdin)s, %(options)s::jsonb, %(parameters)s::jsonb, %(owner_id)s,
               %(now)s, %(now)s
        FROM d
    )
    SELECT {_DEFINITION_COLUMNS} FROM d
    """
)


def insert_definition(
    sql: PlainSQL, owner_id: int, name: str, shared: bool, fields: dict
) -> dict | None:
    """Store a new definition and its version 1, in one statement.

    Parameters
    ----------
    sql : PlainSQL
    owner_id : int
    name : str
        Validated (``definitions.NAME_PATTERN``).
    shared : bool
    fields : dict
        Every ``VERSION_FIELDS`` name -> value (``args`` a list, ``env`` and
        ``options`` dicts, ``parameters`` a list of dicts).

    Returns
    -------
    dict or None
        The definition (``id``, ``name``, ``owner_id``, ``owner``, ``shared``,
        ``latest_version``, ``created_at``, ``modified``); None when its owner has
        one of that name already (nothing stored).
    """
    params = _version_params(fields)
    params.update(owner_id=owner_id, name=name, shared=shared, now=utcnow())
    return sql.row(_INSERT_DEFINITION, params)


_NEW_VERSION = Statement(
    f"""
    WITH d AS (
        UPDATE definitions
        SET latest_version = latest_version + 1, shared = %(shared)s, modified = %(now)s
        WHERE id = %(id)s
        RETURNING *
    ),
    v AS (
        INSERT INTO definition_versions (definition_id, version, description, code, shell, args,
                                         env, stdin, options, parameters, author_id,
                                         created_at, modified)
        SELECT d.id, d.latest_version, %(description)s, %(code)s, %(shell)s, %(args)s::jsonb,
               %(env)s::jsonb, %(stdin)s, %(options)s::jsonb, %(parameters)s::jsonb,
               %(author_id)s, %(now)s, %(now)s
        FROM d
    )
    SELECT {_DEFINITION_COLUMNS} FROM d
    """
)


def insert_version(
    sql: PlainSQL, definition_id: int, shared: bool, fields: dict, author_id: int
) -> dict | None:
    """Store the next version of a definition (and its ``shared``), in one statement.

    Parameters
    ----------
    sql : PlainSQL
    definition_id : int
    shared : bool
    fields : dict
        Every ``VERSION_FIELDS`` name -> value, the whole version (not a change).
    author_id : int
        Who made it.

    Returns
    -------
    dict or None
        The definition as ``insert_definition`` returns it, ``latest_version``
        the new one; None if it was deleted meanwhile.
    """
    params = _version_params(fields)
    params.update(id=definition_id, shared=shared, author_id=author_id, now=utcnow())
    return sql.row(_NEW_VERSION, params)


_FIND_DEFINITIONS = Statement(
    f"""
    SELECT {_DEFINITION_COLUMNS} FROM definitions d
    WHERE d.name = %(name)s
      AND (d.owner_id = %(user_id)s OR d.shared OR %(is_admin)s)
      AND (%(owner)s::text IS NULL
           OR d.owner_id = (SELECT id FROM users WHERE username = %(owner)s))
    ORDER BY d.owner_id = %(user_id)s DESC, d.id
    LIMIT 20
    """
)


def definitions_named(
    sql: PlainSQL, name: str, user_id: int, is_admin: bool, owner: str | None = None
) -> list[dict]:
    """The definitions called ``name`` that a user may see: their own first,
    then shared ones (for an admin, everyone's).

    Parameters
    ----------
    sql : PlainSQL
    name : str
        Any text without a NUL.
    user_id : int
    is_admin : bool
    owner : str or None
        Only the one of the user with this username.

    Returns
    -------
    list of dict
        As ``insert_definition`` returns them; at most 20.
    """
    params = {"name": name, "user_id": user_id, "is_admin": is_admin, "owner": owner}
    return sql.rows(_FIND_DEFINITIONS, params)


_LIST_DEFINITIONS = Statement(
    f"""
    SELECT {_DEFINITION_COLUMNS}, v.description,
           jsonb_array_length(v.parameters) AS parameter_count
    FROM definitions d
    JOIN definition_versions v ON v.definition_id = d.id AND v.version = d.latest_version
    WHERE d.owner_id = %(user_id)s OR d.shared OR %(is_admin)s
    ORDER BY d.name, d.id
    LIMIT %(limit)s OFFSET %(offset)s
    """
)


def list_definitions(
    sql: PlainSQL, user_id: int, is_admin: bool, limit: int, offset: int
) -> list[dict]:
    """The definitions a user may see (their own and shared ones; an admin, all),
    by name, each with its latest version's ``description``.

    Returns
    -------
    list of dict
        As ``insert_definition`` returns them, plus ``description`` and
        ``parameter_count`` (the latest version's).
    """
    params = {"user_id": user_id, "is_admin": is_admin, "limit": limit, "offset": offset}
    return sql.rows(_LIST_DEFINITIONS, params)


_VERSION = Statement(
    """
    SELECT v.definition_id, v.version, v.description, v.code, v.shell, v.args, v.env, v.stdin,
           v.options, v.parameters, v.created_at,
           (SELECT username FROM users WHERE users.id = v.author_id) AS author
    FROM definition_versions v
    WHERE v.definition_id = %(id)s
      AND v.version = COALESCE(%(version)s,
                               (SELECT latest_version FROM definitions WHERE id = %(id)s))
    """
)


def definition_version(sql: PlainSQL, definition_id: int, version: int | None) -> dict | None:
    """One version of a definition (None: its latest).

    Returns
    -------
    dict or None
        ``definition_id``, ``version``, every ``VERSION_FIELDS`` name,
        ``created_at`` and ``author`` (a username, None once deleted); None when
        there is no such version.
    """
    return sql.row(_VERSION, {"id": definition_id, "version": version})


_VERSIONS = Statement(
    """
    SELECT v.definition_id, v.version, v.description, v.code, v.shell, v.args, v.env, v.stdin,
           v.options, v.parameters, v.created_at,
           (SELECT username FROM users WHERE users.id = v.author_id) AS author
    FROM definition_versions v WHERE v.definition_id = %(id)s ORDER BY v.version DESC
    LIMIT %(limit)s OFFSET %(offset)s
    """
)


def definition_versions(
    sql: PlainSQL, definition_id: int, limit: int = 20, offset: int = 0
) -> list[dict]:
    """A page of a definition's versions, newest first (each as ``definition_version``).

    Parameters
    ----------
    sql : PlainSQL
    definition_id : int
    limit, offset : int
        The page: at most ``limit`` versions, after the ``offset`` newest.
    """
    return sql.rows(_VERSIONS, {"id": definition_id, "limit": limit, "offset": offset})


_DELETE_DEFINITION = Statement("DELETE FROM definitions WHERE id = %(id)s RETURNING id")


def delete_definition(sql: PlainSQL, definition_id: int) -> bool:
    """Delete a definition with its versions and schedules (the jobs that ran from it
    stay: their ``definition_id`` becomes null, their name and version stay).

    Returns
    -------
    bool
        Whether it was there.
    """
    return sql.row(_DELETE_DEFINITION, {"id": definition_id}) is not None


_RECENT_RUNS = Statement(
    """
    SELECT d.id AS definition_id, j.id, j.status, j.return_code, j.definition_version,
           j.created_at, j.finished_at
    FROM definitions d
    CROSS JOIN LATERAL (
        SELECT id, status, return_code, definition_version, created_at, finished_at
        FROM jobs
        -- ix_jobs_definition_runs, or with a submitter ix_jobs_definition_submitter_runs:
        -- the newest first, so LIMIT reads that many index entries.
        WHERE definition_id = d.id
          AND (%(submitter_id)s::int IS NULL OR submitter_id = %(submitter_id)s::int)
        ORDER BY created_at DESC, id DESC
        LIMIT %(per_definition)s
    ) AS j
    WHERE d.id = ANY(%(ids)s::int[])
    ORDER BY d.id, j.created_at DESC, j.id DESC
    """
)


def recent_runs(
    sql: PlainSQL, definition_ids: list[int], submitter_id: int | None, per_definition: int
) -> dict[int, list[dict]]:
    """The latest jobs run from each definition, newest first: one user's, or everyone's.

    Parameters
    ----------
    sql : PlainSQL
    definition_ids : list of int
    submitter_id : int or None
        Only this user's jobs (what they may see of a shared definition's runs);
        None: everyone's (an admin's view).
    per_definition : int
        Most jobs per definition.

    Returns
    -------
    dict
        Definition id -> list of ``{"id", "status", "return_code",
        "definition_version", "created_at", "finished_at"}`` (an empty list for
        a definition without such runs).
    """
    runs: dict[int, list[dict]] = {definition_id: [] for definition_id in definition_ids}
    params = {
        "ids": definition_ids,
        "submitter_id": submitter_id,
        "per_definition": per_definition,
    }
    for row in sql.rows(_RECENT_RUNS, params):
        runs[row.pop("definition_id")].append(row)
    return runs
