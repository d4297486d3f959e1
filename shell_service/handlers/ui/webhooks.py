"""The dashboard's webhooks: the list (each one's last delivery), a form making one
(a generated secret shown once, on the POST's answer), a webhook's page with its
deliveries and attempts, "Send a test", changes, enable/disable and delete.

Through the API's own code (``WebhookAccessMixin``: ``webhook_or_404``,
``create_webhook``, ``change_webhook``, ``remove_webhook``, ``ping_webhook``): the
form becomes the API's JSON body, loaded by ``schemas.WebhookCreate`` or
``WebhookUpdate``, so the same URL check (the SSRF guard), filters and limits
refuse the same things; a 400's errors are shown beside their fields. Someone
else's webhook (for a non-admin) is a 404 page. No page ever holds a secret the
user typed; a generated one is on the create's answer only.
"""

import hashlib
import urllib.parse

import marshmallow

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError

from ... import queue, queues, schemas
from ...queue import webhooks as statements
from ...webhooks.events import EVENTS, FINISHED
from ..api.webhooks import WebhookAccessMixin
from .base import UI_ROOT, UIHandler, timestamp
from .schedules import safe_next
from .tokens import FormRefused

#: Webhooks on a page of the list.
LIST_PAGE = 50
#: Deliveries on a page of a webhook's deliveries.
DELIVERIES_PAGE = 20
#: Seconds between refreshes of the deliveries' first page.
POLL_SECONDS = 3
#: The filters' fields (the API's names).
FILTER_FIELDS = ("definition", "definition_owner", "schedule_id", "queue", "array")
#: The form's text fields (``events``: its boxes; ``secret``: never written back).
TEXT_FIELDS = ("url", *FILTER_FIELDS, "description")
#: What an action's ``?notice=`` says on the page it lands on.
NOTICES = {
    "created": "Webhook made, with the secret you gave.",
    "changed": "Saved.",
    "enabled": "Enabled: job events make deliveries again.",
    "disabled": "Disabled: no new deliveries (those made already are still sent).",
    "tested": "Test ping queued: it shows below once the deliverer has sent it.",
    "deleted": "Webhook deleted, with its deliveries.",
}


def webhook_url(webhook_id: int) -> str:
    """A webhook's page.

    Parameters
    ----------
    webhook_id : int

    Returns
    -------
    str
    """
    return f"{UI_ROOT}/webhooks/{webhook_id}"


def number_or_text(text: str):
    """A number field's value: an int when it reads as one, else the text (the
    API's check then names the field).

    Parameters
    ----------
    text : str

    Returns
    -------
    int or str
    """
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else text


def form_of(row: dict) -> dict:
    """The change form's values from a stored webhook.

    Parameters
    ----------
    row : dict
        ``webhook_or_404``'s.

    Returns
    -------
    dict
        Text by ``TEXT_FIELDS`` name, ``events`` a list.
    """
    return {
        "url": row["url"],
        "events": list(row["events"]),
        "definition": row["definition_name"] or "",
        "definition_owner": "",
        "schedule_id": "" if row["schedule_id"] is None else str(row["schedule_id"]),
        "queue": row["queue"] or "",
        "array": row["array_id"] or "",
        "description": row["description"] or "",
    }


def create_body(form: dict, secret: str, enabled: bool) -> dict:
    """The ``POST /api/webhooks`` body of the new-webhook form.

    Parameters
    ----------
    form : dict
        The fields as typed (``TEXT_FIELDS``; ``events``: the ticked boxes).
    secret : str
        Empty: the API makes one.
    enabled : bool

    Returns
    -------
    dict
        Empty fields left out (no filter; the API's defaults), but ``events``
        always: no box ticked is the API's 400, not its default.
    """
    body: dict = {"url": form["url"].strip(), "events": list(form["events"]), "enabled": enabled}
    for name in FILTER_FIELDS:
        if form[name].strip():
            body[name] = form[name].strip()
    if "schedule_id" in body:
        body["schedule_id"] = number_or_text(body["schedule_id"])
    if form["description"].strip():
        body["description"] = form["description"].strip()
    if secret:
        body["secret"] = secret
    return body


