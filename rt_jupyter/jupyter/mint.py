"""Ephemeral keys for the browser: minted upstream (OpenAI or a compatible service) with the
server-side key, or directly from a local service's key store. Shared by the Jupyter server
extension and the widget's kernel fallback.

Only :class:`BrowserToken` (an ``ek_…`` value, its expiry, the model, the dialect and where to send
the SDP offer) ever leaves this module; the standard key never appears in a result, an error or a
log line (:func:`scrub` removes anything key-like from upstream messages).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..config import scrub
from ..errors import KeyMintError
from ..protocol import Dialect, ProtocolError, validate_session
from ..protocol.dialects import session_to_beta
from ..protocol.errors import error_from_http
from ..protocol.session import deep_merge

__all__ = [
    "BrowserToken",
    "MintError",
    "build_session",
    "mint_local",
    "mint_remote",
    "scrub",
    "sdp_url",
]


@dataclass(frozen=True)
class BrowserToken:
    """What the browser needs to open a WebRTC call: never a standard key."""

    value: str = field(repr=False)
    expires_at: int
    model: str
    dialect: str  # "ga" | "beta"
    sdp_url: str
    upstream: str  # "local" | "remote"

    def to_json(self) -> dict[str, Any]:
        """The JSON body returned to the browser."""
        return {
            "value": self.value,
            "expires_at": self.expires_at,
            "model": self.model,
            "dialect": self.dialect,
            "sdp_url": self.sdp_url,
            "upstream": self.upstream,
        }


MintError = KeyMintError
"""A refused or failed mint (the same class as :class:`rt_jupyter.errors.KeyMintError`)."""


def _host(base_url: str) -> str:
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


def sdp_url(base_url: str, dialect: Dialect | str, model: str) -> str:
    """Where the browser POSTs its SDP offer: GA ``{base}/realtime/calls``, beta
    ``{base}/realtime?model=…``."""
    from urllib.parse import quote

    base = base_url.rstrip("/")
    if Dialect.parse(dialect) is Dialect.BETA:
        return f"{base}/realtime?model={quote(model, safe='')}"
    return f"{base}/realtime/calls"


def build_session(
    requested: Any, *, model: str, default_session: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The GA session to mint: ``default_session``, then the browser's ``requested`` settings,
    with ``type`` and ``model`` set. Raises :class:`MintError` (400) for an invalid session."""
    if requested is None:
        requested = {}
    if not isinstance(requested, Mapping):
        raise MintError(400, "'session' must be a JSON object.", code="invalid_session")
    session: dict[str, Any] = deep_merge({}, default_session or {})
    deep_merge(session, {k: v for k, v in requested.items() if k != "model"})
    session["type"] = str(session.get("type") or "realtime")
    if session["type"] != "realtime":
        raise MintError(
            400,
            f"session.type {session['type']!r} is not supported here: the widget opens "
            "'realtime' sessions.",
            code="invalid_session",
        )
    session["model"] = model
    try:
        validate_session(session, Dialect.GA)
    except ProtocolError as exc:
        raise MintError(
            400, f"Invalid session: {exc.message}", code=exc.code or "invalid_session"
        ) from None
    return session


def mint_local(
    keys: Any,
    *,
    base_url: str,
    session: Mapping[str, Any],
    model: str,
    dialect: Dialect | str,
    ttl: int,
    owner: str,
) -> BrowserToken:
    """Mint directly from a local service's :class:`~rt_jupyter.local.keys.KeyStore`;
    ``base_url`` is the service's REST base as the browser reaches it (e.g. ``/rt-jupyter/local/v1``
    or ``http://127.0.0.1:PORT/v1``)."""
    chosen = Dialect.parse(dialect)
    key = keys.mint(dict(session), owner=owner, dialect=chosen, ttl=ttl)
    return BrowserToken(
        value=key.value,
        expires_at=int(key.expires_at),
        model=model,
        dialect=chosen.value,
        sdp_url=sdp_url(base_url, chosen, model),
        upstream="local",
    )


