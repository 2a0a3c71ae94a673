"""The jupyter-server extension: mints ephemeral keys for the voice widget and, when no API key is
configured, serves the local realtime service inside the Jupyter server (same origin).

Routes (under the server's ``base_url``):

* ``POST rt-jupyter/session`` — Jupyter auth + XSRF. Body ``{"model"?: str, "session"?: {...}}``
  (a GA session). Answers ``{"value": "ek_…", "expires_at", "model", "dialect", "sdp_url",
  "upstream"}``; errors are ``{"error": {"message", "code", "hint"?}}`` with 400 (bad session or
  model), 401 (upstream refused the server's key), 429 (rate limit), 502 (upstream unreachable).
* ``GET rt-jupyter/status`` — Jupyter auth. Mode, model, dialect, ``key_configured`` (a boolean)
  and counters.
* ``rt-jupyter/local/v1/…`` — only without a key: the local service's REST/WebRTC routes, which
  accept only the ephemeral keys minted above (no standard key, no anonymous caller), behind
  Jupyter's Host and Origin checks; ``rt-jupyter/local/health`` needs a Jupyter login.

On JupyterHub, with ``$RT_JUPYTER_HUB_SERVICE_URL`` set (``c.RealtimeExtension.hub_service_url``),
the server holds no key: ``rt-jupyter/session`` forwards the browser's body to the Hub's
``rt-jupyter hub-service`` with the server's ``$JUPYTERHUB_API_TOKEN`` (so the service knows the Hub
user) and returns its answer or its refusal (e.g. 429 with the quota's reason).

Every mint (this endpoint and the widget's kernel fallback) goes through one
:class:`~rt_jupyter.jupyter.mint.MintPolicy` (``allowed_models``, ``default_session`` under the
browser's settings, ``policy`` over them), one rate limiter per identity and one audit line.

Configuration (``c.RealtimeExtension.*``) with environment fallbacks: see
:class:`RealtimeExtension`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import os
import re
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.http1connection import HTTP1Connection
from traitlets import (
    Bool,
    CaselessStrEnum,
    Dict,
    Float,
    Int,
    List,
    TraitError,
    Unicode,
    Union,
    default,
    validate,
)
from traitlets.config import LoggingConfigurable

from ..config import SECRET_ENV, credential_hint, resolve_settings
from ..errors import ConfigurationError
from ..local.asr_pool import RECOGNISERS, check_language
from ..local.session import VOICE_ENGINES, EngineSettings
from ..protocol import Dialect
from .mint import (
    AUDIT_LOGGER,
    EXTENSION_ENV,
    HUB_SERVICE_ENV,
    BrowserToken,
    MintError,
    MintPolicy,
    RateLimiter,
    audit_line,
    check_policy,
    mint_local,
    mint_remote,
    mint_via_hub,
    scrub,
    short_error_text,
)

__all__ = [
    "AUDIT_LOGGER",
    "EXTENSION_ENV",
    "RealtimeExtension",
    "load_extension",
    "unload_extension",
]

audit = logging.getLogger(AUDIT_LOGGER)
_log = logging.getLogger(__name__)

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$")
_SETTINGS_KEY = "rt_jupyter_extension"


class RealtimeExtension(LoggingConfigurable):
    """Settings and state of the rt_jupyter server extension (``c.RealtimeExtension.…``)."""

    api_key = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Standard OpenAI API key used to mint ephemeral keys (never sent to browsers and "
        "never logged). Default: $OPENAI_API_KEY, then $NEW_API_KEY. Without a key the local "
        "realtime service is served inside this Jupyter server.",
    )
    base_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="REST base URL of the realtime service. Default: $OPENAI_BASE_URL, then "
        "https://api.openai.com/v1.",
    )
    model = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Default realtime model. Default: $RT_JUPYTER_MODEL, then gpt-realtime.",
    )
    dialect = CaselessStrEnum(
        ["ga", "beta", "auto"],
        default_value=None,
        allow_none=True,
        config=True,
        help="Protocol dialect of the upstream service: 'ga' (OpenAI today), 'beta', or 'auto' "
        "(the first mint tries GA, then beta). Default: $RT_JUPYTER_DIALECT, then 'ga' ('beta' "
        "for Azure's preview API).",
    )
    provider = Union(
        [Unicode(), Dict()],
        default_value=None,
        allow_none=True,
        config=True,
        help="The realtime provider: 'openai', 'azure', 'gateway', or a dict with 'name', "
        "'base_url'/'endpoint', 'layout' ('openai', 'azure-v1', 'azure-preview'), 'auth' "
        "('bearer', 'api-key', 'token'), 'api_version', 'headers' (sent upstream, never to "
        "browsers), 'webrtc_url' or 'region'. Default: $RT_JUPYTER_PROVIDER, else Azure when "
        "$AZURE_OPENAI_ENDPOINT is set without an OpenAI key, else OpenAI. Azure reads "
        "$AZURE_OPENAI_ENDPOINT, $AZURE_OPENAI_API_KEY (or an Entra ID token through "
        "azure-identity), $OPENAI_API_VERSION and $AZURE_OPENAI_REGION.",
    )
    default_session = Dict(
        config=True,
        help="GA session settings applied to every minted key before the browser's own settings "
        "(e.g. {'instructions': '...'}).",
    )
    policy = Dict(
        config=True,
        help="Session fields pinned or capped AFTER the browser's settings, for every key minted "
        "(GA and beta): 'instructions_prefix' (str, put before the browser's instructions), "
        "'allowed_tools' (tool names; other tools are refused), 'voice' (str, replaces the "
        "browser's), 'max_output_tokens' (int cap), 'transcription_model' (str, replaces the "
        "browser's when transcription is on).",
    )
    ephemeral_ttl = Int(
        600,
        min=10,
        max=7200,
        config=True,
        help="Lifetime of minted ephemeral keys in seconds (10-7200).",
    )
    allowed_models = List(
        Unicode(),
        config=True,
        help="Models browsers may request; requests for others get HTTP 400. Empty: any model.",
    )
    mint_rate_limit = Int(
        30,
        min=1,
        config=True,
        help="Ephemeral keys one user may mint per minute (HTTP 429 beyond).",
    )
    upstream_timeout = Float(
        20.0, min=1.0, config=True, help="Seconds to wait for the upstream mint request."
    )
    local_engines = CaselessStrEnum(
        ["default", "text"],
        default_value="default",
        config=True,
        help="Engines of the mounted local service: 'default' (offline VAD, speech recognition "
        "and voice, loaded on the first mint) or 'text' (the responder only).",
    )
    local_ice_host = Unicode(
        "127.0.0.1",
        config=True,
        help="Address the mounted local service offers as its WebRTC ICE candidate.",
    )
    preload_engines = Bool(
        False, config=True, help="Load the local engines at server start instead of first mint."
    )
    local_asr = CaselessStrEnum(
        list(RECOGNISERS),
        default_value=None,
        allow_none=True,
        config=True,
        help="Speech recogniser of the mounted local service: 'auto' (Whisper when the asr extra "
        "loads, else pocketsphinx), 'whisper' or 'pocketsphinx'. Default: $RT_JUPYTER_ASR or "
        "auto.",
    )
    local_asr_model = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Whisper model of the mounted local service: a faster-whisper model name ('base' "
        "is read offline from the asr-base extra) or a model directory. Default: "
        "$RT_JUPYTER_ASR_MODEL or the bundled tiny.en.",
    )
    local_asr_workers = Int(
        None,
        allow_none=True,
        min=1,
        config=True,
        help="Recogniser processes of the mounted local service. Default: "
        "$RT_JUPYTER_ASR_WORKERS or the CPU cores this server may use (its affinity and "
        "container quota) - 1, at least 1.",
    )
    local_asr_batch = Int(
        None,
        allow_none=True,
        min=1,
        config=True,
        help="At most this many waiting utterances transcribed together (1: one at a time). "
        "Default: $RT_JUPYTER_ASR_BATCH or 8.",
    )
    local_asr_language = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Language (ISO-639-1) of utterances whose session names none, or 'auto' to detect "
        "it per utterance. Default: $RT_JUPYTER_ASR_LANGUAGE or en.",
    )
    local_voice_engine = CaselessStrEnum(
        list(VOICE_ENGINES),
        default_value=None,
        allow_none=True,
        config=True,
        help="Voice of the mounted local service: 'espeak', 'piper' (the voice extra's natural "
        "voice) or 'auto' (Piper when installed). Default: $RT_JUPYTER_VOICE_ENGINE or espeak.",
    )
    hub_service_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="URL of the JupyterHub service that holds the key (rt-jupyter hub-service, e.g. "
        "http://127.0.0.1:10101/services/rt-jupyter/): keys are minted there with this "
        "server's $JUPYTERHUB_API_TOKEN, and no key is used or served here. Default: "
        f"${HUB_SERVICE_ENV}; '' turns it off.",
    )
    hide_key_from_kernels = Bool(
        False,
        config=True,
        help="Remove OPENAI_API_KEY and NEW_API_KEY from this server's environment once the "
        "extension has read the key, so kernels started afterwards do not inherit it. A "
        "convenience, not a boundary: a kernel runs as the same user and can still read the "
        "server's initial environment (/proc/<pid>/environ) or its config files; on a shared "
        "deployment keep the key out of users' servers altogether.",
    )

    @validate("allowed_models")
    def _check_models(self, proposal: Any) -> list[str]:
        for name in proposal["value"]:
            if not _MODEL_NAME.match(name):
                raise ValueError(f"allowed_models: {name!r} is not a model name")
        return list(proposal["value"])

    @validate("local_asr_language")
    def _check_language(self, proposal: Any) -> str | None:
        value = proposal["value"]
        try:
            check_language(value)
        except ValueError as exc:
            raise TraitError(f"local_asr_language: {exc}") from None
        return value  # type: ignore[no-any-return]

    @validate("local_asr_model")
    def _check_asr_model(self, proposal: Any) -> str | None:
        value = proposal["value"]
        if value is not None and not value.strip():
            raise TraitError("local_asr_model is blank: name a model, or leave it unset (None)")
        return value  # type: ignore[no-any-return]

    @validate("policy")
    def _check_policy(self, proposal: Any) -> dict[str, Any]:
        return check_policy(proposal["value"])

    @default("policy")
    def _default_policy(self) -> dict[str, Any]:
        return {}

    @default("default_session")
    def _default_session(self) -> dict[str, Any]:
        return {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config_error = ""
        try:
            settings = resolve_settings(
                api_key=self.api_key,
                base_url=self.base_url,
                model=self.model,
                dialect=self.dialect,
                provider=self.provider,
            )
        except ConfigurationError as exc:  # mints say so; the server still starts
            self.config_error = str(exc)
            self.log.error("rt_jupyter: %s", exc)
            settings = resolve_settings(local=True, provider="openai")
        self._settings = settings
        self._api_key: str | None = settings.api_key
        self.resolved_base_url = settings.base_url
        self.resolved_model = settings.model
        self.resolved_dialect = settings.dialect
        self.local = settings.local
        self.found_dialect = ""
        hub = self.hub_service_url
        self.hub_url = (os.environ.get(HUB_SERVICE_ENV, "") if hub is None else hub).strip()
        self._hub_token = os.environ.get("JUPYTERHUB_API_TOKEN") or None
        if self.hub_url:  # the Hub's service holds the key: none is used here
            self._api_key = None
            self.local = False
        self.counts: Counter[str] = Counter()
        self.limiter = RateLimiter(self.mint_rate_limit)
        self.local_state: Any = None
        self.local_base_url = ""
        self._engines_future: asyncio.Future[Any] | None = None
        self.engines_status = "not loaded" if self.local else "not used"

    # --- the mounted local service ---------------------------------------------------------------

    def mount_local(self, base_url: str) -> list[tuple[str, Any, dict[str, Any]]]:
        """Routes of the local service under ``{base_url}rt-jupyter/local``; only ephemeral keys
        minted by :meth:`mint` open sessions there."""
        from ..local.handlers import ServiceState, make_handlers
        from ..local.keys import KeyStore
        from ..local.session import Engines

        prefix = url_path_join(base_url, "rt-jupyter/local")
        self.local_state = ServiceState(
            keys=KeyStore(lambda key: False, allow_standard_keys=False),
            engines=Engines(),
            cors=False,
            allow_standard_keys=False,
            default_model=self.resolved_model,
            ice_host=self.local_ice_host,
        )
        self.local_base_url = url_path_join(prefix, "v1")
        return [guarded(route) for route in make_handlers(self.local_state, prefix=prefix)]

    def engine_settings(self) -> EngineSettings:
        """The mounted local service's engine settings: ``local_asr*`` and
        ``local_voice_engine``, each unset one from the environment (see
        :meth:`~rt_jupyter.local.session.EngineSettings.resolve`)."""
        return EngineSettings.resolve(
            asr=self.local_asr,
            asr_model=self.local_asr_model,
            asr_workers=self.local_asr_workers,
            asr_batch=self.local_asr_batch,
            asr_language=self.local_asr_language,
            voice_engine=self.local_voice_engine,
        )

    def _engine_settings_status(self) -> dict[str, Any]:
        """The engine settings for the status (``{"error": ...}`` when the environment holds a
        bad one; ``{"text_only": True}`` with ``local_engines = "text"``): what ``check()`` in a
        kernel loads to test what this server's service hears."""
        if self.local_engines == "text":
            return {"text_only": True}
        try:
            return dataclasses.asdict(self.engine_settings())
        except ValueError as exc:
            return {"error": str(exc)}

    async def ensure_engines(self) -> None:
        """Load the local service's engines once, in a worker thread."""
        if self.local_state is None or self.engines_status == "ready":
            return
        if self._engines_future is None:
            from ..local.handlers import load_engines
            from ..local.session import Engines

            loop = asyncio.get_running_loop()

            def offline() -> Engines:  # (in the worker thread: a bad setting fails the load)
                return Engines.from_settings(self.engine_settings())

            factory = Engines if self.local_engines == "text" else offline
            self.engines_status = "loading"
            self._engines_future = loop.run_in_executor(None, load_engines, factory)
        try:
            engines = await asyncio.shield(self._engines_future)
        except Exception as exc:
            self._engines_future = None
            self.engines_status = f"failed: {type(exc).__name__}"
            self.log.error("rt_jupyter: loading the local engines failed: %r", exc)
            raise MintError(
                503,
                "The local realtime service could not load its speech engines "
                f"({type(exc).__name__}: {short_error_text(str(exc), self._api_key)}).",
                code="local_engines_unavailable",
                hint="Install rt_jupyter with its dependencies, or configure an API key "
                "(c.RealtimeExtension.api_key) to use OpenAI instead.",
            ) from None
        self.local_state.engines = engines
        self.engines_status = "ready"

    async def close(self) -> None:
        """Hang up the local service's calls and close its sessions (server shutdown)."""
        state = self.local_state
        if state is None:
            return
        for call in list(state.calls.values()):
            try:
                await call.hangup()
            except Exception:  # shutting down anyway
                self.log.debug("rt_jupyter: hangup failed at shutdown", exc_info=True)
        for session in list(state.sessions):
            session.close(1001, "server stopping")
        state.sessions.clear()
        state.engines.close()  # (the recogniser's worker processes)

    # --- minting ---------------------------------------------------------------------------------

    @property
    def key_configured(self) -> bool:
        """Whether a standard API key is configured (never the key itself)."""
        return bool(self._api_key) or (
            self._settings.token_provider is not None and not self.hub_url
        )

    def check_rate(self, user: str, now: float | None = None) -> None:
        """Count a mint for ``user``; :class:`MintError` 429 beyond ``mint_rate_limit``/minute."""
        self.limiter.limit = self.mint_rate_limit
        self.limiter.check(user, now)

    @property
    def mint_policy(self) -> MintPolicy:
        """The policy every mint goes through (the kernel fallback uses the same class)."""
        return MintPolicy(
            default_model=self.resolved_model,
            allowed_models=tuple(self.allowed_models),
            default_session=self.default_session,
            policy=self.policy,
        )

    def choose_model(self, requested: Any) -> str:
        """The model to mint for: the request's or the default, checked against
        ``allowed_models``."""
        return self.mint_policy.model(requested)

    async def mint(self, body: Any, user: str) -> BrowserToken:
        """Check the request and mint a key for ``user`` (local store or upstream), or forward
        it to the JupyterHub service, which checks it as the Hub user of this server."""
        if self.hub_url:
            return await self.mint_through_hub(body)
        if self.config_error:
            raise MintError(
                500,
                f"rt_jupyter's provider settings are wrong: {self.config_error}",
                code="provider_misconfigured",
                hint="An administrator fixes c.RealtimeExtension.provider or the server's "
                "environment.",
            )
        model, session = self.mint_policy.check(body)
        self.check_rate(user)
        if self.local:
            from ..local.default import ServiceRef, resolve_endpoint

            await self.ensure_engines()
            state = self.local_state
            assert state is not None
            endpoint = resolve_endpoint(
                self._settings,
                service=lambda: ServiceRef(self.local_base_url, state.keys),
                local_key=None,  # the mounted service takes ephemeral keys only
            )
            return mint_local(
                endpoint.keys,
                base_url=endpoint.settings.base_url,
                session=session,
                model=model,
                dialect=endpoint.settings.dialect,
                ttl=self.ephemeral_ttl,
                owner=f"jupyter:{user}",
            )
        return await self.mint_upstream(model, session)

    async def mint_through_hub(self, body: Any) -> BrowserToken:
        """Forward the browser's request to the hub service with this server's Hub token."""
        if not self._hub_token:
            raise MintError(
                503,
                f"${HUB_SERVICE_ENV} is set but $JUPYTERHUB_API_TOKEN is not: this server was not "
                "started by JupyterHub, so it cannot mint through the Hub's service.",
                code="hub_token_missing",
                hint=f"Unset {HUB_SERVICE_ENV} outside JupyterHub.",
            )
        if not isinstance(body, dict):
            raise MintError(400, "The request body must be a JSON object.", code="invalid_json")
        return await mint_via_hub(
            service_url=self.hub_url,
            hub_token=self._hub_token,
            body=body,
            timeout=self.upstream_timeout,
        )

    async def mint_upstream(self, model: str, session: dict[str, Any]) -> BrowserToken:
        """Mint a checked ``session`` upstream with the standard key."""
        token = await mint_remote(
            settings=self._settings,
            session=session,
            model=model,
            ttl=self.ephemeral_ttl,
            timeout=self.upstream_timeout,
            key_hint=f"{credential_hint(self._settings)} on the Jupyter server "
            "(c.RealtimeExtension.api_key or the server's environment).",
        )
        if self._settings.dialect_auto:  # found out once: later mints go straight there
            found = Dialect.parse(token.dialect)
            self._settings = dataclasses.replace(self._settings.chosen(found), dialect_auto=False)
            self.resolved_dialect = found
            self.found_dialect = found.value
            host = self._settings.service.host
            self.log.info("rt_jupyter: %s speaks the %s dialect", host, found)
        return token

    def record(self, user: str, model: str, outcome: str, status: int) -> None:
        """Count the outcome and write one audit line (never a key)."""
        self.counts["requests"] += 1
        if outcome == "minted":
            self.counts["minted"] += 1
        else:
            self.counts["refused"] += 1
            self.counts[f"refused.{outcome}"] += 1
        audit_line(
            user=user,
            model=model,
            dialect=self.resolved_dialect.value,
            upstream=self.mode,
            outcome=outcome,
            status=status,
            via="server",
        )

    @property
    def mode(self) -> str:
        """Where keys come from: ``"hub"`` (the Hub's service), ``"local"`` or ``"remote"``."""
        return "hub" if self.hub_url else "local" if self.local else "remote"

    def status(self) -> dict[str, Any]:
        """The ``rt-jupyter/status`` body."""
        state = self.local_state
        refused = {
            k.split(".", 1)[1]: v for k, v in self.counts.items() if k.startswith("refused.")
        }
        out: dict[str, Any] = {
            "mode": self.mode,
            "dialect": self.resolved_dialect.value,
            "dialect_auto": bool(self._settings.dialect_auto or self.found_dialect),
            "provider": self._settings.service.name,
            "provider_shape": self._settings.service.layout.value,
            "provider_auth": self._settings.service.auth.value,
            "model": self.resolved_model,
            "key_configured": self.key_configured,
            "allowed_models": list(self.allowed_models),
            "ephemeral_ttl": self.ephemeral_ttl,
            "mint_rate_limit": self.mint_rate_limit,
            "counts": {
                "requests": self.counts["requests"],
                "minted": self.counts["minted"],
                "refused": self.counts["refused"],
                "refused_by_reason": refused,
            },
        }
        if state is not None:
            out["local"] = {
                "engines": self.engines_status,
                "engines_summary": state.engines.summary if self.engines_status == "ready" else "",
                "engine_settings": self._engine_settings_status(),
                "sessions": len(state.sessions),
                "calls": len(state.calls),
                "key_refusals": state.keys.refusals,
            }
        else:
            out["upstream_host"] = urlsplit(self.hub_url or self.resolved_base_url).hostname
        if self.config_error:
            out["config_error"] = self.config_error
        return out


