"""One POST of a delivery: resolve, check, connect to the checked address, send.

``http.client`` rather than ``requests``: the connection must go to the very
address ``targets.resolve`` checked (a second lookup at connect time could
answer differently: DNS rebinding), while the ``Host`` header, TLS's SNI and
the certificate check use the URL's host name. It follows no redirect.
"""

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from . import targets

#: Bytes of a response body kept for the attempt's record.
KEPT_RESPONSE_BYTES = 512


@dataclass
class Outcome:
    """How one attempt went.

    Attributes
    ----------
    status_code : int or None
        The response's status; None when there was no response.
    error : str or None
        What went wrong, for the record; None for a 2xx.
    retry : bool
        Whether another attempt may succeed (a network error, a timeout, 5xx, 429).
    retry_after : float or None
        Seconds the receiver asked to wait (``Retry-After`` of a 429 or 503).
    duration_ms : int
    """

    status_code: int | None
    error: str | None
    retry: bool
    retry_after: float | None
    duration_ms: int


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address`` whatever ``host`` is (the Host header stays ``host``)."""

    def __init__(self, host: str, port: int, address: str, family: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address, self._family = address, family

    def connect(self) -> None:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect((self._address, self.port))
        except BaseException:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """TLS over the pinned connection; SNI and the certificate check use ``host``."""

    def __init__(self, host, port, address, family, timeout, context: ssl.SSLContext):
        super().__init__(host, port, address, family, timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def _cut(connection: http.client.HTTPConnection) -> None:
    """End a connection's socket from another thread: the attempt's reads fail at once."""
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header's seconds (delta-seconds only; a date is ignored)."""
    if value is None:
        return None
    value = value.strip()
    return float(value) if value.isdigit() else None


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    allow=(),
    own=(),
    resolver: targets.Resolver = socket.getaddrinfo,
    ssl_context: ssl.SSLContext | None = None,
) -> Outcome:
    """POST ``body`` to ``url`` once, after checking where it goes.

    Parameters
    ----------
    url : str
        The webhook's URL (checked again here: the rules may have changed).
    body : bytes
    headers : dict
        Sent as given, besides Host, Content-Length, Content-Type and User-Agent
        (the caller's are the signature, event and delivery headers).
    timeout : float
        Seconds: the whole attempt (resolve, connect, TLS, send, response).
    allow, own
        As ``targets.refused_reason`` takes them.
    resolver : callable, optional
        ``socket.getaddrinfo`` (tests pass another).
    ssl_context : ssl.SSLContext, optional
        Default: the system's trust store, hostname checked.

    Returns
    -------
    Outcome
        2xx: delivered. 3xx: failed, "redirect not followed", no retry. 429 and
        5xx: retry (with ``retry_after``). Other 4xx and 1xx: failed, no retry.
        Refused target: no retry. Network errors and timeouts: retry.
    """
    started = time.monotonic()

    def outcome(code, error, retry, after=None) -> Outcome:
        return Outcome(code, error, retry, after, int((time.monotonic() - started) * 1000))

    try:
        target = targets.check_url(url)
        addresses = targets.resolve(target, allow, own, resolver)
    except targets.TargetRefused as exc:
        return outcome(None, f"refused: {exc}", False)
    except UnicodeError as exc:  # a label IDNA cannot encode (over 63 characters, say)
        return outcome(None, f"cannot resolve {url!r}: {exc}", False)
    except OSError as exc:
        return outcome(None, f"cannot resolve {url!r}: {exc}", True)
    family, address = addresses[0]
    remaining = max(0.1, timeout - (time.monotonic() - started))
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        context = ssl_context or ssl.create_default_context()
        connection = _PinnedHTTPSConnection(
            target.host, target.port, str(address), family, remaining, context
        )
    else:
        connection = _PinnedHTTPConnection(
            target.host, target.port, str(address), family, remaining
        )
    # Each socket operation has its own timeout; a receiver dripping bytes could
    # stretch the whole attempt far past it, so the attempt's socket is cut then.
    watchdog = threading.Timer(remaining, _cut, [connection])
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", target.host_header)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body)))
        connection.putheader("User-Agent", "shell_service-webhooks/1")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        response.read(KEPT_RESPONSE_BYTES)  # read, not kept (below)
        code = response.status
        after = _retry_after(response.getheader("Retry-After"))
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, TimeoutError) or time.monotonic() - started >= timeout:
            reason = f"timed out ({timeout:g} s)"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        return outcome(None, f"{reason} (to {address} port {target.port})", True)
    finally:
        watchdog.cancel()
        connection.close()
    # The status only, never the reply's text: with webhooks.allow_networks, a
    # user could otherwise read what an internal service answers.
    said = f"HTTP {code}"
    if 200 <= code < 300:
        return outcome(code, None, False)
    if 300 <= code < 400:
        return outcome(code, f"redirect not followed ({code})", False)
    if code == 429 or code >= 500:
        return outcome(code, said, True, after)
    return outcome(code, said, False)
