"""The directory the programs' sockets and the logs live in, and listening there."""

import asyncio
import grp
import os
import socket
import stat

import pytest
import tornado.httpserver
import tornado.web

from baselayer.app.unix_socket import listen_on_unix_socket
from baselayer.tools.errors import StackError
from baselayer.tools.layout import StackLayout
from baselayer.tools.prepare_dirs import make_log_dir, make_sockets_dir, sockets_dir
from baselayer.tools.system_user import primary_group


def layout_in(tmp_path, service_user=None) -> StackLayout:
    return StackLayout(
        root=tmp_path,
        run_dir=tmp_path / "run",
        log_dir=tmp_path / "log",
        pgsock=tmp_path / "run" / "pgsock",
        service_user=service_user,
        app_name="shell_service",
    )


def test_sockets_dir_is_ours_alone_without_a_system_user(tmp_path):
    layout = layout_in(tmp_path)
    layout.run_dir.mkdir()
    make_sockets_dir(layout, layout.run_dir)
    folder = sockets_dir(layout.run_dir)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert folder.stat().st_uid == os.getuid()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root (chown to the system user's group)")
def test_sockets_dir_lets_in_nginx_workers_group_only(tmp_path, cfg):
    user = cfg["database.system_user"]
    layout = layout_in(tmp_path, user)
    layout.run_dir.mkdir()
    folder = sockets_dir(layout.run_dir)
    folder.mkdir(mode=0o777)  # a wrong mode from before is fixed
    folder.chmod(0o777)
    make_sockets_dir(layout, layout.run_dir)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2750
    assert folder.stat().st_uid == 0
    assert grp.getgrgid(folder.stat().st_gid).gr_name == primary_group(user)


def test_too_long_a_socket_path_is_refused(tmp_path):
    deep = tmp_path / ("x" * 100)
    with pytest.raises(StackError, match="too long for unix socket paths"):
        make_sockets_dir(layout_in(tmp_path), deep)


def test_log_dir_is_ours_alone(tmp_path):
    layout = layout_in(tmp_path)
    layout.log_dir.mkdir(mode=0o755)
    layout.log_dir.chmod(0o755)
    make_log_dir(layout)
    assert stat.S_IMODE(layout.log_dir.stat().st_mode) == 0o700


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("hello")


def test_a_stale_socket_does_not_stop_a_restart(tmp_path):
    folder = tmp_path / "sockets"
    folder.mkdir(mode=0o700)
    path = folder / "app_00.sock"
    # A killed app worker's socket: the file stays, nothing listens on it.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    assert path.is_socket()

    async def serve_and_ask() -> bytes:
        server = tornado.httpserver.HTTPServer(tornado.web.Application([("/", Hello)]))
        listen_on_unix_socket(server, path)
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            answer = await reader.read()
            writer.close()
            return answer
        finally:
            server.stop()

    answer = asyncio.run(serve_and_ask())
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello")
    assert stat.S_IMODE(path.stat().st_mode) == 0o660


def test_a_directory_others_may_enter_is_refused(tmp_path):
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o755)
    server = tornado.httpserver.HTTPServer(tornado.web.Application([("/", Hello)]))
    with pytest.raises(SystemExit, match="others may enter it"):
        listen_on_unix_socket(server, folder / "app_00.sock")
    assert not (folder / "app_00.sock").exists()