# --- handlers ------------------------------------------------------------------------------------


class _Handler(APIHandler):
    @property
    def extension(self) -> RealtimeExtension:
        ext: RealtimeExtension = self.settings[_SETTINGS_KEY]
        return ext

    def user_name(self) -> str:
        """Who is asking, for the rate limit and the audit line: the identity provider's user
        name, except that Jupyter's anonymous users are one identity, "anonymous".

        jupyter_server gives a token or password login (and a token request, and a request with
        a junk login cookie) a fresh random user each time (``generate_anonymous_user``): all
        of them hold the server's one secret, so they are one principal, whatever cookies the
        request carries."""
        return identity_of(self.current_user)


def identity_of(user: Any) -> str:
    """The rate-limit identity of a jupyter_server ``User``: ``"anonymous"`` for the random
    users ``IdentityProvider.generate_anonymous_user`` makes, else the user name."""
    username = str(getattr(user, "username", None) or getattr(user, "name", None) or user)
    name = str(getattr(user, "name", "") or "")
    if _ANON_ID.match(username) and name.startswith("Anonymous "):
        return "anonymous"
    return username


_ANON_ID = re.compile(r"^[0-9a-f]{32}$")


#: The largest mint request body, in bytes: a session's settings (instructions, tools), far under
#: the 64 MiB Jupyter's server reads for any request.
MAX_MINT_BODY = 1 << 20


