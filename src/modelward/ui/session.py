"""Signing in to the console with the admin token: a signed session cookie and CSRF tokens.

The cookie never holds the token. It holds ``issued.nonce.signature``, signed with HMAC-SHA256 under a key
derived from the admin token, so every replica sharing the token accepts it, a changed token signs everyone
out, and a forged or edited cookie is refused. It is ``HttpOnly`` and ``SameSite=Strict`` (``Secure`` when
the request came over HTTPS) and expires after :data:`MAX_AGE` seconds.

Every form carries a CSRF token bound to the session (``HMAC(key, "csrf:" + nonce)``); the sign-in form,
which has no session yet, uses a double-submit token (a random value in a short-lived cookie and in the
form, signed the same way).

>>> from pydantic import SecretStr
>>> keys = SessionKeys(SecretStr("s3cret"))
>>> cookie = keys.issue(now=1000)
>>> keys.session(cookie, now=1001) is not None, keys.session(cookie + "x", now=1001)
(True, None)
>>> keys.session(cookie, now=1000 + MAX_AGE + 1) is None
True
>>> "s3cret" in cookie
False
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pydantic import SecretStr

__all__ = ["LOGIN_COOKIE", "MAX_AGE", "SESSION_COOKIE", "SessionKeys"]

SESSION_COOKIE = "modelward_session"
LOGIN_COOKIE = "modelward_login"
MAX_AGE = 8 * 3600


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


class SessionKeys:
    """Issues and checks session cookies and CSRF tokens; ``enabled`` is false without an admin token."""

    def __init__(self, token: SecretStr | None) -> None:
        self._token = None if token is None else token.get_secret_value().encode()
        self._key = (
            None if self._token is None else _mac(self._token, "modelward console session v1").encode()
        )

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def token_matches(self, given: str) -> bool:
        """The admin token, compared in constant time."""
        return self._token is not None and hmac.compare_digest(given.strip().encode(), self._token)

    def issue(self, *, now: float) -> str:
        assert self._key is not None, "sign-in is disabled: no admin token"
        body = f"{int(now)}.{secrets.token_hex(16)}"
        return f"{body}.{_mac(self._key, body)}"

    def session(self, cookie: str | None, *, now: float) -> str | None:
        """The session's nonce when ``cookie`` is a valid, unexpired session, else None."""
        if self._key is None or not cookie or cookie.count(".") != 2:
            return None
        issued, nonce, signature = cookie.split(".")
        if not hmac.compare_digest(signature, _mac(self._key, f"{issued}.{nonce}")):
            return None
        if not issued.isdigit() or not 0 <= now - int(issued) <= MAX_AGE:
            return None
        return nonce

    def csrf(self, nonce: str) -> str:
        """The CSRF token of session (or sign-in form) ``nonce``."""
        assert self._key is not None
        return _mac(self._key, "csrf:" + nonce)

    def csrf_ok(self, nonce: str | None, given: str | None) -> bool:
        return (
            self._key is not None
            and nonce is not None
            and given is not None
            and hmac.compare_digest(given, self.csrf(nonce))
        )
