"""The ``unix_accounts`` rows: each API user's Unix identity, shared by every host
(``executors/accounts.py`` makes the accounts). Plain statements, each on a
connection of the caller's: accounts are made in threads, several at once."""

from dataclasses import dataclass

from baselayer.app.plain_sql import PlainSQL, Statement


@dataclass(frozen=True)
class AccountRow:
    """One user's row: ``name`` (the Unix name), ``uid`` (also its gid) and ``key``
    (random; written into the passwd comment, so an entry made for another
    database's user of the same id is told apart)."""

    user_id: int
    name: str
    uid: int
    key: str


_ACCOUNT_ROW = Statement("SELECT user_id, name, uid, key FROM unix_accounts WHERE user_id = %(id)s")
_INSERT_ACCOUNT_ROW = Statement(
    "INSERT INTO unix_accounts (user_id, name, uid, key)"
    " VALUES (%(id)s, %(name)s, %(uid)s, %(key)s) ON CONFLICT DO NOTHING RETURNING user_id"
)
_NAME_OWNER = Statement("SELECT user_id FROM unix_accounts WHERE name = %(name)s")


def account_row(sql: PlainSQL, user_id: int) -> AccountRow | None:
    """The row of user ``user_id``; None when there is none yet."""
    row = sql.row(_ACCOUNT_ROW, {"id": user_id})
    return None if row is None else AccountRow(**row)


def insert_account_row(sql: PlainSQL, user_id: int, name: str, uid: int, key: str) -> None:
    """Store a row for user ``user_id`` unless its user, name or uid has one already
    (another executor may be making it at the same moment: read it back after)."""
    sql.value(_INSERT_ACCOUNT_ROW, {"id": user_id, "name": name, "uid": uid, "key": key})


def account_name_owner(sql: PlainSQL, name: str) -> int | None:
    """The user whose row holds the Unix name ``name``; None if no row does."""
    return sql.value(_NAME_OWNER, {"name": name})
