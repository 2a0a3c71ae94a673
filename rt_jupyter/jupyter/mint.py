"""Ephemeral keys for the browser: minted upstream (OpenAI or a compatible service) with the
server-side key, or directly from a local service's key store. Shared by the Jupyter server
extension and the widget's kernel fallback.

Only :class:`BrowserToken` (an ``ek_…`` value, its expiry, the model, the dialect and where to send
the SDP offer) ever leaves this module; the standard key never appears in a result, an error or a
log line (:func:`scrub` removes anything key-like from upstream messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import logging
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..config import Settings, credential_hint, local_provider, scrub
from ..errors import KeyMintError
from ..protocol import Dialect, ProtocolError, validate_session
from ..protocol.dialects import session_to_beta
from ..protocol.errors import bounded, error_from_http
from ..protocol.session import deep_merge

__all__ = [
    "AUDIT_LOGGER",
    "EXTENSION_ENV",
    "HUB_SERVICE_ENV",
    "KERNEL_RATE_LIMIT",
    "POLICY_FIELDS",
    "BrowserToken",
    "MintError",
    "MintPolicy",
    "RateLimiter",
    "apply_policy",
    "audit_line",
    "build_session",
    "check_policy",
    "kernel_mint",
    "mint_for_page",
    "mint_local",
    "mint_remote",
    "mint_via_hub",
    "scrub",
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
    #: Who serves the call (``Provider.log_fields``: name, layout, model, runs); the widget logs
    #: it with ``rt.call_started`` so the frames price the call as that provider's.
    provider: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON body returned to the browser."""
        out: dict[str, Any] = {
            "value": self.value,
            "expires_at": self.expires_at,
            "model": self.model,
            "dialect": self.dialect,
            "sdp_url": self.sdp_url,
            "upstream": self.upstream,
        }
        if self.provider is not None:
            out["provider"] = dict(self.provider)
        return out


MintError = KeyMintError
"""A refused or failed mint (the same class as :class:`rt_jupyter.errors.KeyMintError`)."""

#: Set in the Jupyter server's environment while the rt_jupyter extension is loaded; kernels the
#: server starts inherit it, and their kernel mint then refuses to mint with the server's key.
EXTENSION_ENV = "RT_JUPYTER_SERVER_EXTENSION"

#: Set by a JupyterHub admin (``c.Spawner.environment``) in users' servers: the URL of the
#: ``rt-jupyter hub-service`` that holds the key; the server mints through it with its
#: ``$JUPYTERHUB_API_TOKEN`` (:func:`mint_via_hub`).
HUB_SERVICE_ENV = "RT_JUPYTER_HUB_SERVICE_URL"

#: One line per mint attempt (user, model, dialect, outcome; never a key).
AUDIT_LOGGER = "rt_jupyter.audit"
_audit = logging.getLogger(AUDIT_LOGGER)
log = logging.getLogger(__name__)
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$")

#: The session fields an administrator's policy pins or caps (``c.RealtimeExtension.policy``).
POLICY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "instructions_prefix": str,
    "allowed_tools": list,
    "voice": str,
    "max_output_tokens": int,
    "transcription_model": str,
}


def check_policy(policy: Mapping[str, Any]) -> dict[str, Any]:
    """``policy`` checked (known fields, types); raises ``ValueError`` naming the bad field."""
    out: dict[str, Any] = {}
    for name, value in policy.items():
        kind = POLICY_FIELDS.get(name)
        if kind is None:
            raise ValueError(f"policy: unknown field {name!r}; known: {sorted(POLICY_FIELDS)}")
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"policy: {name!r} must be a {getattr(kind, '__name__', kind)}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ValueError("policy: 'allowed_tools' must be a list of tool names")
        if isinstance(value, int) and not 1 <= value <= 4096:
            raise ValueError("policy: 'max_output_tokens' must be 1-4096")
        out[name] = list(value) if isinstance(value, list) else value
    return out