@web.stream_request_body
class SessionHandler(_Handler):
    """``POST rt-jupyter/session``: an ephemeral key for the authenticated user.

    The body is streamed and capped at :data:`MAX_MINT_BODY` bytes (413 beyond), so a request
    cannot make the server hold tens of megabytes."""

    _answered = False

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        self._body = bytearray()
        connection = self.request.connection
        if isinstance(connection, HTTP1Connection):  # chunked bodies too
            connection.set_max_body_size(MAX_MINT_BODY)
        length = self.request.headers.get("Content-Length", "")
        if self.current_user and length.isdigit() and int(length) > MAX_MINT_BODY:
            self._answered = True
            self.extension.record(self.user_name(), "-", "body_too_large", 413)
            self.set_status(413)
            self.finish(
                MintError(
                    413,
                    f"The request body is {int(length):,} bytes; a session key request takes at "
                    f"most {MAX_MINT_BODY:,}.",
                    code="body_too_large",
                    hint="Send shorter instructions or fewer tools.",
                ).to_json()
            )

    def data_received(self, chunk: bytes) -> None:
        self._body.extend(chunk)

    @web.authenticated
    async def post(self) -> None:
        ext = self.extension
        user = self.user_name()
        model = "-"
        self.request.body = bytes(self._body)
        try:
            try:
                body = self.get_json_body()
            except UnicodeDecodeError:
                raise MintError(
                    400, "The request body is not valid UTF-8 JSON.", code="invalid_json"
                ) from None
            if isinstance(body, dict) and isinstance(body.get("model"), str):
                model = body["model"]
            token = await ext.mint(body if body is not None else {}, user)
        except MintError as exc:
            self._answered = True
            reason = exc.code
            ext.record(user, model if model != "-" else ext.resolved_model, reason, exc.status)
            self.set_status(exc.status)
            if exc.status == 429:
                self.set_header("Retry-After", "60")
            self.finish(exc.to_json())
            return
        except web.HTTPError as exc:
            self._answered = True
            ext.record(user, ext.resolved_model, "invalid_request", exc.status_code)
            raise
        except Exception as exc:  # never a traceback page, never a key in the log
            self._answered = True
            self.log.error(
                "rt_jupyter: minting a key failed: %s: %s",
                type(exc).__name__,
                scrub(str(exc), [ext._api_key]),
            )
            ext.record(user, ext.resolved_model, "server_error", 500)
            self.set_status(500)
            self.finish(
                MintError(
                    500,
                    "The Jupyter server failed to get a session key; see its log.",
                    code="server_error",
                ).to_json()
            )
            return
        self._answered = True
        ext.record(user, token.model, "minted", 200)
        self.set_header("Cache-Control", "no-store")
        self.finish(token.to_json())

    def on_finish(self) -> None:
        status = self.get_status()
        if not self._answered and status in (401, 403):
            ext = self.settings.get(_SETTINGS_KEY)
            if ext is not None:
                ext.record("-", "-", "unauthenticated", status)