def change_body(form: dict, secret: str, stored: dict) -> dict:
    """The ``PATCH /api/webhooks/{id}`` body of the change form: what differs from
    the stored webhook only (a filter emptied: null).

    A definition typed as stored is not sent again: the API would look its name
    up anew, and a webhook keeps the definition it was made for.

    Parameters
    ----------
    form : dict
        The fields as typed (``TEXT_FIELDS``; ``events``: the ticked boxes).
    secret : str
        Empty: keep the stored one.
    stored : dict
        ``webhook_or_404``'s.

    Returns
    -------
    dict
        Possibly empty (the API's 400: nothing to change).
    """
    now = form_of(stored)
    body: dict = {}
    if form["url"].strip() != now["url"]:
        body["url"] = form["url"].strip()
    if sorted(form["events"]) != sorted(now["events"]):
        body["events"] = list(form["events"])
    definition, owner = form["definition"].strip(), form["definition_owner"].strip()
    if definition != now["definition"] or owner:
        body["definition"] = definition or None
        if owner:
            body["definition_owner"] = owner
    for name in ("schedule_id", "queue", "array", "description"):
        typed = form[name].strip()
        if typed != now[name]:
            body[name] = (number_or_text(typed) if name == "schedule_id" else typed) or None
    if secret:
        body["secret"] = secret
    return body


def field_errors(errors: dict) -> dict[str, list[str]]:
    """A 400's ``errors`` by the form's fields: a list's item errors
    (``{"events": {1: [...]}}``) under the list's field.

    Parameters
    ----------
    errors : dict
        ``data.errors`` of the API's 400.

    Returns
    -------
    dict of str to list of str
    """
    out: dict[str, list[str]] = {}

    def add(field: str, value) -> None:
        if isinstance(value, dict):
            for inner in value.values():
                add(field, inner)
        elif isinstance(value, list):
            for message in value:
                add(field, message)
        else:
            out.setdefault(field, []).append(str(value))

    for key, value in errors.items():
        add(str(key), value)
    return out


def delivery_outcome(delivery: dict | None) -> str:
    """A delivery's outcome in words, for the list.

    Parameters
    ----------
    delivery : dict or None
        ``statements.last_deliveries``'s (or a listed delivery).

    Returns
    -------
    str
        ``delivered (HTTP 200)``, ``failed: <error>``, ``pending (...)``; ``none
        yet`` for None.
    """
    if delivery is None:
        return "none yet"
    code = delivery["last_status_code"]
    if delivery["status"] == "delivered":
        return f"delivered (HTTP {code})" if code is not None else "delivered"
    if delivery["status"] == "failed":
        return f"failed: {delivery['last_error'] or f'HTTP {code}'}"
    if not delivery["attempts"]:
        return "pending"
    tries = "attempt" if delivery["attempts"] == 1 else "attempts"
    last = delivery["last_error"] or f"HTTP {code}"
    return f"pending ({delivery['attempts']} {tries}, last: {last})"


class WebhookFormMixin(WebhookAccessMixin, UIHandler):
    """A page posting a webhook form: the form as the API's JSON body (``load_body``
    reads ``json_body``), the API's refusals as errors by field."""

    # Signed in: ``prepare`` sent anyone else to the sign-in page.
    current_user: CurrentUser

    def posted_form(self) -> dict:
        """The webhook form's fields as sent (never the secret: ``posted_secret``).

        Returns
        -------
        dict
            Text by ``TEXT_FIELDS`` name; ``events``: the ticked boxes, in
            ``EVENTS``' order; ``enabled``: ``"on"`` when ticked (the new-webhook
            form's box), else empty.
        """
        form: dict = {name: self.get_argument(name, "") for name in TEXT_FIELDS}
        ticked = set(self.get_arguments("events"))
        # Known events in their order, then anything else sent (the API refuses it).
        form["events"] = [e for e in EVENTS if e in ticked] + sorted(ticked - set(EVENTS))
        form["enabled"] = "on" if self.get_argument("enabled", "") else ""
        return form

    def posted_secret(self) -> str:
        """The secret field as typed (empty: none given)."""
        return self.get_argument("secret", "", strip=False)

    async def through_api(self, action, schema, body: dict, *args, partial: bool = False):
        """Load ``body`` as the API loads its JSON, then do ``action`` with it.

        Parameters
        ----------
        action : callable
            An async ``WebhookAccessMixin`` method taking ``*args`` and the loaded body.
        schema : type of marshmallow.Schema
        body : dict
        *args
            Before the loaded body (the stored webhook, for a change).
        partial : bool
            As the API's PATCH loads.

        Returns
        -------
        dict
            What ``action`` returns.

        Raises
        ------
        FormRefused
            For the API's 4xx (400 by field, 409, 404).
        """
        self._form_body = body
        try:
            return await action(*args, self.load_body(schema, partial=partial))
        except APIError as exc:
            if exc.status_code >= 500:
                raise
            errors = field_errors((exc.data or {}).get("errors") or {})
            raise FormRefused(errors, exc.message, exc.status_code) from None

    def form_values(self) -> dict:
        """What every page with a webhook form shows beside it.

        Returns
        -------
        dict
            ``events`` (every event, in order), ``queue_names``, ``schedules``
            (the user's own, for the schedule field's suggestions).
        """
        return {
            "events": EVENTS,
            "queue_names": [q.name for q in queues.configured_queues(self.settings["config"])],
            "schedules": queue.list_schedules(self.sql, self.current_user.id, 200, 0),
        }


