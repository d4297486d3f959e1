"""Users: admins create and list them."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from baselayer.app.handlers.base import APIError, BaseHandler, parse_int_id
from baselayer.app.models import User

from ... import schemas


def dump_user(user: User) -> dict:
    return schemas.User().dump(
        {
            "id": user.id,
            "username": user.username,
            "is_admin": user.is_admin,
            "created_at": user.created_at,
        }
    )


class UserHandler(BaseHandler):
    async def get(self, user_id: str | None = None):
        """
        ---
        single:
          summary: Read one user (admin)
          tags: [users]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: UserEnvelope}}
            401:
              content: {application/json: {schema: Error}}
            403:
              content: {application/json: {schema: Error}}
            404:
              content: {application/json: {schema: Error}}
        multiple:
          summary: List users (admin)
          tags: [users]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: UserListEnvelope}}
            401:
              content: {application/json: {schema: Error}}
            403:
              content: {application/json: {schema: Error}}
        """
        self.require_admin()
        if user_id is None:
            users = self.session.scalars(select(User).order_by(User.id)).all()
            return self.success([dump_user(u) for u in users])
        user = self.session.get(User, parse_int_id(user_id) or 0)
        if user is None:
            raise APIError(404, f"No user with id {user_id!r}")
        self.success(dump_user(user))

    async def post(self, user_id: str | None = None):
        """
        ---
        multiple:
          summary: Create a user (admin)
          description: Make the user a token with `POST /api/tokens` and `user_id`.
          tags: [users]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: UserCreate}}
          responses:
            200:
              content: {application/json: {schema: UserEnvelope}}
            400:
              content: {application/json: {schema: Error}}
            401:
              content: {application/json: {schema: Error}}
            403:
              content: {application/json: {schema: Error}}
            409:
              description: The username is taken
              content: {application/json: {schema: Error}}
        """
        if user_id is not None:
            raise APIError(405, "POST a new user to /api/users")
        self.require_admin()
        body = self.load_body(schemas.UserCreate())
        user = User(username=body["username"])
        self.session.add(user)
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            raise APIError(409, f"Username {body['username']!r} is taken")
        self.success(dump_user(user))
