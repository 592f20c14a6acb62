"""Who may use the dashboard from a browser, which cannot sign requests.

- `--auth sigv4`: `conveyor ui` asks for a one-time token with a signed call (POST /_conveyor/ui/token)
  and opens `/_conveyor/ui/login?token=...`; the server exchanges the token, once and within
  TOKEN_SECONDS, for a session: an HttpOnly, SameSite=Strict cookie scoped to /_conveyor/ (a page of
  another site never sends it, and no script can read it). The session holds the page's CSRF token.
- `--auth off`: the server is on loopback and the gateway's browser rules keep other sites out
  (conveyor.gateway.access.keep_browsers_out); the page gets the server's own CSRF token.

Every action (a POST) must also come from the dashboard's own origin (`Origin`) and carry its CSRF token
in `X-Conveyor-CSRF`, which only a page the server served can know.
Tokens and sessions live in memory: a restart asks for `conveyor ui` again.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

TOKEN_SECONDS = 120.0
SESSION_SECONDS = 12 * 3600.0
MAX_SESSIONS = 64  # the oldest is let go beyond this
COOKIE = "conveyor_ui"
CSRF_HEADER = "x-conveyor-csrf"


@dataclass
class Session:
    id: str
    csrf: str
    expires: float

    def csrf_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class Sessions:
    def __init__(self) -> None:
        self.tokens: dict[str, float] = {}
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        # With authentication off there is one session-less page; it still carries a CSRF token.
        self.open_session = Session("", secrets.token_urlsafe(32), float("inf"))

    def issue_token(self) -> str:
        now = time.monotonic()
        self.tokens = {t: until for t, until in self.tokens.items() if until > now}
        token = secrets.token_urlsafe(32)
        self.tokens[token] = now + TOKEN_SECONDS
        return token

    def exchange(self, token: str) -> Session | None:
        """A new session for a valid token, which is then spent; None for an unknown, used or old one."""
        until = self.tokens.pop(token, None)
        now = time.monotonic()
        if until is None or until <= now:
            return None
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + SESSION_SECONDS)
        self.sessions[session.id] = session
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)
        return session

    def from_cookie(self, header: str | None) -> Session | None:
        if not header:
            return None
        try:
            cookie = SimpleCookie(header)
        except CookieError:
            return None
        morsel = cookie.get(COOKIE)
        if morsel is None:
            return None
        session = self.sessions.get(morsel.value)
        if session is None or session.expires <= time.monotonic():
            return None
        return session

    def clear(self) -> None:
        self.tokens.clear()
        self.sessions.clear()


def set_cookie(session: Session, secure: bool) -> str:
    return (f"{COOKIE}={session.id}; Path=/_conveyor/; Max-Age={int(SESSION_SECONDS)}; HttpOnly; "
            f"SameSite=Strict{'; Secure' if secure else ''}")
