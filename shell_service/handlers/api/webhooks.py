"""Webhooks: create, list, read, change, delete, ping, and their deliveries.

Nothing is POSTed from here: the deliverer (``services/webhooks/``) sends
every delivery, the test ping included.
"""

import asyncio
import functools
import socket

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError, BaseHandler, parse_int_id

from ... import queue, schemas
from ...job_checks import queue_or_400
from ...queue import webhooks as statements
from ...webhooks import payload, targets
from .definitions import visible_definition

#: Seconds a create or change waits for the URL's host to resolve; past that (or
#: a name that does not resolve yet) the deliverer's check at each attempt decides.
RESOLVE_TIMEOUT = 3.0


@functools.lru_cache(maxsize=1)
def _own_addresses() -> frozenset:
    return targets.own_addresses()


def _url_error(message: str) -> APIError:
    return APIError(400, f"Invalid request body: url: {message}", {"errors": {"url": [message]}})


def _field_error(field: str, message: str) -> APIError:
    return APIError(
        400, f"Invalid request body: {field}: {message}", {"errors": {field: [message]}}
    )


class WebhookAccessMixin(BaseHandler):
    """Finding a webhook as the current user may see it: their own (an admin: any);
    another user's answers exactly like a missing one (404). And what is done to
    one (create, change, delete, ping), which the API's handlers and the
    dashboard's pages (``handlers/ui/webhooks.py``) both call."""

    current_user: CurrentUser

    def webhook_or_404(self, webhook_id: str) -> dict:
        """The webhook ``webhook_id`` (from the path) if the current user may see it.

        Raises
        ------
        APIError
            404 for an id that is not a number, a missing webhook, or another
            user's (for a user who is not an admin).
        """
        number = parse_int_id(webhook_id)  # canonical digits only: "01" is not 1
        row = None if number is None else statements.webhook_row(self.sql, number)
        user = self.current_user
        if row is None or (row["owner_id"] != user.id and not user.is_admin):
            raise APIError(404, f"No webhook with id {webhook_id!r}")
        return row

    async def check_target(self, url: str) -> None:
        """Refuse a URL whose host is, or resolves now to, an address webhooks may
        not reach (``targets``); a host that does not resolve (yet) passes: each
        delivery attempt checks again.

        Raises
        ------
        APIError
            400 naming ``url``.
        """
        allow = targets.parse_networks(self.settings["config"]["webhooks"]["allow_networks"])
        try:
            target = targets.check_url(url)
        except targets.TargetRefused as exc:
            raise _url_error(str(exc)) from None
        loop = asyncio.get_running_loop()

        def resolve():
            # In a thread, this host's own addresses too: both look names up.
            return targets.resolve(target, allow, _own_addresses(), socket.getaddrinfo)

        try:
            await asyncio.wait_for(loop.run_in_executor(None, resolve), RESOLVE_TIMEOUT)
        except targets.TargetRefused as exc:
            raise _url_error(f"refused: {exc}") from None
        except (OSError, TimeoutError, UnicodeError):
            pass

    def filter_fields(self, body: dict, stored: dict | None) -> dict:
        """The stored filter columns from a body's filters (checked), merged over
        ``stored``'s.

        Raises
        ------
        APIError
            400 naming ``definition`` (none of that name you may see),
            ``schedule_id`` (not yours) or ``queue`` (not configured).
        """
        fields = {
            key: (stored or {}).get(key)
            for key in ("definition_id", "definition_name", "schedule_id", "queue", "array_id")
        }
        user = self.current_user
        if "definition_owner" in body and "definition" not in body:
            raise _field_error("definition_owner", "is the owner of a definition: give definition")
        if "definition" in body:
            if body["definition"] is None:
                fields.update(definition_id=None, definition_name=None)
            else:
                try:
                    found = visible_definition(
                        self.sql, user, body["definition"], body.get("definition_owner")
                    )
                except APIError as exc:
                    raise _field_error("definition", exc.log_message or "not found") from None
                fields.update(definition_id=found["id"], definition_name=found["name"])
        if "schedule_id" in body:
            schedule_id = body["schedule_id"]
            if schedule_id is not None:
                owner = statements.schedule_owner(self.sql, schedule_id)
                if owner is None or (owner != user.id and not user.is_admin):
                    raise _field_error("schedule_id", f"you have no schedule {schedule_id}")
            fields["schedule_id"] = schedule_id
        if "queue" in body:
            if body["queue"] is not None:
                queue_or_400(self.settings["config"], body["queue"])
            fields["queue"] = body["queue"]
        if "array" in body:
            fields["array_id"] = body["array"]
        return fields

    async def create_webhook(self, body: dict) -> dict:
        """Store a new webhook of the current user's (``POST /api/webhooks``).

        Parameters
        ----------
        body : dict
            Loaded by ``schemas.WebhookCreate``.

        Returns
        -------
        dict
            The webhook (``queue.webhooks.webhook_row``'s keys) and ``secret``: the
            one given, or a new random one (shown this once).

        Raises
        ------
        APIError
            400 naming ``url`` (a refused target) or a filter (``filter_fields``);
            409 when the user has ``webhooks.max_per_user`` webhooks already.
        """
        await self.check_target(body["url"])
        fields = {
            "url": body["url"],
            "events": body["events"],
            "enabled": body["enabled"],
            "description": body.get("description"),
            **self.filter_fields(body, None),
        }
        secret = body.get("secret") or payload.new_secret()
        most = int(self.settings["config"]["webhooks"]["max_per_user"])
        row = statements.insert_webhook(self.sql, self.current_user.id, fields, secret, most)
        if row is None:
            raise APIError(409, f"You have {most} webhooks already (webhooks.max_per_user)")
        return {**row, "secret": secret}

    async def change_webhook(self, stored: dict, changes: dict) -> dict:
        """Change a webhook (``PATCH /api/webhooks/{id}``): the fields in ``changes``
        replace the stored ones; a new ``secret`` replaces the stored one.

        Parameters
        ----------
        stored : dict
            ``webhook_or_404``'s.
        changes : dict
            Loaded by ``schemas.WebhookUpdate`` (partial).

        Returns
        -------
        dict
            The webhook as stored now (no secret).

        Raises
        ------
        APIError
            400 for no change, a refused URL or a filter (``filter_fields``); 404
            when it was deleted meanwhile.
        """
        if not changes:
            raise APIError(400, "Invalid request body: nothing to change")
        if "url" in changes:
            await self.check_target(changes["url"])
        fields = {key: stored[key] for key in ("url", "events", "enabled", "description")}
        fields.update({k: v for k, v in changes.items() if k in fields})
        fields.update(self.filter_fields(changes, stored))
        row = statements.update_webhook(self.sql, stored["id"], fields, changes.get("secret"))
        if row is None:
            raise APIError(404, f"No webhook with id {str(stored['id'])!r}")
        return row

    def remove_webhook(self, stored: dict) -> None:
        """Delete a webhook with its deliveries (``DELETE /api/webhooks/{id}``).

        Parameters
        ----------
        stored : dict
            ``webhook_or_404``'s.

        Raises
        ------
        APIError
            404 when it was deleted meanwhile.
        """
        if not statements.delete_webhook(self.sql, stored["id"]):
            raise APIError(404, f"No webhook with id {str(stored['id'])!r}")

    def ping_webhook(self, stored: dict) -> dict:
        """Queue a ``ping`` delivery, due now, and wake the deliverer
        (``POST /api/webhooks/{id}/test``).

        Parameters
        ----------
        stored : dict
            ``webhook_or_404``'s.

        Returns
        -------
        dict
            The delivery (``queue.webhooks.list_deliveries``'s keys, no attempt yet).

        Raises
        ------
        APIError
            404 when the webhook was deleted meanwhile.
        """
        row = statements.insert_ping(self.sql, stored["id"], queue.WEBHOOK_CHANNEL)
        if row is None:
            raise APIError(404, f"No webhook with id {str(stored['id'])!r}")
        return row