class StatusHandler(_Handler):
    """``GET rt-jupyter/status``: mode, dialect, model, whether a key is set, counters."""

    @web.authenticated
    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(self.extension.status())


# --- the mounted local service behind Jupyter's checks -----------------------------------------


def _host_allowed(handler: web.RequestHandler) -> bool:
    """jupyter_server's ``check_host``: unless ``allow_remote_access``, the Host header must be
    a loopback address or one of ``local_hostnames`` (no DNS rebinding)."""
    settings = handler.settings
    if settings.get("allow_remote_access", False):
        return True
    match = re.match(r"^(.*?)(:\d+)?$", handler.request.host or "")
    host = match.group(1) if match else ""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in settings.get("local_hostnames", ["localhost"])


def _origin_allowed(handler: web.RequestHandler) -> bool:
    """jupyter_server's ``check_origin``: no Origin (a script), the same host, or one the server
    allows (``allow_origin``, ``allow_origin_pat``)."""
    origin = handler.request.headers.get("Origin")
    host = handler.request.headers.get("Host")
    if origin is None or host is None:
        return True
    allow_origin = handler.settings.get("allow_origin", "")
    if allow_origin == "*" or urlsplit(origin.lower()).netloc == host.lower():
        return True
    if allow_origin:
        return bool(allow_origin == origin)
    pattern = handler.settings.get("allow_origin_pat")
    return bool(pattern and re.match(pattern, origin))


