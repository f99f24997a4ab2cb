"""Sign-in at the web edge: who each request is from, worked out from its headers before it is read.

With `ASSISTANT_AUTH=proxy` the council's sign-in proxy (the convention of Grafana, Datasette and others)
puts the signed-in user's name and groups in headers; they are believed only from the trusted proxy
addresses, and any other request is refused with 401. Admin rights come from the admin token, from
membership of an admin group, or both. `/api/health` and `/api/ready` answer anyone (load balancers
probe them directly); they count public reviews only.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from .access import ANONYMOUS, Reader, groups_from_header
from .config import Settings
from .errors import BadRequest

ADMIN_PREFIX = "/api/admin"
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="assistant admin"'}
# Proxy sign-in has no standard scheme: this one names the realm and says that the organisation's sign-in proxy
# (not the browser) must supply the identity, so no browser shows a password box for it.
PROXY_CHALLENGE = {"WWW-Authenticate": 'SignInProxy realm="assistant"'}
OPEN_PATHS = frozenset({"/api/health", "/api/ready"})
TOKEN_HOLDER = Reader(name="admin token", is_admin=True)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    headers: dict[str, str]


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def admin_enabled(settings: Settings) -> bool:
    """Admin routes and the admin page exist only when someone can be an admin."""
    return bool(settings.admin_token) or (settings.auth == "proxy" and bool(settings.admin_groups))


def parse_networks(addresses: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for address in addresses:
        try:
            networks.append(ipaddress.ip_network(address, strict=False))
        except ValueError:
            raise BadRequest(f"ASSISTANT_TRUSTED_PROXIES: {address!r} is not an IP address or network") from None
    return tuple(networks)


class SignIn:
    """Works out the Reader of a request, or why it is refused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.trusted = parse_networks(settings.trusted_proxies)
        self.admin_groups = frozenset(settings.admin_groups)

    def _token_valid(self, authorization: str | None) -> bool:
        scheme, _, given = (authorization or "").partition(" ")
        token = self.settings.admin_token
        return token is not None and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())

    def _trusted(self, client: str | None) -> bool:
        try:
            address = ipaddress.ip_address(client or "")
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def reader_for(self, path: str, client: str | None, headers: dict[str, str]) -> Reader | Refusal:
        """The reader of a request (headers lower-cased), or the refusal to answer it with."""
        if self._token_valid(headers.get("authorization")):
            return TOKEN_HOLDER
        if self.settings.auth == "open" or path in OPEN_PATHS:
            return ANONYMOUS
        if not self._trusted(client):
            return Refusal(401, "sign in through your organisation's sign-in page to use the assistant",
                           PROXY_CHALLENGE)
        for header in (self.settings.user_header, self.settings.groups_header):
            if "\n" in headers.get(header.lower(), ""):  # which one would be the proxy's? refuse both
                return Refusal(400, f"the request has more than one {header} header", {})
        name = headers.get(self.settings.user_header.lower(), "").strip()
        if not name:
            return Refusal(401, "sign in through your organisation's sign-in page to use the assistant "
                                f"(no {self.settings.user_header} header came with the request)", PROXY_CHALLENGE)
        groups = groups_from_header(headers.get(self.settings.groups_header.lower()))
        return Reader(name=name, groups=groups, is_admin=bool(groups & self.admin_groups))

    def origin(self, client: str | None, headers: dict[str, str]) -> str:
        """Where a request came from, for the audit trail: through a trusted proxy, the address it forwarded."""
        forwarded = headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if forwarded and self._trusted(client):
            return f"{forwarded} (via {client})"
        return client or "unknown"

    def check(self, path: str, client: str | None, headers: dict[str, str]) -> Reader | Refusal:
        """The reader of a request, or why it is refused: by sign-in, or (for admin routes) by admin rights."""
        reader = self.reader_for(path, client, headers)
        if isinstance(reader, Refusal):
            return reader
        return self.admin_refusal(path, reader) or reader

    def admin_refusal(self, path: str, reader: Reader) -> Refusal | None:
        """Why a request to an admin route is refused, or None (for every other route, None)."""
        if not is_admin_path(path):
            return None
        if not admin_enabled(self.settings):
            return Refusal(404, "admin routes are disabled; set ASSISTANT_ADMIN_TOKEN (or, with proxy sign-in, "
                                "ASSISTANT_ADMIN_GROUPS) to enable them", {})
        if reader.is_admin:
            return None
        if reader.name is not None:
            return Refusal(403, f"{reader.name} is not in an admin group", {})
        return Refusal(401, "a valid admin token is required (Authorization: Bearer <token>)", BEARER_CHALLENGE)


def reader_of(request: Request) -> Reader:
    """The reader the HTTP edge worked out for this request (a route dependency)."""
    reader = getattr(request.state, "reader", None)
    return reader if isinstance(reader, Reader) else ANONYMOUS


CurrentReader = Annotated[Reader, Depends(reader_of)]
