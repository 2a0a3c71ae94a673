"""API keys of the local service: which standard keys it accepts, ephemeral keys it mints, and the
per-key limit on concurrent sessions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RealtimeError
from ..protocol import Dialect, ids

__all__ = ["AuthError", "EphemeralKey", "KeyStore", "Principal", "mask_key"]

#: Beta ephemeral keys live one minute and open one session.
BETA_KEY_TTL = 60
GA_KEY_TTL_DEFAULT = 600
GA_KEY_TTL_RANGE = (10, 7200)


def mask_key(key: str) -> str:
    """A key as it may appear in a message: ``sk-ab...yz`` (never the whole key)."""
    if len(key) <= 8:
        return "***"
    return f"{key[:4]}***{key[-2:]}"


class AuthError(RealtimeError):
    """The local service refuses the credentials; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 401, code: str = "invalid_api_key") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def to_json(self) -> dict[str, Any]:
        """The OpenAI REST error body."""
        error_type = "invalid_request_error" if self.status != 429 else "rate_limit_error"
        return {
            "error": {
                "message": self.message,
                "type": error_type,
                "param": None,
                "code": self.code,
            }
        }


@dataclass
class EphemeralKey:
    """A short-lived client secret bound to a session configuration."""

    value: str
    expires_at: float
    session: dict[str, Any]
    dialect: Dialect
    owner: str
    single_use: bool = False
    used: bool = False
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``owner`` is what the concurrency limit counts (the standard key, or the
    standard key that minted the ephemeral key)."""

    owner: str
    ephemeral: EphemeralKey | None = None


class KeyStore:
    """Accepted standard keys, minted ephemeral keys, and open sessions per owner."""

    def __init__(
        self,
        accept: Callable[[str], bool] | Iterable[str] | None = None,
        *,
        allow_standard_keys: bool = True,
        max_sessions_per_key: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if accept is None:
            self._accept: Callable[[str], bool] = lambda k: k.startswith("sk-") and len(k) > 3
        elif callable(accept):
            self._accept = accept
        else:
            allowed = frozenset(accept)
            self._accept = allowed.__contains__
        self.allow_standard_keys = allow_standard_keys
        self.max_sessions_per_key = max_sessions_per_key
        self.clock = clock
        self._ephemeral: dict[str, EphemeralKey] = {}
        self._open: dict[str, int] = {}
        self.refusals = 0

    # --- minting ---------------------------------------------------------------------------------

    def mint(
        self,
        session: Mapping[str, Any],
        *,
        owner: str,
        dialect: Dialect = Dialect.GA,
        ttl: int | None = None,
    ) -> EphemeralKey:
        """A new ephemeral key (``ek_…``) for ``session``; beta keys last 60 s, single use."""
        self._expire()
        if dialect is Dialect.BETA:
            ttl_s, single = BETA_KEY_TTL, True
        else:
            ttl_s, single = (ttl if ttl is not None else GA_KEY_TTL_DEFAULT), False
        key = EphemeralKey(
            value=ids.ephemeral_key(),
            expires_at=self.clock() + ttl_s,
            session=dict(session),
            dialect=dialect,
            owner=owner,
            single_use=single,
        )
        self._ephemeral[key.value] = key
        return key

    def _expire(self) -> None:
        now = self.clock()
        for value in [v for v, k in self._ephemeral.items() if k.expires_at < now - 60]:
            del self._ephemeral[value]

    # --- checking --------------------------------------------------------------------------------

    def authenticate(self, key: str | None, *, allow_standard: bool = True) -> Principal:
        """The caller behind ``key``, or :class:`AuthError` (401) saying what is wrong."""
        if not key:
            self.refusals += 1
            raise AuthError(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code="missing_api_key",
            )
        if key.startswith("ek_"):
            ek = self._ephemeral.get(key)
            if ek is None:
                self.refusals += 1
                raise AuthError(f"Incorrect API key provided: {mask_key(key)}.")
            if ek.expires_at < self.clock():
                self.refusals += 1
                raise AuthError(
                    "The ephemeral key has expired; mint a new one.", code="expired_api_key"
                )
            if ek.single_use and ek.used:
                self.refusals += 1
                raise AuthError(
                    "The ephemeral key was already used (beta keys open one session).",
                    code="invalid_api_key",
                )
            return Principal(owner=ek.owner, ephemeral=ek)
        if not (self.allow_standard_keys and allow_standard):
            self.refusals += 1
            raise AuthError(
                "This endpoint accepts ephemeral keys only (ek_...): mint one first.",
                code="invalid_api_key",
            )
        if not self._accept(key):
            self.refusals += 1
            raise AuthError(f"Incorrect API key provided: {mask_key(key)}.")
        return Principal(owner=key)

    def consume(self, principal: Principal) -> None:
        """Mark a single-use (beta) ephemeral key as used."""
        if principal.ephemeral is not None and principal.ephemeral.single_use:
            principal.ephemeral.used = True

    # --- concurrency -----------------------------------------------------------------------------

    def open_session(self, principal: Principal) -> None:
        """Count a new session for the owner, or :class:`AuthError` (429) over the limit."""
        count = self._open.get(principal.owner, 0)
        limit = self.max_sessions_per_key
        if limit is not None and count >= limit:
            self.refusals += 1
            raise AuthError(
                f"Too many concurrent sessions for this key: {count} open, the limit is {limit}. "
                "Close a session first.",
                status=429,
                code="concurrent_sessions_limit_exceeded",
            )
        self._open[principal.owner] = count + 1
        self.consume(principal)

    def close_session(self, principal: Principal) -> None:
        """Release a session counted by :meth:`open_session`."""
        count = self._open.get(principal.owner, 0) - 1
        if count > 0:
            self._open[principal.owner] = count
        else:
            self._open.pop(principal.owner, None)

    def open_sessions(self, owner: str | None = None) -> int:
        """Open sessions for one owner, or in all."""
        return self._open.get(owner, 0) if owner is not None else sum(self._open.values())
