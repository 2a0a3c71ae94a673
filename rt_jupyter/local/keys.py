"""API keys of the local service: which standard keys it accepts, ephemeral keys it mints (single
use, bounded in number and size per owner), and the per-key limit on concurrent sessions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import KeyMintError, RealtimeError
from ..protocol import Dialect, ids

__all__ = ["AuthError", "EphemeralKey", "KeyLimitError", "KeyStore", "Principal", "mask_key"]

#: Beta ephemeral keys live one minute and open one session.
BETA_KEY_TTL = 60
GA_KEY_TTL_DEFAULT = 600
GA_KEY_TTL_RANGE = (10, 7200)
#: Unused, unexpired ephemeral keys one owner (standard key) may hold at once; the store's limit.
MAX_LIVE_KEYS_PER_OWNER = 64
MAX_LIVE_KEYS = 1024
#: The largest session configuration (JSON bytes) an ephemeral key holds.
MAX_KEY_SESSION_BYTES = 256 * 1024


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


class KeyLimitError(AuthError, KeyMintError):
    """A mint the store refuses (a session too large, too many live keys): an
    :class:`AuthError` for the service's REST routes, a :class:`~rt_jupyter.errors.KeyMintError`
    for the kernel's and the server extension's minting."""

    def __init__(self, message: str, *, status: int, code: str) -> None:
        RealtimeError.__init__(self, message)
        self.message = message
        self.status = status
        self.code = code
        self.hint = None

    def to_json(self) -> dict[str, Any]:
        """The OpenAI REST error body."""
        return AuthError.to_json(self)


@dataclass
class EphemeralKey:
    """A short-lived client secret bound to a session configuration; ``single_use`` keys open one
    session (the default, as OpenAI's ephemeral keys). A call opened with it is controlled
    (hang-up, sideband) by this key or by its ``owner``, never by another ephemeral key."""

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

    def controls(self, opener: Principal) -> bool:
        """Whether this caller may hang up or attach to a call ``opener`` started: the same
        ephemeral key, or the standard key that is (or minted) its owner. Two keys minted by one
        owner cannot reach each other's calls."""
        if self.ephemeral is not None:
            return opener.ephemeral is self.ephemeral
        return opener.owner == self.owner


class KeyStore:
    """Accepted standard keys, minted ephemeral keys, and open sessions per owner."""

    def __init__(
        self,
        accept: Callable[[str], bool] | Iterable[str] | None = None,
        *,
        allow_standard_keys: bool = True,
        max_sessions_per_key: int | None = None,
        single_use_keys: bool = True,
        max_live_keys_per_owner: int = MAX_LIVE_KEYS_PER_OWNER,
        max_live_keys: int = MAX_LIVE_KEYS,
        max_key_session_bytes: int = MAX_KEY_SESSION_BYTES,
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
        self.single_use_keys = single_use_keys
        self.max_live_keys_per_owner = max_live_keys_per_owner
        self.max_live_keys = max_live_keys
        self.max_key_session_bytes = max_key_session_bytes
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
        """A new ephemeral key (``ek_…``) for ``session``; beta keys last 60 s; keys open one
        session unless the store says otherwise (``single_use_keys``). :class:`KeyLimitError`
        400 for a session over ``max_key_session_bytes``, 429 beyond the unused, unexpired keys
        allowed (a key that opened its session no longer counts)."""
        self._expire()
        size = len(json.dumps(session, default=str))
        if size > self.max_key_session_bytes:
            self.refusals += 1
            raise KeyLimitError(
                f"The session configuration is too large: {size} bytes, the limit is "
                f"{self.max_key_session_bytes}.",
                status=400,
                code="request_too_large",
            )
        now = self.clock()
        live = [k for k in self._ephemeral.values() if k.expires_at >= now and not k.used]
        mine = sum(1 for k in live if k.owner == owner)
        if mine >= self.max_live_keys_per_owner or len(live) >= self.max_live_keys:
            self.refusals += 1
            raise KeyLimitError(
                f"Too many unused ephemeral keys ({mine} for this key, {len(live)} in all; "
                f"the limits are {self.max_live_keys_per_owner} and {self.max_live_keys}). "
                "Use the keys you have, or wait until they expire.",
                status=429,
                code="rate_limit_exceeded",
            )
        if dialect is Dialect.BETA:
            ttl_s, single = BETA_KEY_TTL, True
        else:
            ttl_s = ttl if ttl is not None else GA_KEY_TTL_DEFAULT
            single = self.single_use_keys
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

    def authenticate(
        self, key: str | None, *, allow_standard: bool = True, opening: bool = True
    ) -> Principal:
        """The caller behind ``key``, or :class:`AuthError` (401) saying what is wrong.
        ``opening=False``: not to open a session (hang-up, sideband), which a used key may do."""
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
            if opening and ek.single_use and ek.used:
                self.refusals += 1
                raise AuthError(
                    "The ephemeral key was already used: an ephemeral key opens one session; "
                    "mint a new one.",
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
        """Count a new session for the owner, or :class:`AuthError`: 401 for a used single-use
        key, 429 over the limit."""
        ek = principal.ephemeral
        if ek is not None and ek.single_use and ek.used:
            self.refusals += 1
            raise AuthError(
                "The ephemeral key was already used: an ephemeral key opens one session; "
                "mint a new one.",
                code="invalid_api_key",
            )
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