class _JupyterChecks:
    """Mixed into every mounted local-service handler: a request with a foreign Host, or from a
    foreign Origin, is refused (403) before the handler looks at its key."""

    def prepare(self) -> Any:
        handler: web.RequestHandler = self  # type: ignore[assignment]
        if not _host_allowed(handler):
            _log.warning(
                "rt_jupyter: refused a local-service request for Host %r (not local; "
                "ServerApp.allow_remote_access allows it)",
                handler.request.host,
            )
            raise web.HTTPError(403, "Host not allowed")
        if not _origin_allowed(handler):
            _log.warning(
                "rt_jupyter: refused a local-service request from Origin %r",
                handler.request.headers.get("Origin"),
            )
            raise web.HTTPError(403, "Origin not allowed")
        return super().prepare()  # type: ignore[misc]


def guarded(route: tuple[str, Any, dict[str, Any]]) -> tuple[str, Any, dict[str, Any]]:
    """A local-service route behind Jupyter's checks: ``/health`` needs a Jupyter login (it has
    no key to check); the key-authenticated routes get the Host and Origin checks."""
    from ..local.handlers import HealthHandler

    pattern, cls, kwargs = route
    if issubclass(cls, HealthHandler):
        return pattern, _Health, kwargs
    return pattern, type(f"Jupyter{cls.__name__}", (_JupyterChecks, cls), {}), kwargs


