"""The client's own address behind trusted reverse proxies, taken from ``X-Forwarded-For``."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import Any

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Where the middleware keeps the address and port of the proxy it replaced, for the connection log.
PROXY_ADDR = "chatserver.proxy_addr"
PROXY_PORT = "chatserver.proxy_port"


def networks(value: str | Iterable[str | Network]) -> tuple[Network, ...]:
    """Parse comma-separated IP addresses and CIDR blocks (or an iterable of them); raise ValueError."""
    items = value.split(",") if isinstance(value, str) else value
    parsed = []
    for item in items:
        if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
            parsed.append(item)
            continue
        item = item.strip()
        if item:
            # strict: "10.0.0.5/8" is refused rather than silently read as 10.0.0.0/8.
            parsed.append(ipaddress.ip_network(item))
    return tuple(parsed)


def _address(text: str) -> Address | None:
    """An IP address as written by nginx (no port, no brackets); None for anything else."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; they match IPv4 entries as themselves.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """WSGI middleware: when the peer is a trusted proxy, ``REMOTE_ADDR`` becomes the client behind it.

    ``X-Forwarded-For`` is walked from the right, as nginx's realip module does with
    ``real_ip_recursive on``: each proxy appends the address it was connected from, so entries are
    believed only while the hop that wrote them is trusted. The first untrusted address is the
    client; a malformed entry ends the walk at the trusted hop that passed it on; when every entry
    is trusted the left-most is the client. Anything a client writes into the header itself sits to
    the left of what the first trusted proxy appended, so it is never reached.
    """

    def __init__(self, wsgi_app: Callable, trusted: str | Iterable[str | Network]) -> None:
        self.wsgi_app = wsgi_app
        self.trusted = networks(trusted)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        peer = environ.get("REMOTE_ADDR", "")
        client = self.client_address(peer, environ.get("HTTP_X_FORWARDED_FOR", ""))
        if client != peer:
            environ[PROXY_ADDR] = peer
            # The port is the proxy's own connection's, meaningless beside the client's address.
            environ[PROXY_PORT] = environ.pop("REMOTE_PORT", None)
            environ["REMOTE_ADDR"] = client
        return self.wsgi_app(environ, start_response)

    def client_address(self, peer: str, forwarded_for: str) -> str:
        """The client's address, given the direct peer's and the ``X-Forwarded-For`` header's value."""
        hop = _address(peer)
        if hop is None or not self.is_trusted(hop):
            return peer
        client = peer
        for entry in reversed([entry for entry in forwarded_for.split(",") if entry.strip()]):
            hop = _address(entry)
            if hop is None:
                logger.debug("X-Forwarded-For %r: %r is not an address; the client is %s", forwarded_for, entry,
                             client)
                break
            client = str(hop)
            if not self.is_trusted(hop):
                break
        return client

    def is_trusted(self, address: Address) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        return any(address in network for network in self.trusted)
