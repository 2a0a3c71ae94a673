"""Providers: where a realtime service lives and how it is called (stdlib only).

A :class:`Provider` is a description, not a code path: base URL, URL layout, auth style,
api-version, extra headers and (Azure's preview API) the regional WebRTC URL. Every URL and
header the client, the widget's mint and the server extension use comes from here.

URL layouts (checked against Microsoft's docs and the ``openai`` SDK 3.63):

* ``openai`` — OpenAI and compatible gateways, under a REST base such as
  ``https://api.openai.com/v1``: GA ``POST {base}/realtime/client_secrets``, beta ``POST
  {base}/realtime/sessions``; WebSocket ``{base}/realtime?model=``; WebRTC GA ``POST
  {base}/realtime/calls``, beta ``POST {base}/realtime?model=``.
* ``azure-v1`` — Azure OpenAI's v1 API, the same paths under ``{endpoint}/openai/v1``
  (learn.microsoft.com, azure/ai-foundry/openai/how-to/realtime-audio-webrtc: "POST
  https://{resource}.openai.azure.com/openai/v1/realtime/client_secrets" with an api-key or an
  Entra ID token, then "…/openai/v1/realtime/calls" with the ephemeral key; the WebSocket is
  ``wss://{resource}.openai.azure.com/openai/v1/realtime?model={deployment}``). The model is the
  deployment name. The v1 API takes no api-version.
* ``azure-preview`` — Azure's dated preview API (how-to/realtime-audio-webrtc-legacy and
  realtime-audio-websockets): WebSocket ``{endpoint}/openai/realtime?api-version=…&deployment=…``
  (the ``openai`` SDK's ``AzureOpenAI.realtime.connect`` builds exactly this, in
  ``openai/lib/azure.py`` ``_configure_realtime``); ephemeral keys from ``POST
  {endpoint}/openai/realtimeapi/sessions?api-version=…`` (beta body and answer:
  ``{"model": deployment, ...}`` → ``{"client_secret": {"value", "expires_at"}}``); WebRTC ``POST
  https://{region}.realtimeapi-preview.ai.azure.com/v1/realtimertc?model={deployment}`` with the
  ephemeral key. It speaks the beta shape for WebRTC; its WebSocket serves either (the SDK sends
  no ``OpenAI-Beta`` header and gets GA).

Auth styles: ``bearer`` (``Authorization: Bearer <key>``: OpenAI, gateways, and Azure's v1 API
also accepts it), ``api-key`` (Azure's ``api-key: <key>`` header) and ``token`` (``Authorization:
Bearer <token>`` from a callable, e.g. azure-identity's ``get_bearer_token_provider``, asked for
each connection and mint so it is refreshed before it expires).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from .dialects import Dialect
from .session import DEFAULT_MODEL

__all__ = [
    "AZURE_PREVIEW_API_VERSION",
    "AZURE_SCOPE",
    "DEFAULT_BETA_MODEL",
    "AuthStyle",
    "Layout",
    "Provider",
    "ProviderError",
    "azure_webrtc_url",
    "default_model",
    "is_dated_api_version",
    "redact_url",
    "session_shape",
]

#: The default model of the beta dialect (the beta API's schema never listed ``gpt-realtime``).
DEFAULT_BETA_MODEL = "gpt-4o-realtime-preview-2024-12-17"
#: The preview API version Microsoft's WebRTC docs name for the realtime API.
AZURE_PREVIEW_API_VERSION = "2025-04-01-preview"
#: The Entra ID scope of Azure OpenAI (Cognitive Services) tokens.
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"

_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
#: Headers a provider description may not set: auth and the dialect header come from the rules.
_RESERVED = {"authorization", "api-key", "openai-beta", "host", "content-length", "cookie"}


class ProviderError(ValueError):
    """A provider description that cannot work (the message says what to set)."""


class Layout(StrEnum):
    """How a provider's URLs are built."""

    OPENAI = "openai"
    AZURE_V1 = "azure-v1"
    AZURE_PREVIEW = "azure-preview"


class AuthStyle(StrEnum):
    """How the credential is sent."""

    BEARER = "bearer"
    API_KEY = "api-key"
    TOKEN = "token"


def is_dated_api_version(value: str | None) -> bool:
    """Whether ``value`` is a dated Azure api-version (``2025-04-01-preview``): the preview API.
    ``None``, ``"v1"``, ``"latest"`` and ``"preview"`` mean the v1 API."""
    return bool(value) and bool(_DATED.match(str(value)))


def azure_webrtc_url(region: str) -> str:
    """The preview API's regional WebRTC URL (``eastus2``, ``swedencentral``...)."""
    if not re.match(r"^[a-z0-9]{2,40}$", region):
        raise ProviderError(f"region={region!r}: use an Azure region name such as 'eastus2'")
    return f"https://{region}.realtimeapi-preview.ai.azure.com/v1/realtimertc"


