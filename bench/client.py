"""A small keep-alive HTTP client for the benchmarks, and latency statistics.

``http.client`` rather than requests: it costs a fraction of the CPU per call,
and on a 2-core machine the load generator competes with the service.
"""

import http.client
import json
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)

    @property
    def data(self):
        return self.json()["data"]


class ApiClient:
    """One keep-alive connection to ``base_url``, sending ``Authorization: token``.

    Not thread-safe: give each thread its own.
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60):
        parts = urlsplit(base_url)
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout
        self.headers = {"Authorization": f"token {token}"} if token else {}
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body=None) -> Response:
        """Send one request; retried once on a connection the server had closed."""
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                conn = self._connection()
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
                return Response(response.status, data, time.perf_counter() - started)
            except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, body=None) -> Response:
        return self.request("POST", path, body)


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0-100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict:
    """Count, p50, p90, p99 and max of latencies given in seconds, in milliseconds."""

    def ms(value):
        return None if value is None else round(value * 1000, 2)

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p90_ms": ms(percentile(seconds, 90)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds) if seconds else None),
    }


def run_in_clients(
    count: int, clients: int, make_client: Callable[[], ApiClient], work: Callable
) -> list:
    """Call ``work(client, i)`` for i in 0..count-1 from ``clients`` threads, each with
    its own connection; the results in order of i."""
    local = threading.local()
    made: list[ApiClient] = []
    made_lock = threading.Lock()

    def call(i):
        if not hasattr(local, "client"):
            local.client = make_client()
            with made_lock:
                made.append(local.client)
        return work(local.client, i)

    try:
        with ThreadPoolExecutor(clients) as pool:
            return list(pool.map(call, range(count)))
    finally:
        for client in made:
            client.close()