def _upstream_error(
    status: int, body: bytes, *, host: str, api_key: str, key_hint: str
) -> MintError:
    message = error_from_http(status, body, secrets=[api_key])["message"]
    detail = f": {message}" if message else ""
    if status in (401, 403):
        return MintError(
            401,
            f"The realtime service at {host} rejected the server's API key (HTTP {status}){detail}",
            code="upstream_auth",
            hint=key_hint,
        )
    if status == 429:
        return MintError(
            429,
            f"The realtime service at {host} is rate limiting this key (HTTP 429){detail}",
            code="upstream_rate_limited",
            hint="Wait a little and connect again.",
        )
    if 400 <= status < 500:
        return MintError(
            400,
            f"The realtime service at {host} refused the session (HTTP {status}){detail}",
            code="upstream_rejected",
        )
    return MintError(
        502,
        f"The realtime service at {host} failed (HTTP {status}){detail}",
        code="upstream_error",
    )


async def mint_remote(
    *,
    base_url: str,
    api_key: str,
    session: Mapping[str, Any],
    model: str,
    dialect: Dialect | str,
    ttl: int,
    timeout: float = 20.0,
    key_hint: str = "Check the API key configured for rt_jupyter.",
) -> BrowserToken:
    """Mint an ephemeral key upstream with tornado's ``AsyncHTTPClient``: GA
    ``POST {base}/realtime/client_secrets`` or beta ``POST {base}/realtime/sessions``.

    Raises :class:`MintError`: 401 (key refused, with ``key_hint``), 429, 400 (session refused),
    502 (unreachable or failing upstream). Messages never contain the key.
    """
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

    chosen = Dialect.parse(dialect)
    base = base_url.rstrip("/")
    host = _host(base)
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    if chosen is Dialect.BETA:
        url = f"{base}/realtime/sessions"
        body: dict[str, Any] = session_to_beta({k: v for k, v in session.items() if k != "type"})
        body["model"] = model
        headers["OpenAI-Beta"] = "realtime=v1"
    else:
        url = f"{base}/realtime/client_secrets"
        body = {
            "expires_after": {"anchor": "created_at", "seconds": int(ttl)},
            "session": dict(session),
        }
    request = HTTPRequest(
        url,
        method="POST",
        headers=headers,
        body=json.dumps(body),
        connect_timeout=min(timeout, 10.0),
        request_timeout=timeout,
    )
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(request, raise_error=False)
    except HTTPClientError as exc:  # pragma: no cover - raise_error=False returns most errors
        raise MintError(
            502,
            f"Could not reach the realtime service at {host}: {scrub(str(exc), [api_key])}",
            code="upstream_unreachable",
        ) from None
    except (OSError, TimeoutError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise MintError(
            502,
            f"Could not reach the realtime service at {host} ({scrub(str(reason), [api_key])}). "
            "Check the base URL and the network.",
            code="upstream_unreachable",
        ) from None
    finally:
        client.close()
    if response.code == 599:
        reason = scrub(str(response.error or "no response"), [api_key])
        raise MintError(
            502,
            f"Could not reach the realtime service at {host} ({reason}). Check the base URL and "
            "the network.",
            code="upstream_unreachable",
        )
    if response.code >= 300:
        raise _upstream_error(
            response.code, response.body or b"", host=host, api_key=api_key, key_hint=key_hint
        )
    try:
        data = json.loads(response.body or b"")
        if chosen is Dialect.BETA:
            secret = data["client_secret"]
            value, expires_at = str(secret["value"]), int(secret["expires_at"])
            got_model = str(data.get("model") or model)
        else:
            value, expires_at = str(data["value"]), int(data["expires_at"])
            got_model = str((data.get("session") or {}).get("model") or model)
    except (ValueError, KeyError, TypeError):
        raise MintError(
            502,
            f"The realtime service at {host} answered the mint request with something that is "
            "not a client secret.",
            code="upstream_bad_response",
        ) from None
    return BrowserToken(
        value=value,
        expires_at=expires_at,
        model=got_model,
        dialect=chosen.value,
        sdp_url=sdp_url(base, chosen, got_model),
        upstream="remote",
    )