def apply_policy(session: dict[str, Any], policy: Mapping[str, Any]) -> dict[str, Any]:
    """Pin or cap ``session`` (GA shape, in place) by ``policy``, *after* the browser's settings:
    the instructions start with ``instructions_prefix``; tools outside ``allowed_tools`` are
    refused (:class:`MintError` 400); ``voice`` and ``transcription_model`` replace the browser's;
    ``max_output_tokens`` caps it (``"inf"`` or a larger number becomes the cap)."""
    prefix = policy.get("instructions_prefix")
    if prefix:
        own = session.get("instructions")
        session["instructions"] = f"{prefix}\n\n{own}" if isinstance(own, str) and own else prefix
    allowed = policy.get("allowed_tools")
    if allowed is not None:
        names = [
            str(tool.get("name")) if isinstance(tool, Mapping) else repr(tool)
            for tool in session.get("tools") or []
        ]
        refused = [name for name in names if name not in allowed]
        if refused:
            raise MintError(
                400,
                f"Tool(s) {refused} are not allowed on this server; allowed: {list(allowed)}.",
                code="tool_not_allowed",
                hint="An administrator sets c.RealtimeExtension.policy['allowed_tools'].",
            )
    audio = session.get("audio") if isinstance(session.get("audio"), dict) else None
    if "voice" in policy:
        audio = session.setdefault("audio", {}) if audio is None else audio
        output = audio.setdefault("output", {})
        if isinstance(output, dict):
            output["voice"] = policy["voice"]
    if "transcription_model" in policy and audio is not None:
        inp = audio.get("input")
        if isinstance(inp, dict) and isinstance(inp.get("transcription"), dict):
            inp["transcription"]["model"] = policy["transcription_model"]
    cap = policy.get("max_output_tokens")
    if cap is not None:
        own = session.get("max_output_tokens")
        if not isinstance(own, int) or isinstance(own, bool) or own > cap:
            session["max_output_tokens"] = cap
    return session


@dataclass(frozen=True)
class MintPolicy:
    """What a mint may ask for, the same for the server extension and the kernel fallback:
    the default model, ``allowed_models``, ``default_session`` (under the browser's settings) and
    ``policy`` (over them, :func:`apply_policy`)."""

    default_model: str
    allowed_models: tuple[str, ...] = ()
    default_session: Mapping[str, Any] = field(default_factory=dict)
    policy: Mapping[str, Any] = field(default_factory=dict)

    def model(self, requested: Any) -> str:
        """The model to mint for, checked against ``allowed_models`` (:class:`MintError` 400)."""
        if requested in (None, ""):
            model = self.default_model
        elif not isinstance(requested, str) or not _MODEL_NAME.match(requested):
            raise MintError(
                400, f"'model' must be a model name, got {requested!r}.", code="invalid_model"
            )
        else:
            model = requested
        if self.allowed_models and model not in self.allowed_models:
            allowed = ", ".join(self.allowed_models)
            raise MintError(
                400,
                f"The model {model!r} is not allowed on this server; allowed: {allowed}.",
                code="model_not_allowed",
                hint="Pick one of the allowed models, or ask an administrator to add it to "
                "c.RealtimeExtension.allowed_models.",
            )
        return model

    def check(self, body: Any) -> tuple[str, dict[str, Any]]:
        """The model and GA session to mint for a request body ``{"model"?, "session"?}``."""
        if not isinstance(body, Mapping):
            raise MintError(400, "The request body must be a JSON object.", code="invalid_json")
        unknown = sorted(set(body) - {"model", "session"})
        if unknown:
            raise MintError(
                400,
                f"Unknown field(s) {unknown}: send {{'model': ..., 'session': {{...}}}}.",
                code="unknown_parameter",
            )
        model = self.model(body.get("model"))
        session = build_session(
            body.get("session"),
            model=model,
            default_session=self.default_session,
            policy=self.policy,
        )
        return model, session


