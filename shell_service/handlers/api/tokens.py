"""API tokens: make one (the secret is shown once), list yours, revoke one."""

from sqlalchemy import select

from baselayer.app.auth import CurrentUser, create_token
from baselayer.app.handlers.base import APIError, BaseHandler, parse_int_id
from baselayer.app.models import Token, User

from ... import schemas


class TokenHandler(BaseHandler):
    """API tokens: ``/api/tokens`` (list yours, create) and ``/api/tokens/{token_id}`` (revoke).

    Any user with a token, for their own tokens; an admin may also make tokens for
    any user and revoke anyone's.
    """

    # Every route here needs a token: ``prepare`` answered 401 without a user.
    current_user: CurrentUser

    async def get(self, token_id: str | None = None):
        """List the current user's tokens (only on ``/api/tokens``: 405 with an id).

        ---
        multiple:
          summary: List your tokens
          description: Names and ids only; secrets are never shown again.
          tags: [tokens]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: TokenListEnvelope}}
            401: Unauthorized
        """
        if token_id is not None:
            raise APIError(405, "List tokens with GET /api/tokens")
        tokens = self.session.scalars(
            select(Token).where(Token.user_id == self.current_user.id).order_by(Token.id)
        ).all()
        self.success(schemas.Token(many=True).dump(tokens))

    async def post(self, token_id: str | None = None):
        """Create a token and answer its secret, once (only on ``/api/tokens``: 405 with an id).

        ---
        multiple:
          summary: Create a token
          description: |
            A token for yourself, or, for an admin, for any user (`user_id`).
            The response holds the secret: this is the only time it is shown.
          tags: [tokens]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: TokenCreate}}
          responses:
            200:
              content: {application/json: {schema: NewTokenEnvelope}}
            400: BadRequest
            401: Unauthorized
            403:
              description: Only an admin makes tokens for others
              content: {application/json: {schema: Error}}
            404: NotFound
        """
        if token_id is not None:
            raise APIError(405, "POST a new token to /api/tokens")
        body = self.load_body(schemas.TokenCreate)
        user_id = body.get("user_id", self.current_user.id)
        if user_id != self.current_user.id:
            self.require_admin()
        user = self.session.get(User, user_id)
        if user is None:
            raise APIError(404, f"No user with id {user_id}")
        token, secret = create_token(self.session, user, body["name"], body.get("expires_at"))
        self.session.commit()
        self.success({"id": token.id, "token": secret})

    async def delete(self, token_id: str | None = None):
        """Revoke the token ``token_id`` (from the path; required: 405 without).

        ---
        single:
          summary: Revoke a token
          description: The token stops working at once. Admins may revoke anyone's.
          tags: [tokens]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: EmptyEnvelope}}
            401: Unauthorized
            404: NotFound
        """
        if token_id is None:
            raise APIError(405, "Name the token: DELETE /api/tokens/{token_id}")
        token = self.session.get(Token, parse_int_id(token_id) or 0)
        if token is None or (
            token.user_id != self.current_user.id and not self.current_user.is_admin
        ):
            raise APIError(404, f"No token with id {token_id!r}")
        self.session.delete(token)
        self.session.commit()
        self.auth_changed()
        self.success()
