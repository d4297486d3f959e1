"""PostgreSQL LISTEN/NOTIFY for a Tornado process: one connection, callbacks per channel."""

import logging
from collections.abc import Callable

import psycopg2
import psycopg2.extensions
from sqlalchemy import URL
from tornado.ioloop import IOLoop

log = logging.getLogger(__name__)


class Listener:
    """Calls each channel's callbacks when NOTIFYs on it arrive, with their payloads.

    Subscribe first, then ``start`` on the IOLoop. When the connection is lost
    (PostgreSQL restarted, say) ``alive`` turns False, the ``on_lost`` callbacks
    run (so other connections of the process reconnect before their next use),
    and every second it tries to connect again. While it is down and once more
    when it is back (notifications may have been missed), each callback is
    called with no payloads; users of the listener do not trust it meanwhile
    (the token cache does not cache).

    Parameters
    ----------
    url : sqlalchemy.URL
        The database to LISTEN on (its own connection, outside any pool).

    Attributes
    ----------
    alive : bool
        Connected and listening.
    connects : int
        How many times it has connected (a reconnect adds one).
    """

    #: Seconds between attempts to connect again.
    RECONNECT_INTERVAL = 1.0

    def __init__(self, url: URL):
        self._url = url
        self._callbacks: dict[str, list[Callable[[list[str]], None]]] = {}
        self._lost_callbacks: list[Callable[[], None]] = []
        self._conn: psycopg2.extensions.connection | None = None
        self._fd: int | None = None
        self.alive = False
        #: How many times it has connected (a reconnect adds one).
        self.connects = 0

    def subscribe(self, channel: str, callback: Callable[[list[str]], None]) -> None:
        """Call ``callback(payloads)`` for the notifications on ``channel`` read at once.

        Parameters
        ----------
        channel : str
            Subscribe before ``start``: only the channels known then are LISTENed on.
        callback : callable
            Takes a list of str, the payloads read together (empty after a loss or a
            reconnect: something may have been missed).
        """
        self._callbacks.setdefault(channel, []).append(callback)

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the connection to PostgreSQL is lost.

        Parameters
        ----------
        callback : callable
            Takes no argument.
        """
        self._lost_callbacks.append(callback)

    def start(self) -> None:
        """Connect and LISTEN on every subscribed channel, watched by the current IOLoop.

        Raises
        ------
        psycopg2.OperationalError
            The server cannot be reached (the caller retries; ``poll`` reconnects
            after a loss).
        """
        connect_args, connect_kwargs = self._url.get_dialect()().create_connect_args(self._url)
        # A dedicated connection outside any pool: it stays in LISTEN for good.
        conn = psycopg2.connect(*connect_args, **connect_kwargs)
        try:
            conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            with conn.cursor() as cursor:
                for channel in self._callbacks:
                    cursor.execute(f'LISTEN "{channel}"')
        except BaseException:
            conn.close()  # a server that went away again between connect and LISTEN
            raise
        self._conn = conn
        self.alive = True
        self.connects += 1
        self._fd = conn.fileno()
        IOLoop.current().add_handler(self._fd, self._on_readable, IOLoop.READ)

    def _on_readable(self, fd, events) -> None:
        self.poll()

    def poll(self) -> bool:
        """Deliver any notifications already received (a non-blocking read).

        On a lost connection: ``alive`` False, the ``on_lost`` callbacks and every
        callback (no payloads) run, and a reconnect is scheduled.

        Returns
        -------
        bool
            Whether the listener still works.
        """
        conn, fd = self._conn, self._fd
        if not self.alive or conn is None or fd is None:
            return False
        try:
            conn.poll()
        except psycopg2.Error as exc:
            log.warning("Lost the LISTEN connection: %s", str(exc).strip())
            self.alive = False
            IOLoop.current().remove_handler(fd)
            conn.close()
            for on_lost in self._lost_callbacks:
                on_lost()
            self._call_all()
            IOLoop.current().call_later(self.RECONNECT_INTERVAL, self._reconnect)
            return False
        payloads: dict[str, list[str]] = {}
        for notify in conn.notifies:
            payloads.setdefault(notify.channel, []).append(notify.payload)
        conn.notifies.clear()
        for channel, sent in payloads.items():
            for callback in self._callbacks.get(channel, ()):
                callback(sent)
        return True

    def _reconnect(self) -> None:
        try:
            self.start()
        except psycopg2.Error:
            IOLoop.current().call_later(self.RECONNECT_INTERVAL, self._reconnect)
            return
        log.info("LISTEN connection back")
        self._call_all()

    def _call_all(self) -> None:
        for callbacks in self._callbacks.values():
            for callback in callbacks:
                callback([])
