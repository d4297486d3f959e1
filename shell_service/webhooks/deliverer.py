"""The deliverer: job events in, signed POSTs out (``services/webhooks/webhooks.py``).

Each pass:

1. ``make_deliveries``: the job events past the cursor (``webhook_cursor``)
   become delivery rows, one per matching webhook and event (unique, so two
   deliverers, a restart or a rescan make no second one), and the cursor moves
   on, in one statement: a deliverer killed at any point loses no event and
   doubles none.
2. ``send_due``: up to ``webhooks.concurrency`` due deliveries are taken for a
   while (``locked_until``: another deliverer skips them; a dead one's are due
   again after it), POSTed at once in threads, each with ``webhooks.timeout``
   for the whole attempt, and each attempt recorded with what follows it:
   delivered (2xx), failed (3xx: a redirect is not followed; other 4xx; a
   refused target), or another attempt after a back-off (a network error, a
   timeout, 429, 5xx), until ``webhooks.retry.give_up_after`` seconds from the
   delivery's making have passed.

It runs in its own process, never in a request handler and never in an
executor, so a slow or hostile receiver delays neither jobs nor the API. A
delivery is at least once: a deliverer killed after the receiver answered and
before the record is written sends it again (same delivery id and body), so a
receiver drops a delivery id it has seen.
"""

import asyncio
import collections
import concurrent.futures
import datetime
import logging
import socket
import ssl

from baselayer.app.config import Config
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL

from .. import schemas
from ..queue import webhooks as statements
from . import payload, sender, targets

log = logging.getLogger(__name__)


def _iso(moment: datetime.datetime) -> str:
    return moment.replace(tzinfo=datetime.UTC).isoformat()


def public_url(cfg: Config) -> str:
    """The service's URL for a payload's links: ``webhooks.public_url``, else
    ``http://<server.host>:<server.port>``."""
    return cfg.get("webhooks.public_url") or f"http://{cfg['server.host']}:{cfg['server.port']}"


