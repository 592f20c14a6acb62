"""The dashboard's HTTP side: the page and its files, its event stream, its actions and its login.

    GET  /_conveyor/ui                  the page (index.html; dashboard.js and dashboard.css beside it)
    GET  /_conveyor/ui/login?token=T    a one-time token for a session cookie, then the page (303)
    GET  /_conveyor/ui/state            the state, once (JSON)
    GET  /_conveyor/events              the state as server-sent events, as it changes
    POST /_conveyor/ui/redrive|kill|scale   actions: {"queue": DLQ_ARN} | {"worker": ID} | {"pool": NAME, "desired": N}
    POST /_conveyor/ui/token            a one-time login token (a signed call: `conveyor ui`)

A browser's requests come unsigned and are admitted here, before the gateway's signature check, by the
rules of conveyor.dashboard.sessions; signed requests (the `conveyor` command, scripts) take the
internal API's usual path and reach the same handlers, except that only they may ask for a token.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conveyor.dashboard.sessions import CSRF_HEADER, Session, Sessions, set_cookie
from conveyor.gateway import access
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.config import Config
    from conveyor.dashboard.board import Dashboard

UI = "/_conveyor/ui"
EVENTS = "/_conveyor/events"
ACTIONS = frozenset({"redrive", "kill", "scale"})
_STATIC = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
# The page runs only its own files, in no frame, and leaks no URL (the login URL carries a token).
_PAGE_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
     "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]
_NEEDS_LOGIN = ("This server checks signatures (--auth sigv4), and a browser cannot sign: open the dashboard "
                "with `conveyor ui`, which signs in and opens a one-time login URL.")


def is_dashboard_path(path: str) -> bool:
    return path in (UI, EVENTS) or path.startswith(UI + "/")


def is_signed(request: HttpRequest) -> bool:
    return "authorization" in request.headers or "X-Amz-Signature=" in request.query_string


def _static(name: str) -> bytes:
    return resources.files("conveyor.dashboard").joinpath("static", name).read_bytes()


def _json(payload: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                 *(headers or [])], json.dumps(payload).encode())


class DashboardWeb:
    def __init__(self, board: Dashboard, config: Config) -> None:
        self.board = board
        self.config = config
        self.sessions = Sessions()

    # -- a browser's (unsigned) requests ------------------------------------------------------------------
    async def browser(self, ctx: RequestContext) -> HttpResponse | None:
        """Answer an unsigned request for the dashboard, or None to leave it to the internal API."""
        request = ctx.request
        if not is_dashboard_path(request.path) or is_signed(request):
            return None
        ctx.service = access.INTERNAL
        ctx.operation_name = "Dashboard"
        if request.path == UI + "/login" and request.method == "GET":
            return self._login(request)
        session = self._admit(request)
        if request.method == "POST":
            _same_origin_only(request)
            if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
                raise ServiceError("AccessDenied", "The dashboard's actions need its CSRF token "
                                   "(X-Conveyor-CSRF), which only its own page has.", 403)
        return await self.answer(ctx, session)

    def _admit(self, request: HttpRequest) -> Session:
        if self.config.auth == "off":
            access.keep_browsers_out(request, self.config)  # loopback names, no other site
            return self.sessions.open_session
        session = self.sessions.from_cookie(request.headers.get("cookie"))
        if session is None:
            raise ServiceError("AccessDenied", _NEEDS_LOGIN, 403)
        return session

    def _login(self, request: HttpRequest) -> HttpResponse:
        if self.config.auth == "off":
            access.keep_browsers_out(request, self.config)
            return HttpResponse(303, [("Location", UI), ("Cache-Control", "no-store")])
        session = self.sessions.exchange(request.query_dict().get("token", ""))
        if session is None:
            raise ServiceError("AccessDenied", "This login link is unknown, used or expired (links last two "
                               "minutes and work once): run `conveyor ui` again.", 403)
        return HttpResponse(303, [("Location", UI), ("Set-Cookie", set_cookie(session, request.scheme == "https")),
                                  ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer")])

    # -- both kinds of caller ------------------------------------------------------------------------------
    async def answer(self, ctx: RequestContext, session: Session | None) -> HttpResponse:
        """`session`: the browser's (None for a signed caller, who needs no CSRF token)."""
        request = ctx.request
        method, path = request.method, request.path
        if path == EVENTS and method == "GET":
            return HttpResponse(200, [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"),
                                      ("X-Accel-Buffering", "no")], stream=self.board.events())
        sub = path[len(UI):].strip("/")
        if method in ("GET", "HEAD"):
            if sub == "":
                return self._page(session)
            if sub in _STATIC:
                return HttpResponse(200, [("Content-Type", _STATIC[sub]), ("Cache-Control", "no-cache"),
                                          ("X-Content-Type-Options", "nosniff")], _static(sub))
            if sub == "state":
                return _json(self.board.state())
        if method == "POST" and sub in ACTIONS:
            return _json(await self.board.act(sub, await _body(request)))
        if method == "POST" and sub == "token" and session is None:
            token = self.sessions.issue_token()
            return _json({"token": token, "path": f"{UI}/login?token={token}"})
        raise ServiceError("NotFound", f"No such Conveyor endpoint: {method} {path}", 404)

    def _page(self, session: Session | None) -> HttpResponse:
        csrf = (session or self.sessions.open_session).csrf
        html = _static("index.html").replace(b"{{csrf}}", csrf.encode())
        return HttpResponse(200, [("Content-Type", "text/html; charset=utf-8"), *_PAGE_HEADERS], html)


def _same_origin_only(request: HttpRequest) -> None:
    """A POST from a browser must name the dashboard's own origin (browsers always send `Origin` with a
    POST); `Sec-Fetch-Site`, where sent, must agree."""
    origin = request.headers.get("origin")
    host = (request.headers.get("host") or "").lower()
    site = (request.headers.get("sec-fetch-site") or "same-origin").lower()
    try:
        netloc = urlsplit(origin).netloc.lower() if origin else ""
    except ValueError:
        netloc = ""
    if not netloc or netloc != host or site != "same-origin":
        raise ServiceError("AccessDenied", f"The dashboard's actions are taken from its own page only (Origin "
                           f"{origin or '-'}).", 403)


async def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ServiceError("InvalidRequest", "The body must be JSON.")
    if not isinstance(body, dict):
        raise ServiceError("InvalidRequest", "The body must be a JSON object.")
    return body
