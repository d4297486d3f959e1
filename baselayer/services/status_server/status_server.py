"""NGINX's backup upstream: says "not available" (503) whenever no app worker answers.

``/api/...`` gets the API's JSON envelope, any other path a small HTML page.
It listens on a unix socket (``--socket``), as the app workers do.
"""

import argparse
import asyncio
import json
import logging
from pathlib import Path

import tornado.httpserver
import tornado.web

from baselayer.app.unix_socket import listen_on_unix_socket

MESSAGE = (
    "shell_service is not available right now "
    "(the app workers are down or restarting); try again shortly"
)
#: Seconds a client should wait before trying again.
RETRY_AFTER = 5

HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>shell_service: not available</title></head>
<body style="font-family: sans-serif; margin: 3em;">
<h1>shell_service is not available right now</h1>
<p>The app workers are down or restarting; try again shortly.</p>
</body>
</html>
"""


class UnavailableHandler(tornado.web.RequestHandler):
    """Answers every method with 503 before any method handler runs."""

    def prepare(self):
        self.set_status(503)
        self.set_header("Retry-After", str(RETRY_AFTER))
        self.set_header("Cache-Control", "no-store")
        self.write_unavailable()
        self.finish()

    def write_unavailable(self):
        raise NotImplementedError


class ApiUnavailableHandler(UnavailableHandler):
    def write_unavailable(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.write(json.dumps({"status": "error", "data": {}, "message": MESSAGE, "version": ""}))


class PageUnavailableHandler(UnavailableHandler):
    def write_unavailable(self):
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.write(HTML_PAGE)


def log_request(handler: tornado.web.RequestHandler) -> None:
    # Answering 503 is this server's job, not an error (Tornado logs 5xx as errors).
    # On a unix socket the peer is NGINX: the client is in its X-Real-IP.
    request = handler.request
    client = request.headers.get("X-Real-Ip", request.remote_ip)
    logging.info("%d %s %s (%s)", handler.get_status(), request.method, request.uri, client)


def make_app() -> tornado.web.Application:
    return tornado.web.Application(
        [
            (r"/api(?:/.*)?", ApiUnavailableHandler),
            (r"/.*", PageUnavailableHandler),
        ],
        log_function=log_request,
    )


async def serve(socket: Path) -> None:
    """Answer 503 on the unix socket ``socket`` until stopped."""
    listen_on_unix_socket(tornado.httpserver.HTTPServer(make_app()), socket)
    logging.info("Status server listening on %s", socket)
    await asyncio.Event().wait()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", type=Path, required=True, help="the unix socket to listen on")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s status_server: %(message)s"
    )
    asyncio.run(serve(args.socket))


if __name__ == "__main__":
    main()