class WebhookHandler(WebhookAccessMixin, BaseHandler):
    """``/api/webhooks`` and ``/api/webhooks/{webhook_id}``.

    Any user with a token, on their own webhooks (an admin: everyone's). An
    admin's webhook fires for every user's jobs; a user's, for their own.
    """

    async def get(self, webhook_id: str | None = None):
        """List webhooks, or read one.

        ---
        single:
          summary: Read a webhook
          description: Its URL, events, filters and state (never its secret).
          tags: [webhooks]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: WebhookEnvelope}}
            401: Unauthorized
            404: NotFound
        multiple:
          summary: List webhooks
          description: Yours, oldest first (an admin's list, everyone's).
          tags: [webhooks]
          security: [{token: []}]
          parameters:
            - {in: query, schema: WebhookListQuery}
          responses:
            200:
              content: {application/json: {schema: WebhookListEnvelope}}
            400: BadRequest
            401: Unauthorized
        """
        if webhook_id is None:
            args = self.load_query(schemas.WebhookListQuery)
            user = self.current_user
            rows = statements.list_webhooks(
                self.sql, user.id, user.is_admin, args["limit"], args["offset"]
            )
            return self.success(schemas.Webhook(many=True).dump(rows))
        self.success(schemas.Webhook().dump(self.webhook_or_404(webhook_id)))

    async def post(self, webhook_id: str | None = None):
        """Create a webhook (only on ``/api/webhooks``).

        ---
        multiple:
          summary: Create a webhook
          description: |
            The service POSTs a signed JSON payload to `url` on each event of
            the jobs you may see (an admin's webhook: everyone's) that the
            filters choose. The answer holds the secret (yours, or generated):
            it is not shown again. A URL whose host is, or now resolves to, a
            loopback, private, link-local or this host's address is refused
            (400), and each delivery checks again.
          tags: [webhooks]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: WebhookCreate}}
          responses:
            200:
              content: {application/json: {schema: NewWebhookEnvelope}}
            400: BadRequest
            401: Unauthorized
            409:
              description: You have webhooks.max_per_user webhooks already
              content: {application/json: {schema: Error}}
        """
        if webhook_id is not None:
            raise APIError(405, "POST a new webhook to /api/webhooks")
        created = await self.create_webhook(self.load_body(schemas.WebhookCreate))
        self.success(schemas.NewWebhook().dump(created))

    async def patch(self, webhook_id: str | None = None):
        """Change a webhook.

        ---
        single:
          summary: Change a webhook
          description: |
            The fields sent replace the stored ones (a filter set to null: none).
            A new `secret` takes effect for the next attempts. The URL is
            checked as at create.
          tags: [webhooks]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: WebhookUpdate}}
          responses:
            200:
              content: {application/json: {schema: WebhookEnvelope}}
            400: BadRequest
            401: Unauthorized
            404: NotFound
        """
        if webhook_id is None:
            raise APIError(405, "Name the webhook: PATCH /api/webhooks/{webhook_id}")
        stored = self.webhook_or_404(webhook_id)
        changes = self.load_body(schemas.WebhookUpdate, partial=True)
        row = await self.change_webhook(stored, changes)
        self.success(schemas.Webhook().dump(row))

    async def delete(self, webhook_id: str | None = None):
        """Delete a webhook.

        ---
        single:
          summary: Delete a webhook
          description: With its deliveries; pending ones are not sent.
          tags: [webhooks]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: EmptyEnvelope}}
            401: Unauthorized
            404: NotFound
        """
        if webhook_id is None:
            raise APIError(405, "Name the webhook: DELETE /api/webhooks/{webhook_id}")
        self.remove_webhook(self.webhook_or_404(webhook_id))
        self.success()