class RateLimiter:
    """At most ``limit`` mints per ``window`` seconds per identity. The table holds at most
    ``max_identities`` identities: expired ones are dropped first, and when every slot holds an
    identity with mints inside the window a *new* identity is refused (never an active one
    forgotten, so no flood of identities can reset anyone's count)."""

    def __init__(self, limit: int, *, window: float = 60.0, max_identities: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_identities = max_identities
        self._recent: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._recent)

    def check(self, identity: str, now: float | None = None) -> None:
        """Count a mint for ``identity``; :class:`MintError` 429 beyond the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = self._recent.get(identity)
            if recent is None:
                if len(self._recent) >= self.max_identities:
                    self._prune(now)
                if len(self._recent) >= self.max_identities:
                    raise MintError(
                        429,
                        "Too many users are requesting session keys right now; try again in a "
                        "minute.",
                        code="rate_limited",
                    )
                recent = self._recent[identity] = deque()
            self._recent.move_to_end(identity)
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            if len(recent) >= self.limit:
                retry = max(1, int(self.window - (now - recent[0])) + 1)
                raise MintError(
                    429,
                    f"Too many session keys requested: {len(recent)} in the last minute, the "
                    f"limit is {self.limit}. Try again in {retry} s.",
                    code="rate_limited",
                    hint="An administrator can raise c.RealtimeExtension.mint_rate_limit.",
                )
            recent.append(now)

    def _prune(self, now: float) -> None:
        for identity in [i for i, r in self._recent.items() if not r or r[-1] <= now - self.window]:
            del self._recent[identity]


def _safe(text: str) -> str:
    """One token for the audit line (no spaces or newlines)."""
    return re.sub(r"[^\w@.:\-+]", "_", text)[:120] or "-"


def audit_line(
    *, user: str, model: str, dialect: str, upstream: str, outcome: str, status: int, via: str
) -> None:
    """Write one audit line (never a key) to :data:`AUDIT_LOGGER`."""
    _audit.info(
        "mint user=%s model=%s dialect=%s upstream=%s via=%s time=%s outcome=%s status=%d",
        _safe(user),
        _safe(model),
        dialect,
        upstream,
        via,
        _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        outcome,
        status,
    )


def _host(base_url: str) -> str:
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


def build_session(
    requested: Any,
    *,
    model: str,
    default_session: Mapping[str, Any] | None = None,
    policy: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The GA session to mint: ``default_session``, then the browser's ``requested`` settings,
    then ``policy`` (:func:`apply_policy`), with ``type`` and ``model`` set. Raises
    :class:`MintError` (400) for an invalid or refused session."""
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
    if policy:
        apply_policy(session, policy)
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
        sdp_url=local_provider(base_url).sdp_url(chosen, model),
        upstream="local",
        provider=local_provider(base_url).log_fields(model),
    )


#: A transport error's text for the browser (scrubbed, then cut): a line, not a page.
TRANSPORT_ERROR_CHARS = 300


def short_error_text(text: str, api_key: str | None) -> str:
    """A transport error's text for the browser: scrubbed first, then cut to
    :data:`TRANSPORT_ERROR_CHARS`."""
    return bounded(text, [api_key], TRANSPORT_ERROR_CHARS)


async def _fetch(request: Any, secret: str, unreachable: Callable[[str], MintError]) -> Any:
    """The response to ``request`` (tornado's client, any status); a transport failure raises
    ``unreachable(reason)``, the reason scrubbed of ``secret`` and cut."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(request, raise_error=False)
    except HTTPClientError as exc:  # pragma: no cover - raise_error=False returns most errors
        raise unreachable(short_error_text(str(exc), secret)) from None
    except (OSError, TimeoutError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise unreachable(short_error_text(str(reason), secret)) from None
    finally:
        client.close()
    if response.code == 599:
        raise unreachable(short_error_text(str(response.error or "no response"), secret))
    return response


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


#: Upstream statuses that mean "not this shape here" when the dialect is found out.
_NOT_THIS_SHAPE = (400, 404, 405, 410, 422)


async def mint_remote(
    *,
    settings: Settings,
    session: Mapping[str, Any],
    model: str,
    ttl: int,
    dialect: Dialect | None = None,
    timeout: float = 20.0,
    key_hint: str | None = None,
) -> BrowserToken:
    """Mint an ephemeral key at ``settings``' provider with its credential (its URL layout and
    auth style: :class:`~rt_jupyter.protocol.providers.Provider`): GA ``POST
    …/realtime/client_secrets``, beta ``POST …/realtime/sessions``, Azure preview ``POST
    …/openai/realtimeapi/sessions?api-version=``. With ``settings.dialect_auto`` (and no
    ``dialect``) GA is tried first, then beta; the token says which answered.

    Raises :class:`MintError`: 401 (credential refused, with ``key_hint``), 429, 400 (session
    refused), 502 (unreachable or failing upstream, or neither shape). Messages never contain
    the credential. Redirects are not followed (the credential goes to the provider only).
    """
    hint = key_hint or credential_hint(settings) + "."
    if dialect is not None or not settings.dialect_auto:
        return await _mint_once(
            settings, session, model, ttl, dialect or settings.dialect, timeout, hint
        )
    answers: list[str] = []
    for chosen in (Dialect.GA, Dialect.BETA):
        try:
            return await _mint_once(settings, session, model, ttl, chosen, timeout, hint)
        except MintError as exc:
            if exc.code not in ("upstream_rejected", "upstream_error", "upstream_bad_response"):
                raise
            answers.append(f"{chosen.value}: {exc}")
    raise MintError(
        502,
        f"The realtime service at {settings.service.host} answered neither the GA nor the beta "
        f"shape ({'; '.join(answers)}).",
        code="upstream_shape_unknown",
        hint="Check the base URL, or set the dialect ('ga' or 'beta') if you know it.",
    )


async def _mint_once(
    settings: Settings,
    session: Mapping[str, Any],
    model: str,
    ttl: int,
    dialect: Dialect,
    timeout: float,
    key_hint: str,
) -> BrowserToken:
    from tornado.httpclient import HTTPRequest

    provider = settings.service
    try:
        url = provider.mint_url(dialect)
        sdp = provider.sdp_url(dialect, model)  # before the key is spent: a missing region...
    except ValueError as exc:
        raise MintError(500, str(exc), code="provider_misconfigured") from None
    shape = provider.mint_dialect(dialect)
    host = provider.host
    secret = settings.secret()
    headers = provider.request_headers(shape, secret)
    headers["Content-Type"] = "application/json"
    if shape is Dialect.BETA:
        body: dict[str, Any] = session_to_beta({k: v for k, v in session.items() if k != "type"})
        body["model"] = model
    else:
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
        follow_redirects=False,
    )
    response = await _fetch(
        request,
        secret,
        lambda reason: MintError(
            502,
            f"Could not reach the realtime service at {host} ({reason}). Check the base URL and "
            "the network.",
            code="upstream_unreachable",
        ),
    )
    if response.code >= 300:
        raise _upstream_error(
            response.code, response.body or b"", host=host, api_key=secret, key_hint=key_hint
        )
    try:
        data = json.loads(response.body or b"")
        if shape is Dialect.BETA:
            client_secret = data["client_secret"]
            value, expires_at = str(client_secret["value"]), int(client_secret["expires_at"])
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
    if provider.layout.value.startswith("azure"):
        got_model = model  # Azure answers with the model, but calls are made to the deployment
    return BrowserToken(
        value=value,
        expires_at=expires_at,
        model=got_model,
        dialect=dialect.value,
        sdp_url=provider.sdp_url(dialect, got_model) if got_model != model else sdp,
        upstream="remote",
        provider=provider.log_fields(got_model),
    )


def _provider_fields(value: Any) -> dict[str, str] | None:
    """The ``provider`` of a hub service's answer, kept only if it is a small string mapping."""
    if not isinstance(value, Mapping):
        return None
    fields = {
        k: v[:200]
        for k, v in value.items()
        if k in ("name", "layout", "model", "runs") and isinstance(v, str)
    }
    return fields or None