class _Health(APIHandler):
    """``GET rt-jupyter/local/health`` with Jupyter's login, Host and Origin checks."""

    def initialize(self, state: Any) -> None:
        self.state = state

    @web.authenticated
    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(
            {
                "status": "ok",
                "sessions": len(self.state.sessions),
                "calls": len(self.state.calls),
                "refusals": self.state.keys.refusals,
            }
        )


class _ForwardToServerLog(logging.Handler):
    def __init__(self, target: logging.Logger) -> None:
        super().__init__(logging.INFO)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        # a propagating server log shares the root handlers, which see the record anyway
        if not self.target.propagate and self.target.isEnabledFor(record.levelno):
            self.target.handle(record)


def load_extension(serverapp: Any) -> RealtimeExtension:
    """Register the handlers (and the local service when no key is configured)."""
    ext = RealtimeExtension(parent=serverapp, log=serverapp.log)
    web_app = serverapp.web_app
    base_url = web_app.settings.get("base_url", "/")
    web_app.settings[_SETTINGS_KEY] = ext
    os.environ[EXTENSION_ENV] = "1"  # inherited by the kernels this server starts
    if ext.hide_key_from_kernels:
        for name in SECRET_ENV:  # kernels started from now on do not inherit the key
            os.environ.pop(name, None)
    handlers: list[Any] = [
        (url_path_join(base_url, "rt-jupyter/session"), SessionHandler),
        (url_path_join(base_url, "rt-jupyter/status"), StatusHandler),
    ]
    if ext.local:
        handlers.extend(ext.mount_local(base_url))
    web_app.add_handlers(".*$", handlers)
    audit.setLevel(logging.INFO)
    if not any(isinstance(h, _ForwardToServerLog) for h in audit.handlers):
        audit.addHandler(_ForwardToServerLog(serverapp.log))
    if ext.local:
        where = "the local realtime service (no API key configured)"
        if ext.preload_engines:
            asyncio.get_event_loop().create_task(_preload(ext))
    elif ext.hub_url:
        where = f"the JupyterHub service at {ext.hub_url}"
    else:
        where = f"{ext.status().get('upstream_host')} ({ext.resolved_dialect.value})"
    serverapp.log.info("rt_jupyter: voice widget keys from %s at %srt-jupyter/", where, base_url)
    return ext


async def _preload(ext: RealtimeExtension) -> None:
    with contextlib.suppress(MintError):
        await ext.ensure_engines()


async def unload_extension(serverapp: Any) -> None:
    """Close the mounted local service's calls and sessions."""
    ext = serverapp.web_app.settings.get(_SETTINGS_KEY)
    os.environ.pop(EXTENSION_ENV, None)
    if isinstance(ext, RealtimeExtension):
        await ext.close()
    for handler in list(audit.handlers):
        if isinstance(handler, _ForwardToServerLog):
            audit.removeHandler(handler)
