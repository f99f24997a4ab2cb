"""HTTP details below the routes, as one small ASGI middleware around the whole app: a request id and the
security and cache headers on every response (errors included), the reader of each request worked out
from its sign-in headers (and refused before its body is read when sign-in or admin rights are missing;
see auth.py), request bodies refused by size while they are read, and HEAD answered wherever GET is.

It runs outside FastAPI's own error handling, so what it refuses it answers itself, in the one JSON
error shape.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from .access import Reader
from .auth import Refusal
from .text import describe_size

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# (path, client address, lower-cased headers) -> the request's reader, or why it is refused unread
Gate = Callable[[str, str | None, dict[str, str]], Reader | Refusal]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# Swagger UI sets style attributes in its markup; its page alone may use inline styles.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}

log = logging.getLogger("assistant.http")


class BodyTooLarge(HTTPException):
    """Raised while a request body is read, as soon as it passes its limit (FastAPI passes HTTP errors
    raised while reading a body on to its handlers, which answer 413 in the JSON error shape)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the {describe_size(limit)} limit")


def cache_control(path: str, query: str, status: int) -> str:
    """Answers, searches, pages, admin routes and every error are never stored; versioned static files are,
    for a year."""
    if path.startswith("/static/") and status < 400:
        return "public, max-age=31536000, immutable" if "v=" in query else "public, max-age=3600"
    return "no-store"


def edge_headers(path: str, query: str, status: int, request_id: str, present: set[bytes]
                 ) -> list[tuple[bytes, bytes]]:
    """The headers every response carries, except those the route already set."""
    wanted = {"x-request-id": request_id, "cache-control": cache_control(path, query, status),
              "content-security-policy": DOCS_CSP if path == "/docs" else CSP, **SECURITY_HEADERS}
    return [(name.encode(), value.encode()) for name, value in wanted.items() if name.encode() not in present]


def with_edge_headers(start: Message, path: str, query: str, request_id: str) -> Message:
    """A response's start message with the edge's headers added (an error's own Cache-Control replaced:
    an error is never stored, whatever the route said)."""
    headers = list(start.get("headers", []))
    if start["status"] >= 400:
        headers = [(key, value) for key, value in headers if key.lower() != b"cache-control"]
    present = {key.lower() for key, _ in headers}
    return {**start, "headers": [*headers, *edge_headers(path, query, start["status"], request_id, present)]}


class HttpEdge:
    """The ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int], gate: Gate) -> None:
        self.app = app
        self.limit_for = limit_for  # the body limit, in bytes, for a request path
        self.gate = gate

    def admit(self, path: str, client: str | None, headers: dict[str, str], limit: int) -> Reader | Refusal:
        """The reader of a request, or why it is refused from its headers alone, before its body is read."""
        outcome = self.gate(path, client, headers)
        if isinstance(outcome, Refusal):
            return outcome
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return Refusal(413, f"the request body is larger than the {describe_size(limit)} limit", {})
        return outcome

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:12]
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:  # a header sent twice keeps both values, a line apart (see auth.py)
            name = key.decode("latin-1").lower()
            headers[name] = headers[name] + "\n" + value.decode("latin-1") if name in headers \
                else value.decode("latin-1")
        limit = self.limit_for(path)
        started = False

        async def edge_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = with_edge_headers(message, path, query, request_id)
            elif message["type"] == "http.response.body" and head:
                message = {**message, "body": b""}
            await send(message)

        async def refuse(status: int, message: str, extra: dict[str, str] | None = None) -> None:
            body = json.dumps({"error": message, "status": status, "request_id": request_id}).encode()
            pairs = {"content-type": "application/json", "content-length": str(len(body)), **(extra or {})}
            await edge_send({"type": "http.response.start", "status": status,
                             "headers": [(k.lower().encode(), v.encode()) for k, v in pairs.items()]})
            await edge_send({"type": "http.response.body", "body": body})

        head = False
        client = scope.get("client")
        admitted = self.admit(path, client[0] if client else None, headers, limit)
        if isinstance(admitted, Refusal):
            await refuse(admitted.status, admitted.message, admitted.headers)
            return
        scope["state"]["reader"] = admitted
        if scope["method"] == "HEAD":
            head = True
            scope = {**scope, "method": "GET"}
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, limited_receive, edge_send)
        except BodyTooLarge as error:
            if not started:
                head = False
                await refuse(error.status_code, str(error.detail))
        except Exception:  # the app's error handler has answered (500, JSON); keep the connection usable
            if not started:
                log.exception("request %s failed before answering", request_id)
                await refuse(500, f"the server failed; quote request id {request_id} when reporting it")


# How uvicorn runs the app. uvicorn's own proxy-header handling stays off: it would replace the client's
# address with X-Forwarded-For before auth.py could check that the request came from a trusted proxy.
SERVER_OPTIONS: dict[str, Any] = {"log_level": "warning", "http": "assistant.http:NoDelayProtocol",
                                  "proxy_headers": False}


class NoDelayProtocol(H11Protocol):
    """uvicorn's HTTP protocol with TCP_NODELAY set on every connection.

    asyncio sets it only on sockets whose protocol reads as TCP; the sockets uvicorn's worker processes
    inherit read as protocol 0, so with --workers every keep-alive response waited for Nagle's algorithm
    and the client's delayed ACK (about 40 ms).
    """

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
