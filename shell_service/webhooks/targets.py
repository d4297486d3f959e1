"""Where a webhook may POST: the URL rules and the address check (the SSRF guard).

A webhook's URL is user text, and the deliverer POSTs from inside the
service's network; without a guard a user could make it reach the metadata
service of a cloud host (169.254.169.254), a database on a private network,
or the service's own ports. So:

- ``check_url``: only ``http`` and ``https``, a host, no userinfo, no
  whitespace, backslash or control character (parsers disagree about those), at
  most ``MAX_URL_LENGTH`` characters.
- ``refused_reason``: an address is refused unless it is globally routable
  unicast: loopback, private (RFC 1918, ULA fc00::/7), link-local (169.254/16,
  fe80::/10), CGNAT (100.64/10), unspecified, multicast, reserved and
  documentation ranges are refused, and so are IPv6 forms that carry an IPv4
  address (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96,
  6to4 2002::/16, Teredo) are judged as the IPv4 address they carry, and this
  host's own addresses. ``allow_networks`` (config
  ``webhooks.allow_networks``) overrides all of this for the networks it
  lists; its IPv4 networks reach an IPv6 form only when it is IPv4-mapped (the
  same address): a 6to4 or Teredo address carrying an allowed 127.0.0.1 is
  still refused.
- ``resolve``: every address the name resolves to must pass, and the caller
  connects to one of exactly those (``sender`` pins it), so a DNS answer that
  changes between the check and the connection (rebinding) cannot redirect the
  POST. Numeric spellings (``2130706433``, ``0x7f.1``, ``017700000001``) are
  what ``getaddrinfo`` makes of them: 127.0.0.1, refused.
"""

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

#: Longest URL accepted (characters).
MAX_URL_LENGTH = 2048
SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Refused whatever ``is_global`` says (Python's tables differ between versions).
_ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
#: NAT64's well-known prefix: the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
#: IPv4-compatible IPv6 (deprecated): ::a.b.c.d.
_V4_COMPATIBLE = ipaddress.ip_network("::/96")


class TargetRefused(ValueError):
    """A URL or address a webhook may not POST to; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL: what to connect to and what to say.

    Attributes
    ----------
    scheme : str
        ``http`` or ``https``.
    host : str
        The host as written (lowercased; IPv6 without brackets): the ``Host``
        header, TLS's SNI and the name the certificate must match.
    port : int
    path : str
        Path and query, as sent in the request line (``/`` when empty).
    """

    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the host, bracketed if IPv6, and a port that is not
        the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def check_url(url: str) -> Target:
    """Parse a webhook URL and apply the rules that need no DNS.

    Parameters
    ----------
    url : str
        As the user gave it.

    Returns
    -------
    Target

    Raises
    ------
    TargetRefused
        Not http(s), no host, userinfo (``user:pass@``), a fragment-only or
        malformed URL, a bad port, whitespace, a backslash or a control
        character, or longer than MAX_URL_LENGTH.
    """
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
        raise TargetRefused("must not contain whitespace, control characters or backslashes")
    if not url.isascii():
        raise TargetRefused("must be ASCII (write an international name in its xn-- form)")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise TargetRefused("must be an http:// or https:// URL")
    if "@" in parts.netloc:
        raise TargetRefused("must not hold a user name or password (user:pass@)")
    host = parts.hostname
    if not host:
        raise TargetRefused("must name a host")
    if port == 0:
        raise TargetRefused("port 0 is not a port to connect to")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise TargetRefused(f"host [{host}] is not an IPv6 address") from None
        if "%" in host:
            raise TargetRefused("an IPv6 zone (%...) names a local interface")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default_port = 443 if scheme == "https" else 80
    return Target(scheme, host.rstrip(".") or host, port or default_port, path)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4,
    Teredo's client), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or address in _V4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refused_reason(
    address: IPAddress, allow: Iterable[IPNetwork] = (), own: Iterable[IPAddress] = ()
) -> str | None:
    """Why a webhook may not connect to ``address``, or None if it may.

    Parameters
    ----------
    address : IPv4Address or IPv6Address
    allow : iterable of networks
        Permitted whatever else is true of them (config ``webhooks.allow_networks``).
    own : iterable of addresses
        This host's addresses (``own_addresses``).

    Returns
    -------
    str or None
        A phrase naming the kind of address ("loopback", "private", ...).
    """
    if any(address.version == net.version and address in net for net in allow):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            # Judged as the IPv4 address it carries. Only the mapped form is that
            # address itself (a dual-stack socket connects to it): the allow-list's
            # networks reach no other (6to4, Teredo, NAT64 and the compatible form
            # go through a relay or translator), so those are judged by default.
            inner_allow = allow if address.ipv4_mapped is not None else ()
            reason = refused_reason(inner, inner_allow, own)
            return None if reason is None else f"{reason} (as IPv6 {address})"
        if address in _NAT64_LOCAL:
            return "a local-use NAT64 address"
    if address in set(own):
        return "one of this service's own addresses"
    for kind, test in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if test:
            return kind
    if any(address.version == net.version and address in net for net in _ALWAYS_REFUSED):
        return "not publicly routable"
    if not address.is_global:
        return "not publicly routable"
    return None


