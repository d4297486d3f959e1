"""Users: admins create and list them."""

from baselayer.app import auth_store
from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError, BaseHandler, parse_int_id

from ... import queue, schemas


def dump_user(user: dict) -> dict:
    """A user as the API shows it (``schemas.User``).

    Parameters
    ----------
    user : dict
        A user as ``auth_store`` reads it.

    Returns
    -------
    dict
        ``id``, ``username``, ``is_admin``, ``disabled``, ``created_at`` (RFC 3339
        text).
    """
    return schemas.User().dump(user)


class UserAdminMixin(BaseHandler):
    """What the users API does, for ``UserHandler`` and the dashboard's admin pages
    (one path: the same checks, messages and side effects). The caller has checked
    that the current user is an admin (``require_admin``).

    Mixed into a ``BaseHandler``: uses ``sql``, ``current_user`` and ``auth_changed``.
    """

    current_user: CurrentUser

    def user_or_404(self, user_id: str) -> dict:
        """The user ``user_id`` (a path segment), as ``auth_store.get_user`` reads it.

        Parameters
        ----------
        user_id : str

        Returns
        -------
        dict

        Raises
        ------
        APIError
            404 for no such user (or an id that cannot be one).
        """
        user = auth_store.get_user(self.sql, parse_int_id(user_id) or 0)
        if user is None:
            raise APIError(404, f"No user with id {user_id!r}")
        return user

    def create_user(self, body: dict) -> dict:
        """Make a user from a loaded ``schemas.UserCreate`` body.

        Parameters
        ----------
        body : dict

        Returns
        -------
        dict
            The user, as ``auth_store`` reads it.

        Raises
        ------
        APIError
            409 when the username is taken.
        """
        user = auth_store.create_user(self.sql, body["username"])
        if user is None:
            raise APIError(409, f"Username {body['username']!r} is taken")
        return user

    def change_user(self, user: dict, changes: dict) -> dict:
        """Disable or enable a user, grant or remove the admin role (a loaded
        ``schemas.UserUpdate`` body); disabling cancels their unfinished jobs.

        Parameters
        ----------
        user : dict
            The user (``user_or_404``).
        changes : dict
            ``disabled`` and/or ``admin``.

        Returns
        -------
        dict
            The user as it is now.

        Raises
        ------
        APIError
            400 for no change, or a change of the current user's own account; 404
            when the user was deleted meanwhile.
        """
        if not changes:
            raise APIError(400, "Invalid request body: nothing to change")
        if user["id"] == self.current_user.id:
            raise APIError(400, "You cannot disable yourself or change your own role")
        if not auth_store.update_user(
            self.sql, user["id"], admin=changes.get("admin"), disabled=changes.get("disabled")
        ):
            raise APIError(404, f"No user with id {str(user['id'])!r}")  # deleted meanwhile
        self.auth_changed()
        if changes.get("disabled"):
            self.cancel_jobs_of(user["id"])
        changed = auth_store.get_user(self.sql, user["id"])
        if changed is None:  # deleted meanwhile
            raise APIError(404, f"No user with id {str(user['id'])!r}")
        return changed

    def cancel_jobs_of(self, user_id: int) -> None:
        """Cancel every job of a user that has not ended, as the current user.

        A RUNNING one is ended by its executor, which records it CANCELLED.

        Parameters
        ----------
        user_id : int
        """
        queue.cancel_jobs_of(self.sql, user_id, self.current_user.id)


class UserHandler(UserAdminMixin):
    """Users: ``/api/users`` (list, create) and ``/api/users/{user_id}`` (read, change).

    Admins only (403 for anyone else). Disabling a user (PATCH) cancels their jobs.
    """

    # Every route here needs a token: ``prepare`` answered 401 without a user.
    current_user: CurrentUser

    async def get(self, user_id: str | None = None):
        """List users, or read one (``user_id``: from the path; None on ``/api/users``).

        ---
        single:
          summary: Read one user (admin)
          tags: [users]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: UserEnvelope}}
            401: Unauthorized
            403: Forbidden
            404: NotFound
        multiple:
          summary: List users (admin)
          tags: [users]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: UserListEnvelope}}
            401: Unauthorized
            403: Forbidden
        """
        self.require_admin()
        if user_id is None:
            return self.success([dump_user(u) for u in auth_store.list_users(self.sql)])
        self.success(dump_user(self.user_or_404(user_id)))

    async def post(self, user_id: str | None = None):
        """Create a user; only on ``/api/users`` (405 with an id).

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
            400: BadRequest
            401: Unauthorized
            403: Forbidden
            409:
              description: The username is taken
              content: {application/json: {schema: Error}}
        """
        if user_id is not None:
            raise APIError(405, "POST a new user to /api/users")
        self.require_admin()
        self.success(dump_user(self.create_user(self.load_body(schemas.UserCreate))))

    async def patch(self, user_id: str | None = None):
        """Disable or enable a user, grant or remove the admin role (``user_id`` required).

        ---
        single:
          summary: Disable or enable a user; grant or remove the admin role (admin)
          description: |
            Disabling stops the user's tokens at once and cancels their READY,
            QUEUED and RUNNING jobs. You cannot change your own account here.
          tags: [users]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: UserUpdate}}
          responses:
            200:
              content: {application/json: {schema: UserEnvelope}}
            400: BadRequest
            401: Unauthorized
            403: Forbidden
            404: NotFound
        """
        if user_id is None:
            raise APIError(405, "Name the user: PATCH /api/users/{user_id}")
        self.require_admin()
        user = self.user_or_404(user_id)
        changes = self.load_body(schemas.UserUpdate)
        self.success(dump_user(self.change_user(user, changes)))
