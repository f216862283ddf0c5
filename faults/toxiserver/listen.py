"""Listen addresses as Go's net package reads them, with the real server's error texts.

The real server answers a bad `listen` with Go's own error string (status 500): `listen tcp:
address foo: missing port in address`, `listen tcp 127.0.0.1:3310: bind: address already in
use`. Clients and people match on those, so they are reproduced here.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"  # where an omitted listen binds (the real one: every interface)


class ListenError(Exception):
    """An address that cannot be resolved or bound; the message is Go's."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved TCP address: family, numeric host ('' for every interface), port."""

    family: socket.AddressFamily
    host: str
    port: int

    def __str__(self) -> str:
        if not self.host:
            return f":{self.port}"
        if self.family == socket.AF_INET6:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


def split_host_port(address: str) -> tuple[str, str]:
    """Go's net.SplitHostPort: `host:port` or `[v6]:port`; ListenError with Go's text."""
    def fail(why: str) -> ListenError:
        return ListenError(f"address {address}: {why}")

    colon = address.rfind(":")
    if colon < 0:
        raise fail("missing port in address")
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 != colon:
            raise fail("missing port in address" if end + 1 == len(address) else
                       "too many colons in address")
        host = address[1:end]
    else:
        host = address[:colon]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in address[1:] or "]" in address[colon:]:
        raise fail("unexpected '[' in address")
    return host, address[colon + 1 :]


def parse_port(text: str) -> int:
    """A port number 0..65535 or a service name (empty means 0), as Go's LookupPort reads it."""
    if text == "":
        return 0
    if text.isascii() and text.lstrip("+-").isdigit():
        port = int(text)
        if 0 <= port <= 65535:
            return port
        raise ListenError(f"address {text}: invalid port")  # Go names the port, not the address
    try:
        return socket.getservbyname(text, "tcp")
    except (OSError, UnicodeError):
        raise ListenError(f"lookup tcp/{text}: unknown port") from None


def nameserver(path: str = "/etc/resolv.conf") -> str:
    """The server Go's own resolver names in `lookup HOST on SERVER: no such host` (the real
    server is built with CGO_ENABLED=0): the first in resolv.conf, else Go's default."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            for line in file:
                fields = line.split()
                if len(fields) >= 2 and fields[0] == "nameserver":
                    ip = fields[1].split("%")[0]
                    return f"[{ip}]:53" if ":" in ip else f"{ip}:53"
    except OSError:
        pass
    return "127.0.0.1:53"


def is_domain_name(name: str) -> bool:
    """Go's isDomainName (net/dnsclient.go): a name its resolver would ask a server about."""
    if name == ".":
        return True
    if not name or len(name) > 254 or (len(name) == 254 and not name.endswith(".")):
        return False
    last, part, non_numeric = ".", 0, False
    for c in name:
        if c.isascii() and (c.isalpha() or c == "_"):
            non_numeric, part = True, part + 1
        elif c.isascii() and c.isdigit():
            part += 1
        elif c == "-":
            if last == ".":
                return False
            non_numeric, part = True, part + 1
        elif c == ".":
            if last in ".-" or not 0 < part <= 63:
                return False
            part = 0
        else:
            return False
        last = c
    return last != "-" and part <= 63 and non_numeric


async def resolve(address: str) -> Resolved:
    """Resolve `host:port` like net.ResolveTCPAddr (IPv4 first, as Go's "tcp" prefers)."""
    if address == "":
        return Resolved(socket.AF_INET, LOOPBACK, 0)
    host, port_text = split_host_port(address)
    port = parse_port(port_text)
    if host == "":
        return Resolved(socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET, "", port)
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    else:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return Resolved(family, str(ip) if "%" not in host else host, port)
    if not is_domain_name(host):  # Go asks no server ("123" is no address to it either)
        raise ListenError(f"lookup {host}: no such host")
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ListenError(f"lookup {host} on {nameserver()}: no such host") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, _, _, _, sockaddr = infos[0]
    return Resolved(family, str(sockaddr[0]), port)


def bind(resolved: Resolved) -> socket.socket:
    """A listening socket on `resolved`; ListenError with Go's `listen tcp ADDR: bind: ...`."""
    family = resolved.family
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        host = resolved.host or ("::" if family == socket.AF_INET6 else "0.0.0.0")
        sock.bind((host, resolved.port))
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        code = exc.errno if exc.errno is not None else errno.EINVAL
        raise ListenError(f"listen tcp {resolved}: bind: {os.strerror(code).lower()}") from None
    return sock


def bound_address(sock: socket.socket) -> str:
    """The address a listening socket really has, as Go prints it (`127.0.0.1:41234`)."""
    name = sock.getsockname()
    family = socket.AddressFamily(sock.family)
    return str(Resolved(family, str(name[0]), int(name[1])))


async def listen(address: str) -> socket.socket:
    """Resolve and bind `address`; ListenError with the real server's message."""
    try:
        resolved = await resolve(address)
    except ListenError as exc:
        raise ListenError(f"listen tcp: {exc}") from None
    return bind(resolved)
