"""Serving HTTP on a unix socket in a directory no job can enter.

The app workers and the status server listen on unix sockets, not on TCP ports:
a job (an unprivileged user's script on this host) could bind a free loopback
port while they restart and be sent other users' requests, tokens and all. A
socket in a directory only the stack and NGINX's workers may enter (see
``baselayer.tools.prepare_dirs.make_sockets_dir``) is out of its reach.
"""

import stat
import sys
from pathlib import Path

import tornado.httpserver
import tornado.netutil

#: Owner and group: as root, the sockets' group is NGINX's workers' (the
#: directory's, setgid); others cannot enter the directory anyway.
SOCKET_MODE = 0o660


def check_private_dir(folder: Path) -> None:
    """Exit unless ``folder`` is a directory others can neither enter, read nor write.

    A job must not reach our socket; a program that cannot serve safely does not serve.

    Parameters
    ----------
    folder : Path

    Raises
    ------
    SystemExit
        ``folder`` is missing or unreadable, not a directory, or has any
        permission bit for others.
    """
    try:
        mode = folder.stat().st_mode
    except OSError as exc:
        sys.exit(f"Cannot listen in {folder}: {exc} (`make run` creates it)")
    if not stat.S_ISDIR(mode) or mode & 0o007:
        sys.exit(f"Refusing to listen in {folder}: others may enter it (mode {oct(mode)})")


def listen_on_unix_socket(server: tornado.httpserver.HTTPServer, path: Path) -> None:
    """Make ``server`` listen on the unix socket ``path`` (mode ``SOCKET_MODE``).

    A socket left by a killed program is replaced (``bind_unix_socket`` removes
    it), so it cannot stop a restart.

    Parameters
    ----------
    server : tornado.httpserver.HTTPServer
    path : Path
        The socket's path; its directory must be private (``check_private_dir``).

    Raises
    ------
    SystemExit
        The directory is not private (``check_private_dir``).
    ValueError
        A file other than a socket is at ``path`` (``bind_unix_socket``).
    """
    check_private_dir(path.parent)
    server.add_socket(tornado.netutil.bind_unix_socket(str(path), mode=SOCKET_MODE))