def default_model(dialect: Dialect) -> str:
    """The model used when none is configured: ``gpt-realtime`` (GA) or
    :data:`DEFAULT_BETA_MODEL` (beta)."""
    return DEFAULT_BETA_MODEL if dialect is Dialect.BETA else DEFAULT_MODEL


def session_shape(session: Mapping[str, Any]) -> Dialect | None:
    """Which dialect a ``session.created`` session object is in, or ``None`` if neither: GA
    sessions carry ``type`` (``"realtime"``/``"transcription"``) and ``audio``; beta ones
    ``modalities`` or ``input_audio_format`` and no ``type``."""
    if session.get("type") in ("realtime", "transcription"):
        return Dialect.GA
    if "modalities" in session or "input_audio_format" in session or "voice" in session:
        return Dialect.BETA
    return None


#: Query parameters that carry a credential (Azure's ``api-key``, ``key``, ``token``...).
_SECRET_PARAM = re.compile(r"key|token|secret|auth|password|signature|sig$", re.IGNORECASE)


def _credential_in_url(url: str) -> str | None:
    """What credential ``url`` carries (a password, a key-like query parameter), or ``None``."""
    parts = urlsplit(url)
    if parts.password:
        return "a password"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_PARAM.search(name):
            return f"the query parameter {name!r}"
    return None


def redact_url(url: str) -> str:
    """``url`` with the value of every credential-like query parameter (``api-key``, ``token``...)
    replaced by ``[secret]``: what a log may show of a request URL."""
    path, sep, query = url.partition("?")
    if not sep:
        return url
    parts = []
    for part in query.split("&"):
        name, eq, _ = part.partition("=")
        parts.append(f"{name}{eq}[secret]" if eq and _SECRET_PARAM.search(unquote(name)) else part)
    return f"{path}?{'&'.join(parts)}"


