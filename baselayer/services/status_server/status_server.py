"""NGINX's backup upstream: says "not available" (503) whenever no app worker answers.

``/api/...`` gets the API's JSON envelope, any other path a small HTML page,
both naming the product (``app.title``). It listens on a unix socket
(``--socket``), as the app workers do.
"""

import argparse
import asyncio
import html
import json
import logging
from pathlib import Path

import tornado.httpserver
import tornado.web

from baselayer.app import logs
from baselayer.app.config import load_config
from baselayer.app.unix_socket import listen_on_unix_socket

#: Seconds a client should wait before trying again.
RETRY_AFTER = 5

HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}: not available</title></head>
<body style="font-family: sans-serif; margin: 3em;">
<h1>{title} is not available right now</h1>
<p>The app workers are down or restarting; try again shortly.</p>
</body>
</html>
"""


def unavailable_body(title: str) -> str:
    """The API's JSON envelope saying ``title`` (``app.title``) is not available.

    NGINX answers the same when the status server is down too
    (``render_configs.render_nginx_conf``).
    """
    message = (
        f"{title} is not available right now "
        "(the app workers are down or restarting); try again shortly"
    )
    return json.dumps({"status": "error", "data": {}, "message": message, "version": ""})


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
        self.write(unavailable_body(self.settings["title"]))


class PageUnavailableHandler(UnavailableHandler):
    def write_unavailable(self):
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.write(HTML_PAGE.format(title=html.escape(self.settings["title"])))


def log_request(handler: tornado.web.RequestHandler) -> None:
    # Answering 503 is this server's job, not an error (Tornado logs 5xx as errors).
    # On a unix socket the peer is NGINX: the client is in its X-Real-IP.
    request = handler.request
    client = request.headers.get("X-Real-Ip", request.remote_ip)
    logging.info("%d %s %s (%s)", handler.get_status(), request.method, request.uri, client)


def make_app(title: str) -> tornado.web.Application:
    """The status server's app; ``title`` is the product's name (``app.title``)."""
    return tornado.web.Application(
        [
            (r"/api(?:/.*)?", ApiUnavailableHandler),
            (r"/.*", PageUnavailableHandler),
        ],
        log_function=log_request,
        title=title,
    )


async def serve(socket: Path, title: str) -> None:
    """Answer 503 on the unix socket ``socket`` until stopped."""
    listen_on_unix_socket(tornado.httpserver.HTTPServer(make_app(title)), socket)
    logging.info("Status server listening on %s", socket)
    await asyncio.Event().wait()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", type=Path, required=True, help="the unix socket to listen on")
    args = parser.parse_args(argv)
    logs.configure("status_server")
    asyncio.run(serve(args.socket, load_config()["app.title"]))


if __name__ == "__main__":
    main()
