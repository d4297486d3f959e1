"""factory-boy factories for users, tokens and jobs.

``bind_session`` points them at the test database before the first test.
"""

import uuid

import factory
from factory.alchemy import SQLAlchemyModelFactory

from baselayer.app.auth import hash_secret
from baselayer.app.models import ACL, ADMIN_ACL, ADMIN_ROLE, Role, Token, User
from shell_service.models import Job


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user_{n}_{uuid.uuid4().hex[:6]}")

    @factory.post_generation
    def admin(user, create, extracted, **kwargs):
        if not extracted:
            return
        session = UserFactory._meta.sqlalchemy_session
        acl = session.get(ACL, ADMIN_ACL) or ACL(id=ADMIN_ACL)
        role = session.get(Role, ADMIN_ROLE) or Role(id=ADMIN_ROLE, acls=[acl])
        user.roles.append(role)
        session.commit()


class TokenFactory(BaseFactory):
    """A token; its secret is on the returned object as ``.secret`` (never stored)."""

    class Meta:
        model = Token

    secret = factory.LazyFunction(lambda: uuid.uuid4().hex)
    name = "test token"
    user = factory.SubFactory(UserFactory)
    secret_hash = factory.LazyAttribute(lambda o: hash_secret(o.secret))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        secret = kwargs.pop("secret", None)
        token = super()._create(model_class, *args, **kwargs)
        token.secret = secret
        return token


class JobFactory(BaseFactory):
    class Meta:
        model = Job

    id = factory.LazyFunction(lambda: f"job_{uuid.uuid4().hex}")
    code = "echo 'hello world'"
    shell = "sh"
    status = "READY"
    submitter = factory.SubFactory(UserFactory)


ALL = (UserFactory, TokenFactory, JobFactory)


def bind_session(session) -> None:
    for f in ALL:
        f._meta.sqlalchemy_session = session
