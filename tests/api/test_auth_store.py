"""baselayer's statements on its auth tables (``auth_store``), called directly: what
the handlers' tests do not reach (provisioning, a directly held admin ACL, the
stored form of a token)."""

import uuid

import pytest
from sqlalchemy import text

from baselayer.app import auth_store
from baselayer.app.auth import hash_secret
from baselayer.app.database import database_url
from baselayer.app.models import ADMIN_ACL, ADMIN_ROLE
from baselayer.app.plain_sql import PlainSQL

from ..factories import UserFactory


@pytest.fixture
def sql(cfg):
    connection = PlainSQL(database_url(cfg), "auth_store test")
    yield connection
    connection.close()


def test_ensure_admin_makes_the_admin_once_with_the_role_carrying_the_acl(sql, session_factory):
    username = f"admin_{uuid.uuid4().hex[:8]}"
    first = auth_store.ensure_admin(sql, username)
    assert auth_store.ensure_admin(sql, username) == first
    assert auth_store.get_user(sql, first)["is_admin"] is True
    with session_factory() as session:
        roles = session.execute(
            text("SELECT role_id FROM user_roles WHERE user_id = :id"), {"id": first}
        ).all()
        carried = session.execute(
            text("SELECT acl_id FROM role_acls WHERE role_id = :role"), {"role": ADMIN_ROLE}
        ).all()
    assert roles == [(ADMIN_ROLE,)]
    assert (ADMIN_ACL,) in carried


def test_removing_admin_takes_a_directly_held_admin_acl_too(sql, session_factory):
    user = UserFactory()
    with session_factory() as session:
        session.execute(
            text("INSERT INTO acls (id) VALUES (:acl) ON CONFLICT DO NOTHING"), {"acl": ADMIN_ACL}
        )
        session.execute(
            text("INSERT INTO user_acls (user_id, acl_id) VALUES (:id, :acl)"),
            {"id": user.id, "acl": ADMIN_ACL},
        )
        session.commit()
    assert auth_store.get_user(sql, user.id)["is_admin"] is True
    assert auth_store.update_user(sql, user.id, admin=False) is True
    after = auth_store.get_user(sql, user.id)
    assert (after["is_admin"], after["disabled"]) == (False, False)


def test_changing_a_missing_user_changes_nothing(sql):
    assert auth_store.update_user(sql, 2**31 - 1, admin=True, disabled=True) is False
    assert auth_store.get_user(sql, 2**31 - 1) is None
    assert auth_store.create_token(sql, 2**31 - 1, "nobody's") is None


def test_a_token_is_stored_only_as_the_hash_of_its_secret(sql, session_factory):
    user = UserFactory()
    token_id, secret = auth_store.create_token(sql, user.id, "laptop")
    with session_factory() as session:
        row = (
            session.execute(text("SELECT * FROM tokens WHERE id = :id"), {"id": token_id})
            .one()
            ._asdict()
        )
    assert row["secret_hash"] == hash_secret(secret)
    assert secret not in {str(value) for value in row.values()}
    assert auth_store.token_exists(sql, secret)
    assert [t["id"] for t in auth_store.user_tokens(sql, user.id)] == [token_id]


def test_a_token_is_revoked_only_by_its_owner_or_an_admin(sql):
    owner, other = UserFactory(), UserFactory()
    token_id, secret = auth_store.create_token(sql, owner.id, "t")
    assert auth_store.delete_token(sql, token_id, other.id) is False
    assert auth_store.delete_token(sql, token_id, owner.id) is True
    assert not auth_store.token_exists(sql, secret)
    token_id, _ = auth_store.create_token(sql, owner.id, "t")
    assert auth_store.delete_token(sql, token_id, None) is True  # an admin's revoke


def test_a_taken_username_makes_no_user(sql):
    user = UserFactory()
    assert auth_store.create_user(sql, user.username) is None
    made = auth_store.create_user(sql, f"new_{uuid.uuid4().hex[:8]}")
    assert made is not None and made["is_admin"] is False and made["disabled"] is False
    assert auth_store.get_user(sql, made["id"]) == made