class Deliverer:
    """Makes and sends deliveries (see the module docstring).

    Parameters
    ----------
    cfg : Config
        Its ``webhooks:`` section: ``timeout``, ``concurrency``, ``batch``,
        ``rescan_events``, ``retry`` (``initial``, ``factor``, ``max_interval``,
        ``give_up_after``, seconds), ``allow_networks``, ``keep_deliveries_days``.
    sql : PlainSQL
        Used from the calling thread only (the POSTs run in threads, without it).
    resolver : callable, optional
        ``socket.getaddrinfo``; tests pass another.
    ssl_context : ssl.SSLContext, optional
        For https targets; default: the system's trust store.
    """

    def __init__(
        self,
        cfg: Config,
        sql: PlainSQL,
        resolver: targets.Resolver = socket.getaddrinfo,
        ssl_context: ssl.SSLContext | None = None,
    ):
        settings = cfg["webhooks"]
        self.timeout = float(settings["timeout"])
        self.concurrency = int(settings["concurrency"])
        self.batch = int(settings["batch"])
        self.rescan = int(settings["rescan_events"])
        retry = settings["retry"]
        self.initial = float(retry["initial"])
        self.factor = float(retry["factor"])
        self.max_interval = float(retry["max_interval"])
        self.give_up_after = float(retry["give_up_after"])
        self.keep_days = float(settings["keep_deliveries_days"])
        self.allow = targets.parse_networks(settings["allow_networks"])
        self.own = targets.own_addresses()
        self.base_url = public_url(cfg)
        self.sql = sql
        self.resolver = resolver
        self.ssl_context = ssl_context
        self.pool = concurrent.futures.ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="webhook-post"
        )

    def close(self) -> None:
        """Stop the threads (after the POSTs under way)."""
        self.pool.shutdown(wait=True)

    # ---- 1. events -> deliveries

    def make_deliveries(self) -> int:
        """Every job event past the cursor, made into deliveries (in batches).

        Returns
        -------
        int
            Deliveries made.
        """
        made = 0
        while True:
            result = statements.make_deliveries(self.sql, self.batch, self.rescan)
            made += result["made"]
            if result["read"] < self.batch:
                return made

    # ---- 2. deliveries -> POSTs

    def next_attempt(
        self, attempts: int, created_at: datetime.datetime, retry_after: float | None
    ) -> datetime.datetime | None:
        """When to try again after ``attempts`` failed ones, or None to give up.

        Parameters
        ----------
        attempts : int
            Attempts made, the failed one included (1 after the first).
        created_at : datetime
            The delivery's making (naive UTC): the give-up time counts from it.
        retry_after : float or None
            Seconds the receiver asked for (429, 503): honoured between the
            back-off's delay and ``max_interval``.

        Returns
        -------
        datetime or None
            ``now + min(initial * factor**(attempts-1), max_interval)``; None when
            that is past ``created_at + give_up_after``.
        """
        delay = min(self.initial * self.factor ** (attempts - 1), self.max_interval)
        if retry_after is not None:
            delay = min(max(delay, retry_after), self.max_interval)
        due = utcnow() + datetime.timedelta(seconds=delay)
        if due > created_at + datetime.timedelta(seconds=self.give_up_after):
            return None
        return due

    def delivery_body(self, delivery: dict) -> bytes | None:
        """A delivery's body: the stored one, or made now and stored (so each
        retry sends the same bytes); None if the delivery is gone."""
        if delivery["body"] is not None:
            return delivery["body"].encode()
        job = None
        if delivery["job_id"] is not None:
            row = statements.job_for_payload(
                self.sql, delivery["job_id"], payload.PAYLOAD_JOB_FIELDS
            )
            if row is not None:
                job = schemas.Job(only=payload.PAYLOAD_JOB_FIELDS).dump(row)
        made = payload.body(
            delivery, job, self.base_url, delivery["webhook_id"], _iso(delivery["created_at"])
        )
        stored = statements.store_body(self.sql, delivery["id"], made.decode())
        return None if stored is None else stored.encode()

    def attempt(self, delivery: dict, body: bytes) -> sender.Outcome:
        """POST a delivery once (in a worker thread: no database here)."""
        headers = {
            payload.SIGNATURE_HEADER: payload.signature(delivery["secret"], body),
            payload.EVENT_HEADER: delivery["event"],
            payload.DELIVERY_HEADER: str(delivery["id"]),
        }
        try:
            return sender.post(
                delivery["url"],
                body,
                headers,
                self.timeout,
                self.allow,
                self.own,
                self.resolver,
                self.ssl_context,
            )
        except Exception as exc:  # a bug must not hold the delivery (or the pass) for ever
            log.exception("Delivery %s: attempt failed", delivery["id"])
            return sender.Outcome(None, f"internal error: {type(exc).__name__}", True, None, 0)

    def record(self, delivery: dict, started: datetime.datetime, outcome: sender.Outcome) -> str:
        """Store an attempt and what follows it; returns the delivery's new status."""
        attempts = delivery["attempts"] + 1
        error, next_at = outcome.error, None
        if outcome.error is None:
            status = "delivered"
        elif not outcome.retry:
            status = "failed"
        else:
            next_at = self.next_attempt(attempts, delivery["created_at"], outcome.retry_after)
            if next_at is None:
                status = "failed"
                error = (
                    f"{outcome.error}; gave up after {attempts} attempts "
                    f"(webhooks.retry.give_up_after: {self.give_up_after:g} s)"
                )
            else:
                status = "pending"
        statements.record_attempt(
            self.sql,
            delivery["id"],
            started,
            outcome.duration_ms,
            outcome.status_code,
            error,
            status,
            next_at,
        )
        if status == "failed":
            log.info(
                "Delivery %s to webhook %s failed: %s",
                delivery["id"],
                delivery["webhook_id"],
                error,
            )
        return status

    def per_owner(self) -> int:
        """Most attempts of one user's webhooks under way at once: half the slots
        (at least one), so receivers that hang cannot hold every slot and delay
        the other users' deliveries."""
        return max(1, self.concurrency // 2)

    def send_due(self, wait: float = 1.0) -> int:
        """POST the due deliveries, ``concurrency`` at a time: each slot is filled
        again as soon as its attempt is recorded (a slow receiver holds its own
        slot only), no user's webhooks take more than ``per_owner`` slots, and new
        job events become deliveries at least every ``wait`` seconds meanwhile.
        Returns when nothing is due and nothing is under way.

        Parameters
        ----------
        wait : float
            Seconds between looks for new events while attempts are under way.

        Returns
        -------
        int
            Attempts made.
        """
        hold = self.timeout + 60
        under_way: dict[concurrent.futures.Future, tuple[dict, datetime.datetime]] = {}
        sent = 0
        while True:
            free = self.concurrency - len(under_way)
            if free > 0:
                counts = collections.Counter(d["owner_id"] for d, _ in under_way.values())
                busy = [owner for owner, n in counts.items() if n >= self.per_owner()]
                for delivery in statements.claim_deliveries(self.sql, free, hold, busy):
                    if counts[delivery["owner_id"]] >= self.per_owner():
                        # Taken in the same claim past its share: due again at once.
                        statements.release_delivery(self.sql, delivery["id"])
                        continue
                    body = self.delivery_body(delivery)
                    if body is None:
                        continue
                    counts[delivery["owner_id"]] += 1
                    future = self.pool.submit(self.attempt, delivery, body)
                    under_way[future] = (delivery, utcnow())
            if not under_way:
                return sent
            done, _ = concurrent.futures.wait(
                under_way, timeout=wait, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                delivery, started = under_way.pop(future)
                self.record(delivery, started, future.result())
                sent += 1
            self.make_deliveries()

    def prune(self) -> int:
        """Delete finished deliveries older than ``keep_deliveries_days``."""
        before = utcnow() - datetime.timedelta(days=self.keep_days)
        return statements.prune_deliveries(self.sql, before)

    def run_once(self) -> int:
        """One pass: make deliveries, then send what is due until nothing is
        (``send_due``, which goes on making deliveries from new events).

        Returns
        -------
        int
            Attempts made.
        """
        self.make_deliveries()
        return self.send_due()


async def run_forever(deliverer: Deliverer, wake: asyncio.Event, poll_interval: float) -> None:
    """Pass after pass: at once when ``wake`` is set (a NOTIFY), else every
    ``poll_interval`` seconds; a pass that fails (the database away) is logged
    and the next one tries again. The POSTs run in the deliverer's threads
    while this waits in one of them, so the event loop stays free for the
    NOTIFYs.

    Parameters
    ----------
    deliverer : Deliverer
    wake : asyncio.Event
    poll_interval : float
        Seconds.
    """
    loop = asyncio.get_running_loop()
    passes = 0
    while True:
        wake.clear()
        try:
            await loop.run_in_executor(None, deliverer.run_once)
            passes += 1
            if passes % 3600 == 1:
                await loop.run_in_executor(None, deliverer.prune)
        except Exception:
            log.exception("Webhook pass failed; trying again")
        try:
            await asyncio.wait_for(wake.wait(), poll_interval)
        except TimeoutError:
            pass
