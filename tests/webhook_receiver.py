"""A webhook receiver for the tests: an HTTP server on 127.0.0.1 in a thread that
records every request and answers from a script of statuses."""

import http.server
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Received:
    """One request: its path, headers (lowercased names), body and arrival time."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class Receiver:
    """Records requests; answers each with the next of ``statuses`` (the last one
    repeats), with ``extra_headers``; with ``hold``, only once it is set (a
    receiver that hangs).

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:<port>/hook``.
    received : list of Received
    """

    def __init__(self, statuses=(200,), extra_headers=None, hold: threading.Event | None = None):
        self.statuses = list(statuses)
        self.extra_headers = extra_headers or {}
        self.received: list[Received] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body))
                if hold is not None:  # a receiver that hangs until the test lets it go
                    hold.wait(60)
                index = min(len(receiver.received), len(receiver.statuses)) - 1
                self.send_response(receiver.statuses[index])
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
