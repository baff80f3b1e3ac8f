"""The one way a webhook leaves the building: an HTTP POST guarded against SSRF.

Invariants:
- Only `http` and `https` URLs with a host and no user:password part are sent to.
- The host is resolved once; if any address it resolves to is not a global unicast address
  (private, loopback, link-local, shared, reserved, multicast, unspecified, IPv4-mapped forms of
  those), the URL is refused, unless `WEBHOOKS_ALLOW_PRIVATE_ADDRESSES` (tests and development
  only). The connection is then made to that resolved address: a second DNS answer (rebinding)
  cannot redirect it. For `https` the certificate is still checked against the URL's host name
  (SNI and hostname verification use the name, the socket uses the pinned address).
- Redirects are never followed (a 3xx is an answer like any other, and a failure).
- A connect timeout, a read timeout per socket read, and a total deadline for reading the answer
  (a server that drips one byte at a time is cut off); at most `max_body` bytes of the answer are
  read, the rest is dropped with the connection.

urllib3 rather than httpx or requests: its connection pools take the address to connect to apart
from the name to verify (`server_hostname`, `assert_hostname`), so pinning the checked address
needs no custom transport; it is one pure-Python package with no dependencies, and it never
follows a redirect unless asked.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.utils.translation import gettext

USER_AGENT = "LoyaltyBackOffice-Webhooks/1"


class UrlRefused(Exception):
    """The URL may not be sent to (shape, resolution or address); `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (for Host, SNI and certificate checks)
    port: int
    path: str  # path and query
    address: str  # the checked address the connection goes to


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timeout, reset)
    body: bytes  # at most the cap
    truncated: bool
    error: str  # empty when an HTTP answer came back
    latency_ms: int


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL we may send to, or `UrlRefused` saying why."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(
            "url_invalid", gettext("Not a valid URL: %(reason)s.") % {"reason": exc}
        ) from exc
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("url_scheme", gettext("The URL must start with https:// or http://."))
    if not parts.hostname:
        raise UrlRefused("url_invalid", gettext("The URL has no host name."))
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(
            "url_credentials", gettext("The URL may not contain a user name or password.")
        )
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def url_resolve(url: str, *, allow_private: bool | None = None) -> Target:
    """Check the URL and resolve its host to the one address the connection will use."""
    if allow_private is None:
        allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES
    scheme, host, port, path = url_parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(
            "host_unresolvable", gettext("The host %(host)s cannot be resolved.") % {"host": host}
        ) from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UrlRefused(
            "host_unresolvable", gettext("The host %(host)s cannot be resolved.") % {"host": host}
        )
    refused = [a for a in addresses if not _address_allowed(a)]
    if refused and not allow_private:
        raise UrlRefused(
            "address_not_public",
            gettext(
                "The host %(host)s resolves to %(address)s, which is not a public internet address."
            )
            % {"host": host, "address": refused[0]},
        )
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


def _pool(target: Target, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    common = {"port": target.port, "timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            **common,
        )
    return urllib3.HTTPConnectionPool(target.address, **common)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` once. Never raises for network trouble: the `Answer` says what
    happened. Raises `UrlRefused` when the URL may not be sent to."""
    target = url_resolve(url)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host_header = f"{host_header}:{target.port}"
    all_headers = {
        "Host": host_header,
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        **headers,
    }
    timeout = urllib3.Timeout(
        connect=settings.WEBHOOKS_CONNECT_TIMEOUT, read=settings.WEBHOOKS_READ_TIMEOUT
    )
    started = time.monotonic()
    deadline = started + settings.WEBHOOKS_CONNECT_TIMEOUT + settings.WEBHOOKS_TOTAL_TIMEOUT
    pool = _pool(target, timeout)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=all_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        pool.close()
        return Answer(None, b"", False, _describe(exc), _since(started))
    try:
        answer_body, truncated, error = _read_capped(response, deadline)
    finally:
        response.close()
        pool.close()
    return Answer(response.status, answer_body, truncated, error, _since(started))


def _read_capped(response, deadline: float) -> tuple[bytes, bool, str]:
    cap = settings.WEBHOOKS_MAX_RESPONSE_BYTES
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.read1(8192, decode_content=False):
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                return b"".join(chunks)[:cap], True, ""
            if time.monotonic() > deadline:
                return b"".join(chunks), True, "the answer took too long to read; cut off"
    except urllib3.exceptions.HTTPError as exc:
        return b"".join(chunks), True, _describe(exc)
    return b"".join(chunks), False, ""


def _describe(exc: Exception) -> str:
    """A plain-words reason for a failed exchange (the delivery log shows it to staff)."""
    errors = urllib3.exceptions
    if isinstance(exc, errors.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, errors.NewConnectionError):  # before its base, ConnectTimeoutError
        cause = str(exc).rpartition("Failed to establish a new connection: ")[2]
        return f"cannot connect to the host: {cause}"[:500]
    if isinstance(exc, errors.ConnectTimeoutError):
        return "connect timeout"
    if isinstance(exc, errors.ReadTimeoutError):
        return "read timeout"
    if isinstance(exc, errors.SSLError):
        return f"TLS error: {exc}"[:500]
    if isinstance(exc, errors.ProtocolError):
        return f"connection closed: {exc.args[-1] if exc.args else exc}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