def _ws(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class Provider:
    """One realtime service: ``name`` (``openai``, ``azure``, ``gateway``, ``local``),
    ``base_url`` (the REST base for the ``openai`` layout, the resource endpoint for Azure),
    ``layout``, ``auth``, ``api_version`` (Azure preview), ``headers`` (sent with every request
    from the server side, never to the browser) and ``webrtc_url`` (Azure preview)."""

    name: str
    base_url: str
    layout: Layout = Layout.OPENAI
    auth: AuthStyle = AuthStyle.BEARER
    api_version: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())
    webrtc_url: str | None = None
    deployments: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        same_origin = self.name == "local" and self.base_url.startswith("/")  # a mounted service
        if not same_origin and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ProviderError(
                f"base_url={self.base_url!r}: use an http(s) URL such as "
                "'https://api.openai.com/v1' or 'https://NAME.openai.azure.com'"
            )
        if self.layout is Layout.AZURE_PREVIEW and not is_dated_api_version(self.api_version):
            raise ProviderError(
                f"api_version={self.api_version!r}: Azure's preview API needs a dated version "
                f"such as {AZURE_PREVIEW_API_VERSION!r} (or use the v1 API: layout 'azure-v1')"
            )
        for url in (self.base_url, self.webrtc_url or ""):
            leaked = _credential_in_url(url)
            if leaked:
                raise ProviderError(
                    f"{leaked} in a provider URL: a URL ends up in logs. Give the key as api_key "
                    "(or AZURE_OPENAI_API_KEY / OPENAI_API_KEY); rt_jupyter sends it in a header"
                )
        for deployment, model in self.deployments:
            if not isinstance(deployment, str) or not isinstance(model, str) or not model:
                raise ProviderError(
                    "deployments: use a mapping of deployment names to the models they run, "
                    "such as {'my-rt': 'gpt-realtime'}"
                )
        for name, value in self.headers:
            if not _HEADER_NAME.match(name) or "\n" in value or "\r" in value:
                raise ProviderError(f"headers: {name!r} is not a valid header")
            if name.lower() in _RESERVED:
                raise ProviderError(
                    f"headers: {name!r} is set by rt_jupyter (the credential and the dialect "
                    "header come from the provider's auth style and dialect)"
                )

    # --- URLs ------------------------------------------------------------------------------------

    @property
    def rest_base(self) -> str:
        """The base the realtime paths hang off."""
        base = self.base_url.rstrip("/")
        if self.layout is Layout.OPENAI:
            return base
        base = re.sub(r"/openai(/v1)?$", "", base)
        return f"{base}/openai/v1" if self.layout is Layout.AZURE_V1 else f"{base}/openai"

    def _query(self, **params: str) -> str:
        if self.layout is Layout.AZURE_PREVIEW:
            params = {"api-version": str(self.api_version), **params}
        return urlencode(params)

    def check_dialect(self, dialect: Dialect) -> None:
        """Raise :class:`ProviderError` for a dialect this layout does not serve."""
        if self.layout is Layout.AZURE_V1 and dialect is Dialect.BETA:
            raise ProviderError(
                "Azure's v1 API speaks the GA shape: use dialect='ga', or the preview API "
                f"(api_version={AZURE_PREVIEW_API_VERSION!r}) for the beta shape"
            )

    def mint_dialect(self, dialect: Dialect) -> Dialect:
        """The shape of the mint request and answer (the preview API mints beta-shaped)."""
        return Dialect.BETA if self.layout is Layout.AZURE_PREVIEW else dialect

    def mint_url(self, dialect: Dialect) -> str:
        """Where ephemeral keys are minted with the standard credential."""
        self.check_dialect(dialect)
        if self.layout is Layout.AZURE_PREVIEW:
            return f"{self.rest_base}/realtimeapi/sessions?{self._query()}"
        if dialect is Dialect.BETA:
            return f"{self.rest_base}/realtime/sessions"
        return f"{self.rest_base}/realtime/client_secrets"

    def websocket_url(self, dialect: Dialect, model: str, *, intent: str | None = None) -> str:
        """The WebSocket URL of a session (``intent="transcription"`` for transcription)."""
        self.check_dialect(dialect)
        if intent == "transcription":
            query = self._query(intent="transcription")
        elif self.layout is Layout.AZURE_PREVIEW:
            query = self._query(deployment=model)
        else:
            query = self._query(model=model)
        return f"{_ws(self.rest_base)}/realtime?{query}"

    def sdp_url(self, dialect: Dialect, model: str) -> str:
        """Where the browser POSTs its SDP offer with the ephemeral key."""
        self.check_dialect(dialect)
        if self.layout is Layout.AZURE_PREVIEW:
            if not self.webrtc_url:
                raise ProviderError(
                    "Azure's preview API answers WebRTC calls at a regional URL: set "
                    "AZURE_OPENAI_REGION (e.g. 'eastus2' or 'swedencentral', the resource's "
                    "region) or the provider's 'webrtc_url'; or use the v1 API"
                )
            return f"{self.webrtc_url}?model={quote(model, safe='')}"
        if dialect is Dialect.BETA:
            return f"{self.rest_base}/realtime?model={quote(model, safe='')}"
        return f"{self.rest_base}/realtime/calls"

    # --- headers ---------------------------------------------------------------------------------

    def auth_headers(self, secret: str) -> dict[str, str]:
        """The header that carries ``secret`` in this provider's auth style."""
        if self.auth is AuthStyle.API_KEY:
            return {"api-key": secret}
        return {"Authorization": f"Bearer {secret}"}

    def request_headers(self, dialect: Dialect, secret: str) -> dict[str, str]:
        """Extra headers, the credential, and ``OpenAI-Beta: realtime=v1`` for beta."""
        headers = dict(self.headers)
        headers.update(self.auth_headers(secret))
        if dialect is Dialect.BETA:
            headers["OpenAI-Beta"] = "realtime=v1"
        return headers

    def deployment_model(self, name: str) -> str | None:
        """The model deployment ``name`` runs, as :attr:`deployments` says (``None``: not said)."""
        return dict(self.deployments).get(name)

    def log_fields(self, model: str) -> dict[str, str]:
        """Who serves a session of ``model``, for its log (the ``rt.provider`` note, the widget's
        ``rt.call_started``): ``name``, ``layout``, ``model`` and, when :attr:`deployments` says,
        ``runs`` (the model behind the deployment). The frames' price table reads it; it never
        holds a credential."""
        fields = {"name": self.name, "layout": self.layout.value, "model": model}
        runs = self.deployment_model(model)
        if runs:
            fields["runs"] = runs
        return fields

    def owns(self, url: str) -> bool:
        """Whether ``url`` has this provider's origin (scheme, host, port): where its credential
        may go."""
        return _origin(url) == _origin(self.base_url)

    # --- naming ----------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The host (and port) of the service."""
        parts = urlsplit(self.base_url)
        return parts.netloc.rsplit("@", 1)[-1]

    def describe(self, dialect: Dialect | None = None) -> str:
        """One line: name, URL shape, auth and dialect (never a credential)."""
        shape = {
            Layout.OPENAI: "OpenAI URLs",
            Layout.AZURE_V1: "Azure v1 API",
            Layout.AZURE_PREVIEW: f"Azure preview API (api-version {self.api_version})",
        }[self.layout]
        auth = {
            AuthStyle.BEARER: "Authorization: Bearer key",
            AuthStyle.API_KEY: "api-key header",
            AuthStyle.TOKEN: "Entra ID bearer token",
        }[self.auth]
        tail = f", {dialect.value} dialect" if dialect is not None else ""
        extra = f", +{len(self.headers)} header(s)" if self.headers else ""
        return f"{self.name} at {self.host} ({shape}, {auth}{extra}{tail})"