async def mint_via_hub(
    *, service_url: str, hub_token: str, body: Mapping[str, Any], timeout: float = 20.0
) -> BrowserToken:
    """Mint through the JupyterHub service at ``service_url`` (``rt-jupyter hub-service``) as the
    Hub user who owns ``hub_token`` (the server's ``$JUPYTERHUB_API_TOKEN``): ``POST
    {service_url}api/session`` with the browser's body. The service's refusals come back as
    :class:`MintError` with its status (400, 401, 403, 429, 502, 503), message and hint."""
    from tornado.httpclient import HTTPRequest

    url = service_url.rstrip("/") + "/api/session"
    host = _host(service_url)
    request = HTTPRequest(
        url,
        method="POST",
        headers={"Authorization": f"token {hub_token}", "Content-Type": "application/json"},
        body=json.dumps(dict(body)),
        connect_timeout=min(timeout, 10.0),
        request_timeout=timeout,
        follow_redirects=False,
    )
    response = await _fetch(
        request,
        hub_token,
        lambda reason: MintError(
            502,
            f"Could not reach the JupyterHub rt-jupyter service at {host} ({reason}).",
            code="hub_service_unreachable",
            hint=f"An administrator checks ${HUB_SERVICE_ENV} and that the service runs.",
        ),
    )
    raw = response.body or b""
    if response.code != 200:
        error = error_from_http(response.code, raw, secrets=[hub_token])
        hint: str | None = None
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            given = json.loads(raw)["error"].get("hint")
            if isinstance(given, str) and given:
                hint = bounded(given, [hub_token], TRANSPORT_ERROR_CHARS)
        status = response.code if response.code in (400, 401, 403, 429, 503) else 502
        message = error["message"] or f"HTTP {response.code}"
        raise MintError(
            status,
            f"The JupyterHub rt-jupyter service refused the session key: {message}",
            code=str(error.get("code") or "hub_service_error")[:60],
            hint=hint,
        )
    try:
        data = json.loads(raw)
        token = BrowserToken(
            value=str(data["value"]),
            expires_at=int(data["expires_at"]),
            model=str(data["model"]),
            dialect=Dialect.parse(str(data["dialect"])).value,
            sdp_url=str(data["sdp_url"]),
            upstream="local" if data.get("upstream") == "local" else "remote",
            provider=_provider_fields(data.get("provider")),
        )
    except (ValueError, KeyError, TypeError):
        raise MintError(
            502,
            f"The JupyterHub rt-jupyter service at {host} answered with something that is not a "
            "session key.",
            code="hub_service_bad_response",
        ) from None
    return token


