"""The HTTP ceiling's app worker: the least a Tornado handler can do for POST /api/jobs.

    .venv/bin/python bench/http_ceiling/app.py --socket run/bench/ceiling/sockets/app_00.sock

It parses the JSON body and answers the API's envelope with a made-up job id:
no token check, no database, no logging. Run like an app worker (one process
per unix socket, behind the same NGINX config), it bounds what the real handler can reach.
"""

import argparse
import asyncio
import json
import uuid

import tornado.httpserver
import tornado.netutil
import tornado.web


class JobsHandler(tornado.web.RequestHandler):
    def post(self):
        body = json.loads(self.request.body or b"{}")
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        data = {"id": body.get("id") or f"job_{uuid.uuid4().hex}"}
        self.finish(json.dumps({"status": "success", "data": data, "message": "", "version": ""}))

    def get(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"status": "success", "data": [], "message": "", "version": ""}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", required=True, help="the unix socket to listen on")
    parser.add_argument("--max-body-bytes", type=int, default=2097152)
    args = parser.parse_args()
    app = tornado.web.Application([(r"/api/jobs", JobsHandler), (r"/api/sysinfo", JobsHandler)])

    async def serve():
        server = tornado.httpserver.HTTPServer(app, max_body_size=args.max_body_bytes)
        # As an app worker does (baselayer.app.unix_socket), in the same directory.
        server.add_socket(tornado.netutil.bind_unix_socket(args.socket, mode=0o660))
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
