"""Who may see the console and who may act on it (pure: values in, decisions out).

* Binding anywhere but a loopback address needs an access token or basic-auth
  credentials (:func:`check_bind`).
* With credentials configured every page but ``/login`` and the static files needs them:
  ``Authorization: Bearer <token>``, basic auth, or the session cookie set by ``/login``
  (an HMAC of the token, so the token itself never sits in the browser).
* Actions (POST) additionally need a CSRF proof: the form's ``csrf`` field must equal the
  ``norce_ops_csrf`` cookie (double submit) and, when the browser sends ``Origin``, it
  must be the console's own origin.
* Without credentials (loopback only) pages are readable but actions are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

import attrs

from .._exceptions import ConfigurationError


__all__ = [
    "AccessPolicy",
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "check_bind",
    "csrf_matches",
    "is_loopback",
    "new_csrf_token",
    "same_origin",
]

SESSION_COOKIE: Final = "norce_ops_session"
CSRF_COOKIE: Final = "norce_ops_csrf"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@attrs.frozen(repr=False)
class AccessPolicy:
    """The console's credentials: an access token, basic-auth credentials, both or none.

    Args:
        token: the access token (``Authorization: Bearer``, ``/login``, ``?token=``).
        basic_user: the basic-auth user name.
        basic_password: the basic-auth password.

    Raises:
        ValueError: only one of ``basic_user`` and ``basic_password``, or an empty token.
    """

    token: str | None = None
    basic_user: str | None = None
    basic_password: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.basic_user is None) != (self.basic_password is None):
            msg = "basic auth needs both a user and a password"
            raise ValueError(msg)
        if self.token is not None and not self.token.strip():
            msg = "the access token is empty"
            raise ValueError(msg)

    def __repr__(self) -> str:
        # Never the secrets themselves.
        return (
            f"AccessPolicy(token={'set' if self.token else None}, "
            f"basic_user={self.basic_user!r}, "
            f"basic_password={'set' if self.basic_password else None})"
        )

    @property
    def enabled(self) -> bool:
        """Whether any credentials are configured."""
        return self.token is not None or self.basic_user is not None

    @property
    def uses_basic(self) -> bool:
        """Whether basic auth is configured (a 401 then asks the browser for it)."""
        return self.basic_user is not None

    def session_value(self) -> str:
        """The session cookie's value: an HMAC of the token (``""`` without a token)."""
        if self.token is None:
            return ""
        return hmac.new(self.token.encode(), b"norce-ops-session", hashlib.sha256).hexdigest()

    def token_matches(self, candidate: str | None) -> bool:
        """Constant-time comparison with the access token."""
        if self.token is None or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def authenticated(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> bool:
        """Whether a request carries valid credentials (``True`` when none are configured).

        Args:
            headers: request headers (lower-case names).
            cookies: request cookies.
        """
        if not self.enabled:
            return True
        authorization = headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and self.token_matches(value.strip()):
            return True
        if scheme == "basic" and self._basic_matches(value.strip()):
            return True
        session = cookies.get(SESSION_COOKIE)
        return bool(
            self.token is not None
            and session
            and hmac.compare_digest(session.encode(), self.session_value().encode())
        )

    def _basic_matches(self, value: str) -> bool:
        if self.basic_user is None or self.basic_password is None:
            return False
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        user_ok = hmac.compare_digest(user.encode(), self.basic_user.encode())
        password_ok = hmac.compare_digest(password.encode(), self.basic_password.encode())
        return user_ok and password_ok


def check_bind(host: str, access: AccessPolicy) -> None:
    """Refuse to serve beyond this machine without credentials.

    Raises:
        ConfigurationError: ``host`` is not a loopback address and ``access`` has no
            token and no basic-auth credentials.
    """
    if is_loopback(host) or access.enabled:
        return
    msg = (
        f"refusing to serve the operations console on {host}: it would be reachable from "
        "other machines without any authentication. Set an access token (--token or "
        "NORCE_OPS_TOKEN) or basic-auth credentials (--basic-auth USER:PASSWORD or "
        "NORCE_OPS_BASIC_AUTH), or bind 127.0.0.1"
    )
    raise ConfigurationError(msg, setting="--host")


def new_csrf_token() -> str:
    """A fresh random CSRF token for the double-submit cookie."""
    return secrets.token_urlsafe(32)


def csrf_matches(cookie: str | None, submitted: str | None) -> bool:
    """Double submit: the form's token equals the cookie's (constant time)."""
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


def same_origin(origin: str | None, referer: str | None, host: str | None) -> bool:
    """Whether the browser says the request comes from the console's own host.

    ``Origin`` is checked when sent, else ``Referer``; a request with neither (curl, a
    script with the token) passes this check and relies on the token and CSRF cookie.
    """
    source = origin if origin and origin != "null" else referer
    if origin == "null":
        return False
    if not source:
        return True
    if not host:
        return False
    return urlsplit(source).netloc.lower() == host.lower()