class WebhookListPage(WebhookFormMixin):
    """``/ui/webhooks``: the user's webhooks (an admin's: everyone's, with the owner)
    and their last delivery; the form making one (``POST``)."""

    def show_page(self, form: dict, errors: dict, message: str = "", status: int = 200) -> None:
        """Render the list and the form (its values and errors by field)."""
        try:
            offset = int(self.get_argument("offset", "0"))
        except ValueError:
            offset = 0
        offset = max(0, min(offset, 100_000))
        user = self.current_user
        rows = statements.list_webhooks(self.sql, user.id, user.is_admin, LIST_PAGE, offset)
        last = statements.last_deliveries(self.sql, [row["id"] for row in rows])
        self.set_status(status)
        self.render_page(
            "webhooks.html",
            webhooks=rows,
            last=last,
            outcome=delivery_outcome,
            offset=offset,
            page_size=LIST_PAGE,
            form=form,
            errors=errors,
            form_message=message,
            notice=NOTICES.get(self.get_argument("notice", "")),
            webhook_url=webhook_url,
            here=self.request.uri,
            **self.form_values(),
        )

    async def get(self):
        """The list and the empty form."""
        form = {name: "" for name in TEXT_FIELDS}
        form.update(events=[FINISHED], enabled="on")
        self.show_page(form, {})

    async def post(self):
        """Make a webhook: a generated secret on this answer, once; a given one, the
        webhook's page; or the form again with the errors (the secret not kept)."""
        form = self.posted_form()
        secret = self.posted_secret()
        body = create_body(form, secret, form["enabled"] == "on")
        try:
            made = await self.through_api(self.create_webhook, schemas.WebhookCreate, body)
        except FormRefused as refused:
            return self.show_page(form, refused.errors, refused.message, refused.status)
        if secret:
            return self.redirect(f"{webhook_url(made['id'])}?notice=created")
        self.set_header("Cache-Control", "no-store")
        self.render_page("webhook_created.html", webhook=made, back=webhook_url(made["id"]))


def deliveries_query(handler: UIHandler) -> dict:
    """The deliveries' page and state filter, from the query, checked as the API's
    ``GET /api/webhooks/{id}/deliveries`` checks them.

    Parameters
    ----------
    handler : UIHandler

    Returns
    -------
    dict
        ``status`` (or None), ``limit`` (``DELIVERIES_PAGE`` unless given), ``offset``.

    Raises
    ------
    APIError
        400 naming a bad argument.
    """
    raw = {
        name: handler.get_argument(name)
        for name in ("status", "limit", "offset")
        if handler.get_argument(name, "")
    }
    raw.setdefault("limit", str(DELIVERIES_PAGE))
    try:
        args = schemas.WebhookDeliveryQuery().load(raw)
    except marshmallow.ValidationError as exc:
        raise APIError(400, f"Invalid query arguments: {exc.messages}") from None
    return {"status": args.get("status"), "limit": args["limit"], "offset": args["offset"]}


