"""Where doorstep may send a webhook: `https` to public addresses only. Every address the
host name resolves to is checked (loopback, private, link-local, shared, multicast and
reserved ranges are refused, IPv4 inside IPv6 too), so a lender's URL cannot make the
server call its own network (SSRF). `allow_private` (the operator's setting
DOORSTEP_WEBHOOK_ALLOW_PRIVATE, for tests and development) lifts both checks.

The check runs when an endpoint is registered and again before each delivery (a name
may resolve elsewhere later); the delivery then connects to the address it checked."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from doorstep.domain.errors import InvalidValue

Resolver = Callable[[str, int], list[str]]


class UnsafeDestination(InvalidValue):
    """A webhook URL doorstep will not call."""

    code = "unsafe_destination"


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def refused_address(address: str) -> str | None:
    """Why `address` is no place for a webhook, or None when it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is not the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for refused, what in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_private, "private"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified or ip.is_reserved, "reserved"),
        (not ip.is_global, "not public"),
    ):
        if refused:
            return f"a {what} address ({address})"
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: the address to connect to and what to ask it for."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        tls = ssl.create_default_context() if self.scheme == "https" else None
        return _Pinned(self.host, self.port, self.address, timeout, tls)


class _Pinned(http.client.HTTPConnection):
    """An HTTP(S) connection to a checked address, with the URL's host name as the
    Host header and (for https) as the name the certificate must carry."""

    def __init__(
        self, host: str, port: int, address: str, timeout: float, tls: ssl.SSLContext | None
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address, self.tls = address, tls

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host) if self.tls else sock


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _refuse(url: str, en: str, zh: str) -> UnsafeDestination:
    return UnsafeDestination(f"url: {en}: {url!r}", message_zh=f"url：{zh}：{url!r}")


@dataclass(frozen=True, slots=True)
class Destinations:
    allow_private: bool = False
    resolve: Resolver = field(default=resolve_host)

    def check(self, url: str) -> None:
        """Refuse (`UnsafeDestination`, saying why) a URL doorstep would not call: what an
        endpoint's registration runs. Its host is resolved unless private places are
        allowed (a test's or a developer's host need not resolve yet)."""
        self._target(url, resolve=not self.allow_private)

    def target(self, url: str) -> Target:
        """Where a delivery to `url` connects now: resolved and checked again."""
        target = self._target(url, resolve=True)
        assert target is not None
        return target

    def _target(self, url: str, *, resolve: bool) -> Target | None:
        parts = urlsplit(url)
        schemes = ("http", "https") if self.allow_private else ("https",)
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            host = port = None
        if parts.scheme not in schemes or not host:
            wanted = "an http(s)" if self.allow_private else "an https"
            raise _refuse(url, f"not {wanted} URL", f"不是 {wanted.split()[-1]} 地址")
        port = port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not resolve:
            return None
        addresses = self._addresses(url, host, port)
        return Target(parts.scheme, host, port, path, addresses[0])

    def _addresses(self, url: str, host: str, port: int) -> list[str]:
        try:
            addresses = (
                [str(ipaddress.ip_address(host))] if _is_ip(host) else self.resolve(host, port)
            )
        except (OSError, UnicodeError) as exc:
            raise _refuse(
                url, f"host {host} cannot be resolved ({exc})", "主机名无法解析"
            ) from None
        if not addresses:
            raise _refuse(url, f"host {host} has no address", "主机名没有地址")
        if not self.allow_private:
            for address in addresses:
                why = refused_address(address)
                if why:
                    raise _refuse(
                        url,
                        f"{host} resolves to {why}; webhooks go to public addresses only",
                        f"{host} 解析为内网或保留地址 {address}，回调只能发往公网地址",
                    )
        return addresses


PUBLIC_ONLY = Destinations()
