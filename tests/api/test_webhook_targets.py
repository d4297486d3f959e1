"""The SSRF guard (shell_service/webhooks/targets.py) and the pinned sender: which
URLs and addresses a webhook may reach, checked at each attempt on the address
actually connected to."""

import ipaddress
import socket
import threading
import time

import pytest

from shell_service.webhooks import sender, targets

from ..webhook_receiver import Receiver

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.1.1",
    "100.64.0.1",  # CGNAT
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
]
ALLOWED = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address):
    assert targets.refused_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address):
    assert targets.refused_reason(ipaddress.ip_address(address)) is None


def test_the_allow_list_permits_its_networks_only():
    allow = targets.parse_networks(["127.0.0.1/32", "10.20.0.0/16"])
    assert targets.refused_reason(ipaddress.ip_address("127.0.0.1"), allow) is None
    assert targets.refused_reason(ipaddress.ip_address("10.20.3.4"), allow) is None
    assert targets.refused_reason(ipaddress.ip_address("127.0.0.2"), allow) is not None
    assert targets.refused_reason(ipaddress.ip_address("10.21.0.1"), allow) is not None
    # An IPv6 form is judged by the IPv4 address it carries.
    assert targets.refused_reason(ipaddress.ip_address("::ffff:127.0.0.2"), allow) is not None


@pytest.mark.parametrize(
    "address",
    [
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo of 127.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible
    ],
)
def test_an_allowed_ipv4_network_reaches_no_ipv6_form_but_the_mapped_one(address):
    # The test's receiver is 127.0.0.1: its allow-list entry is that address alone.
    allow = targets.parse_networks(["127.0.0.1/32"])
    assert targets.refused_reason(ipaddress.ip_address(address), allow) == (
        f"loopback (as IPv6 {ipaddress.ip_address(address)})"
    )
    assert targets.refused_reason(ipaddress.ip_address("::ffff:127.0.0.1"), allow) is None


@pytest.mark.parametrize(
    "address, embedded",
    [("2002:a00:1::", "10.0.0.1"), ("2002:c0a8:101::", "192.168.1.1"), ("2002:808:808::", None)],
)
def test_a_6to4_address_is_judged_as_the_ipv4_address_it_carries(address, embedded):
    reason = targets.refused_reason(ipaddress.ip_address(address))
    if embedded is None:
        assert reason is None
    else:
        assert reason == f"private (as IPv6 {address})"


def test_the_service_s_own_public_addresses_are_refused():
    own = {ipaddress.ip_address("8.8.8.8")}
    reason = targets.refused_reason(ipaddress.ip_address("8.8.8.8"), (), own)
    assert reason == "one of this service's own addresses"
    assert targets.refused_reason(ipaddress.ip_address("::ffff:8.8.8.8"), (), own) is not None
    assert targets.own_addresses()  # this host has at least loopback


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/",
        "file:///etc/passwd",
        "gopher://example.org/",
        "http://user:pw@example.org/",
        "http://example.org@127.0.0.1/",
        "http:///nohost",
        "http://exa mple.org/",
        "http://example.org\\@127.0.0.1/",
        "http://example.org/\r\nX-Injected: 1",
        "http://[::1%25eth0]/",
        "http://[zz::1]/",
        "http://example.org:0/",
        "http://example.org:99999/",
        "http://bücher.example/",
        "http://example.org/" + "a" * 2100,
    ],
)
def test_urls_the_rules_refuse(url):
    with pytest.raises(targets.TargetRefused):
        targets.check_url(url)


def test_a_url_s_parts():
    target = targets.check_url("https://Hooks.Example.org:8443/p/q?x=1#frag")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.org",
        8443,
        "/p/q?x=1",
    )
    assert target.host_header == "hooks.example.org:8443"
    assert targets.check_url("http://[2606:4700::1]/").host_header == "[2606:4700::1]"


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/",  # hex and a short form
        "http://017700000001/",  # octal
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::1]/",
        "http://0/",
        "http://localhost/",
    ],
)
def test_other_spellings_of_loopback_are_refused_once_resolved(url):
    target = targets.check_url(url)
    with pytest.raises(targets.TargetRefused):
        targets.resolve(target)


def fake_resolver(answers):
    """A getaddrinfo that answers each call with the next list of addresses."""
    calls = []

    def resolve(host, port, *args, **kwargs):
        calls.append(host)
        addresses = answers[min(len(calls), len(answers)) - 1]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    resolve.calls = calls
    return resolve


def test_one_bad_address_among_several_refuses_the_name():
    resolver = fake_resolver([["93.184.215.14", "10.0.0.7"]])
    with pytest.raises(targets.TargetRefused, match="10.0.0.7"):
        targets.resolve(targets.check_url("http://hooks.example.org/"), resolver=resolver)


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_the_attempt():
    # Public when the webhook was made, private when it is sent (DNS rebinding).
    resolver = fake_resolver([["93.184.215.14"], ["169.254.169.254"]])
    target = targets.check_url("http://rebind.example.org/")
    assert targets.resolve(target, resolver=resolver) == [
        (socket.AF_INET, ipaddress.ip_address("93.184.215.14"))
    ]
    outcome = sender.post("http://rebind.example.org/", b"{}", {}, 2, resolver=resolver)
    assert outcome.status_code is None and not outcome.retry
    assert "refused" in outcome.error and "169.254.169.254" in outcome.error