class WebhookPage(WebhookFormMixin):
    """``/ui/webhooks/{webhook_id}``: one webhook, its deliveries (newest first, each
    attempt), "Send a test", enable/disable, delete, and the change form (``POST``:
    the API's ``PATCH``)."""

    def deliveries_html(self, row: dict) -> tuple[bytes, str]:
        """The deliveries' section, and a hash of what it shows (its refresh answers
        204 while that is unchanged).

        Parameters
        ----------
        row : dict
            The webhook.

        Returns
        -------
        tuple of (bytes, str)
        """
        query = deliveries_query(self)
        found = statements.list_deliveries(
            self.sql, row["id"], query["status"], query["limit"] + 1, query["offset"]
        )
        deliveries, more = found[: query["limit"]], len(found) > query["limit"]
        version = hashlib.sha256(repr((deliveries, more, query)).encode()).hexdigest()[:16]
        html = self.render_string(
            "webhook_deliveries.html",
            ui_root=UI_ROOT,
            timestamp=timestamp,
            webhook=row,
            deliveries=deliveries,
            more=more,
            query=query,
            version=version,
            poll_seconds=POLL_SECONDS,
            here=webhook_url(row["id"]),
            urlencode=urllib.parse.urlencode,
        )
        return html, version

    def show_page(
        self, row: dict, form: dict, errors: dict, message: str = "", status: int = 200
    ) -> None:
        """Render the webhook's page (the change form's values and errors by field)."""
        deliveries, _ = self.deliveries_html(row)
        self.set_status(status)
        self.render_page(
            "webhook.html",
            webhook=row,
            deliveries_html=deliveries,
            form=form,
            errors=errors,
            form_message=message,
            notice=NOTICES.get(self.get_argument("notice", "")),
            here=webhook_url(row["id"]),
            **self.form_values(),
        )

    async def get(self, webhook_id: str):
        """The page.

        Raises
        ------
        APIError
            404 for no such webhook, or someone else's (not an admin); 400 for a
            bad deliveries' query.
        """
        row = self.webhook_or_404(webhook_id)
        self.show_page(row, form_of(row), {})

    async def post(self, webhook_id: str):
        """Save the change form's changes (the API's ``PATCH``); back to the page.

        Raises
        ------
        APIError
            404 for no such webhook, or someone else's (not an admin).
        """
        stored = self.webhook_or_404(webhook_id)
        form = self.posted_form()
        body = change_body(form, self.posted_secret(), stored)
        try:
            await self.through_api(
                self.change_webhook, schemas.WebhookUpdate, body, stored, partial=True
            )
        except FormRefused as refused:
            return self.show_page(stored, form, refused.errors, refused.message, refused.status)
        self.redirect(f"{webhook_url(stored['id'])}?notice=changed")


class WebhookDeliveriesPart(WebhookPage):
    """``/ui/webhooks/{webhook_id}/deliveries``: the page's deliveries section alone
    (htmx asks for it every few seconds while the first page is shown)."""

    async def get(self, webhook_id: str):
        """The section, or 204 (htmx swaps nothing) when unchanged (``?v=``).

        Raises
        ------
        APIError
            404 as the page.
        """
        html, version = self.deliveries_html(self.webhook_or_404(webhook_id))
        self.set_header("Cache-Control", "no-store")
        if self.get_argument("v", "") == version:
            self.set_status(204)
            return self.finish()
        self.finish(html)

    async def post(self, webhook_id: str):
        """Not a form's target.

        Raises
        ------
        APIError
            405.
        """
        raise APIError(405, "POST the change form to the webhook's page")


class WebhookActionPage(WebhookAccessMixin, UIHandler):
    """``POST /ui/webhooks/{webhook_id}/{action}``: ``enable`` and ``disable`` (the
    API's ``PATCH`` with ``enabled``), ``test`` (its ping) and ``delete``; then back
    (``next``, a dashboard path) or, deleted, to the list."""

    current_user: CurrentUser

    async def post(self, webhook_id: str, action: str):
        """Do ``action`` on the webhook.

        Raises
        ------
        APIError
            404 for an unknown action, no such webhook, or someone else's (not an
            admin).
        """
        stored = self.webhook_or_404(webhook_id)
        here = webhook_url(stored["id"])
        if action in ("enable", "disable"):
            await self.change_webhook(stored, {"enabled": action == "enable"})
            notice = f"{action}d"
        elif action == "test":
            self.ping_webhook(stored)
            notice = "tested"
        elif action == "delete":
            self.remove_webhook(stored)
            return self.redirect(f"{UI_ROOT}/webhooks?notice=deleted")
        else:
            raise APIError(404, f"No action {action!r}")
        back = urllib.parse.urlsplit(safe_next(self.get_argument("next", ""), here))
        query = urllib.parse.urlencode({"notice": notice})
        self.redirect(urllib.parse.urlunsplit(("", "", back.path, query, "")))
