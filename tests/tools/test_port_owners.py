"""``make run`` says the stack is up only when its own nginx holds the public port."""

import os
import socket
import subprocess

import pytest

from baselayer.tools.errors import StackError
from baselayer.tools.readiness import check_port_owners, listening_uids


@pytest.fixture
def listener_as_nobody():
    """A TCP listener on a free loopback port, owned by uid 65534 (as a job's would be)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    code = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
        "print('listening', flush=True); time.sleep(60)\n"
    )
    process = subprocess.Popen(
        ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
         "/usr/bin/python3", "-c", code, str(port)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout.readline() == "listening\n"
        yield port
    finally:
        process.kill()
        process.wait()


def test_a_port_held_by_another_uid_is_refused(listener_as_nobody):
    assert listening_uids(listener_as_nobody) == {65534}
    with pytest.raises(StackError, match="held by uid 65534"):
        check_port_owners(listener_as_nobody)


def test_a_port_held_by_us_is_fine():
    ours = socket.socket()
    ours.bind(("127.0.0.1", 0))
    ours.listen()
    try:
        port = ours.getsockname()[1]
        assert listening_uids(port) == {os.geteuid()}
        check_port_owners(port)
    finally:
        ours.close()