def test_the_post_goes_to_the_checked_address_with_the_url_s_host_name():
    # The name resolves (by this resolver) to 127.0.0.1, allowed here; the
    # connection goes to that address, the Host header keeps the name: no second
    # lookup could send it elsewhere.
    receiver = Receiver()
    try:
        resolver = fake_resolver([["127.0.0.1"]])
        url = f"http://pinned.example.org:{receiver.port}/in?x=1"
        allow = targets.parse_networks(["127.0.0.1/32"])
        outcome = sender.post(url, b'{"a": 1}', {"X-Test": "1"}, 2, allow, (), resolver)
        assert outcome.status_code == 200 and outcome.error is None, outcome
        assert resolver.calls == ["pinned.example.org"]
        (request,) = receiver.received
        assert request.path == "/in?x=1"
        assert request.headers["host"] == f"pinned.example.org:{receiver.port}"
        assert request.headers["x-test"] == "1"
        assert request.body == b'{"a": 1}'
    finally:
        receiver.close()


def test_a_redirect_is_not_followed():
    target = Receiver()
    redirecting = Receiver(statuses=[302], extra_headers={"Location": target.url})
    try:
        allow = targets.parse_networks(["127.0.0.1/32"])
        outcome = sender.post(redirecting.url, b"{}", {}, 2, allow)
        assert outcome.status_code == 302 and not outcome.retry
        assert outcome.error == "redirect not followed (302)"
        assert len(redirecting.received) == 1 and target.received == []
    finally:
        target.close()
        redirecting.close()


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (200, None),
        (204, None),
        (404, False),
        (410, False),
        (400, False),
        (429, True),
        (500, True),
        (503, True),
    ],
)
def test_which_answers_are_retried(status, retry):
    receiver = Receiver(statuses=[status], extra_headers={"Retry-After": "7"})
    try:
        outcome = sender.post(receiver.url, b"{}", {}, 2, targets.parse_networks(["127.0.0.1/32"]))
        assert outcome.status_code == status
        if retry is None:
            assert outcome.error is None
        else:
            assert outcome.retry is retry and str(status) in outcome.error
            if retry:
                assert outcome.retry_after == 7
    finally:
        receiver.close()


def test_a_closed_port_is_a_network_error_and_retried():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = sender.post(
        f"http://127.0.0.1:{port}/", b"{}", {}, 2, targets.parse_networks(["127.0.0.1/32"])
    )
    assert outcome.status_code is None and outcome.retry and "127.0.0.1" in outcome.error


def test_a_receiver_that_drips_its_answer_is_cut_at_the_attempt_s_timeout():
    # One byte a second: every read is within a socket timeout, the whole is not.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def drip():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            try:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60:
                    conn.sendall(bytes([byte]))
                    time.sleep(0.5)
            except OSError:
                pass

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        outcome = sender.post(
            f"http://127.0.0.1:{port}/", b"{}", {}, 2, targets.parse_networks(["127.0.0.1/32"])
        )
        assert time.monotonic() - started < 4
        assert outcome.status_code is None and outcome.retry
        assert "timed out (2 s)" in outcome.error
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("allow_networks", ["10.0.0.1/8"], "webhooks.allow_networks"),
        ("allow_networks", ["nowhere"], "webhooks.allow_networks"),
        ("timeout", 0, "webhooks.timeout"),
        ("concurrency", "8", "webhooks.concurrency"),
        ("rescan_events", -1, "webhooks.rescan_events"),
    ],
)
def test_a_bad_webhooks_config_is_refused_naming_the_setting(setting, value, named):
    from baselayer.app.config import load_config
    from shell_service import config_check

    cfg = load_config()
    cfg["webhooks"] = {**cfg["webhooks"], setting: value}
    with pytest.raises(ValueError, match=named):
        config_check.check_webhooks(cfg)
    cfg["webhooks"]["retry"] = {**cfg["webhooks"]["retry"], "factor": True}
    cfg["webhooks"][setting] = load_config()["webhooks"][setting]
    with pytest.raises(ValueError, match="webhooks.retry.factor"):
        config_check.check_webhooks(cfg)


def test_https_goes_to_the_checked_address_with_sni_and_the_certificate_of_the_name(tmp_path):
    import ssl
    import subprocess

    subprocess.run(
        ["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
         "-subj", "/CN=hooks.example.org", "-addext", "subjectAltName=DNS:hooks.example.org"],
        check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    server_names = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    receiver = Receiver()
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    trusting = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    allow = targets.parse_networks(["127.0.0.1/32"])
    try:
        resolver = fake_resolver([["127.0.0.1"]])
        url = f"https://hooks.example.org:{receiver.port}/tls"
        outcome = sender.post(url, b"{}", {}, 3, allow, (), resolver, trusting)
        assert outcome.status_code == 200, outcome
        assert server_names == ["hooks.example.org"]
        assert receiver.received[0].headers["host"] == f"hooks.example.org:{receiver.port}"
        # Another name at the same address: its certificate does not match, no POST.
        other = f"https://other.example.org:{receiver.port}/tls"
        outcome = sender.post(other, b"{}", {}, 3, allow, (), resolver, trusting)
        assert outcome.status_code is None and "certificate" in outcome.error.lower()
        assert len(receiver.received) == 1
    finally:
        receiver.close()


def test_a_name_idna_cannot_encode_fails_without_retry():
    outcome = sender.post("http://" + "a" * 64 + ".example.org/", b"{}", {}, 2)
    assert outcome.status_code is None and not outcome.retry
    assert "cannot resolve" in outcome.error
