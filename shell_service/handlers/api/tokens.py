"""API tokens: make one (the secret is shown once), list yours, revoke one."""

from baselayer.app import auth_store
from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError, BaseHandler, parse_int_id

from ... import schemas


class TokenMixin(BaseHandler):
    """What the tokens API does, for ``TokenHandler`` and the dashboard's token pages
    (one path: the same checks and messages). A web session is a token: a request
    signed in by one may do here what a request with an API token may, no more.

    Mixed into a ``BaseHandler``: uses ``sql``, ``current_user``, ``require_admin``
    and ``auth_changed``.
    """

    current_user: CurrentUser

    def make_token(self, body: dict) -> tuple[int, str]:
        """Make a token from a loaded ``schemas.TokenCreate`` body: for the current
        user, or (an admin) for ``user_id``.

        Parameters
        ----------
        body : dict
            ``name``, ``user_id`` (optional), ``expires_at`` (optional, naive UTC).

        Returns
        -------
        tuple of (int, str)
            The token's id and its secret (shown once, stored nowhere).

        Raises
        ------
        APIError
            403 for a token for someone else by a user who is not an admin; 404 for
            no such user.
        """
        user_id = body.get("user_id", self.current_user.id)
        if user_id != self.current_user.id:
            self.require_admin()
        made = auth_store.create_token(self.sql, user_id, body["name"], body.get("expires_at"))
        if made is None:
            raise APIError(404, f"No user with id {user_id}")
        return made

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token of the current user's (an admin: anyone's).

        Parameters
        ----------
        token_id : str
            From the path.

        Raises
        ------
        APIError
            404 for no such token, or someone else's (not an admin).
        """
        owner_id = None if self.current_user.is_admin else self.current_user.id
        if not auth_store.delete_token(self.sql, parse_int_id(token_id) or 0, owner_id):
            raise APIError(404, f"No token with id {token_id!r}")
        self.auth_changed()


class TokenHandler(TokenMixin):
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
        tokens = auth_store.user_tokens(self.sql, self.current_user.id)
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
        new_id, secret = self.make_token(self.load_body(schemas.TokenCreate))
        self.success({"id": new_id, "token": secret})

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
        self.revoke_token(token_id)
        self.success()