#: The kernel's own limit on mints (the server extension's default, 30 a minute).
KERNEL_RATE_LIMIT = 30
_kernel_limiter = RateLimiter(KERNEL_RATE_LIMIT)


def kernel_mint(body: Mapping[str, Any]) -> BrowserToken:
    """Mint an ephemeral key in the kernel (no server extension): upstream with the kernel's
    ``OPENAI_API_KEY``, or from the kernel's own local service when no key is set.

    The request goes through the same :class:`~rt_jupyter.jupyter.mint.MintPolicy`, rate limit
    (:data:`KERNEL_RATE_LIMIT` a minute) and audit line as the server extension's. A kernel
    started by a Jupyter server with the rt_jupyter extension loaded (``RT_JUPYTER_SERVER_
    EXTENSION`` in its environment) refuses to mint with the key: the extension's endpoint, with
    the administrator's policy, is the way to a key there."""
    import os

    from ..config import resolve_settings
    from ..errors import ConfigurationError

    try:
        settings = resolve_settings()
    except ConfigurationError as exc:
        raise MintError(500, str(exc), code="provider_misconfigured") from None
    upstream = "local" if settings.local else "remote"
    requested = body.get("model")
    shown = requested if isinstance(requested, str) and requested else settings.model

    def audit(outcome: str, status: int) -> None:
        audit_line(
            user="kernel",
            model=str(shown),
            dialect=settings.dialect.value,
            upstream=upstream,
            outcome=outcome,
            status=status,
            via="kernel",
        )

    try:
        if not settings.local and os.environ.get(EXTENSION_ENV):
            raise MintError(
                403,
                "This kernel's Jupyter server runs the rt_jupyter extension, which mints the "
                "session keys (with its model, session and rate-limit policy); the kernel does "
                "not mint with the server's API key.",
                code="kernel_mint_refused",
                hint="Reload the page so the widget asks the server extension for its key.",
            )
        model, session = MintPolicy(default_model=settings.model).check(
            {k: v for k, v in body.items() if v is not None}
        )
        _kernel_limiter.check("kernel")
        if settings.local:
            from ..local.default import resolve_endpoint

            endpoint = resolve_endpoint(settings)
            token = mint_local(
                endpoint.keys,
                base_url=endpoint.settings.base_url,
                session=session,
                model=model,
                dialect=endpoint.settings.dialect,
                ttl=600,
                owner=str(endpoint.api_key),
            )
        else:
            token = asyncio.run(
                mint_remote(
                    settings=settings,
                    session=session,
                    model=model,
                    ttl=600,
                    key_hint=f"{credential_hint(settings)} in the kernel's environment.",
                )
            )
    except MintError as exc:
        audit(exc.code, exc.status)
        raise
    audit("minted", 200)
    return token


def mint_for_page(content: Mapping[str, Any], reply: Callable[[dict[str, Any]], Any]) -> None:
    """Answer a page's ``mint`` request (``{"id", "model", "session"}``) with
    :func:`kernel_mint` on a worker thread (it may wait on the network for
    ``upstream_timeout``): ``reply`` gets ``{"type": "minted", "id", "ok": True, "token"}`` or
    ``{"type": "minted", "id", "ok": False, "status", "error"}`` with a bounded message that
    holds no key. ``reply`` is called on that thread."""
    from .browser import bounded_message

    request_id = content.get("id")
    body = {"model": content.get("model"), "session": content.get("session")}

    def work() -> None:
        message: dict[str, Any]
        try:
            token = kernel_mint(body)
            message = {"type": "minted", "id": request_id, "ok": True, "token": token.to_json()}
        except MintError as exc:
            message = {
                "type": "minted",
                "id": request_id,
                "ok": False,
                "status": exc.status,
                "error": {**exc.to_json()["error"], "message": bounded_message(exc.message)},
            }
        except Exception as exc:
            log.exception("minting a key in the kernel failed")
            message = {
                "type": "minted",
                "id": request_id,
                "ok": False,
                "status": 500,
                "error": {
                    "message": bounded_message(
                        f"The kernel could not get a session key: {type(exc).__name__}: {exc}"
                    ),
                    "code": "kernel_mint_failed",
                },
            }
        reply(message)

    threading.Thread(target=work, name="rt-jupyter-mint", daemon=True).start()