class WebhookDeliveriesHandler(WebhookAccessMixin, BaseHandler):
    """``GET /api/webhooks/{webhook_id}/deliveries``: whoever may see the webhook."""

    async def get(self, webhook_id: str):
        """A webhook's deliveries, newest first, each with its attempts.

        ---
        summary: List a webhook's deliveries
        description: |
          Each event sent (or being sent) to it: its state, and each attempt's
          time, duration, HTTP status or error, and when the next is due.
        tags: [webhooks]
        security: [{token: []}]
        parameters:
          - {in: query, schema: WebhookDeliveryQuery}
        responses:
          200:
            content: {application/json: {schema: WebhookDeliveryListEnvelope}}
          400: BadRequest
          401: Unauthorized
          404: NotFound
        """
        stored = self.webhook_or_404(webhook_id)
        args = self.load_query(schemas.WebhookDeliveryQuery)
        rows = statements.list_deliveries(
            self.sql, stored["id"], args.get("status"), args["limit"], args["offset"]
        )
        self.success(schemas.WebhookDelivery(many=True).dump(rows))


class WebhookTestHandler(WebhookAccessMixin, BaseHandler):
    """``POST /api/webhooks/{webhook_id}/test``: a ping, sent by the deliverer."""

    async def post(self, webhook_id: str):
        """Queue a ping delivery.

        ---
        summary: Send a webhook a ping
        description: |
          A delivery of event `ping` (no job), due now, enabled or not: see how
          it went in its deliveries.
        tags: [webhooks]
        security: [{token: []}]
        responses:
          200:
            content: {application/json: {schema: WebhookDeliveryEnvelope}}
          401: Unauthorized
          404: NotFound
        """
        row = self.ping_webhook(self.webhook_or_404(webhook_id))
        self.success(schemas.WebhookDelivery().dump(row))