def own_addresses() -> frozenset[IPAddress]:
    """This host's addresses: its interfaces' (from /proc) and what its names resolve to.

    Returns
    -------
    frozenset of addresses
        Possibly empty (no /proc, no resolvable name): loopback and private
        addresses are refused anyway; this adds the public ones.
    """
    found: set[IPAddress] = set()
    try:  # IPv4: the LOCAL (/32 host) entries of the routing trie
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
        for previous, line in zip(lines, lines[1:], strict=False):
            if "/32 host LOCAL" in line and "|--" in previous:
                found.add(ipaddress.IPv4Address(previous.split("|--")[1].strip()))
    except (OSError, ValueError):
        pass
    try:  # IPv6: one address per line, 32 hex digits first
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            digits = line.split()[0]
            found.add(ipaddress.IPv6Address(int(digits, 16)))
    except (OSError, ValueError, IndexError):
        pass
    for name in {socket.gethostname(), socket.getfqdn()}:
        try:
            for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM):
                found.add(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        except (OSError, ValueError):
            pass
    return frozenset(found)


#: ``getaddrinfo``'s signature, replaceable in tests.
Resolver = Callable[..., list]


def resolve(
    target: Target,
    allow: Iterable[IPNetwork] = (),
    own: Iterable[IPAddress] = (),
    resolver: Resolver = socket.getaddrinfo,
) -> list[tuple[int, IPAddress]]:
    """Resolve a target's host and check every address.

    Parameters
    ----------
    target : Target
    allow, own
        As ``refused_reason`` takes them.
    resolver : callable, optional
        ``socket.getaddrinfo`` (tests pass another).

    Returns
    -------
    list of (family, address)
        Every address it resolved to, in the resolver's order, all permitted:
        connect to one of these, not to the name.

    Raises
    ------
    TargetRefused
        Any address refused (naming it and why): one bad address refuses the
        whole name, or a rebinding resolver could pick it at connect time.
    OSError
        The name does not resolve (``socket.gaierror``).
    """
    allow, own = tuple(allow), frozenset(own)
    infos = resolver(target.host, target.port, type=socket.SOCK_STREAM)
    addresses: list[tuple[int, IPAddress]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        reason = refused_reason(address, allow, own)
        if reason is not None:
            if _is_literal(target.host, address):
                raise TargetRefused(f"{address} is {reason}")
            raise TargetRefused(f"{target.host} resolves to {address}: {reason}")
        if (family, address) not in addresses:
            addresses.append((family, address))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"{target.host} has no IPv4 or IPv6 address")
    return addresses


def _is_literal(host: str, address: IPAddress) -> bool:
    """Whether ``host`` is ``address`` written in its usual form (no DNS involved)."""
    try:
        return ipaddress.ip_address(host) == address
    except ValueError:
        return False


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Config ``webhooks.allow_networks`` as networks.

    Parameters
    ----------
    values : iterable of str
        CIDR blocks ("127.0.0.1/32", "10.1.0.0/16", "fd00::/8") or addresses.

    Returns
    -------
    tuple of networks

    Raises
    ------
    ValueError
        An entry that is not a network (host bits set included).
    """
    return tuple(ipaddress.ip_network(str(value)) for value in values or ())
