"""Where to connect, with which credential and in which shape: arguments first, then the
environment (the ``openai`` SDK's variables), then defaults.

Environment variables: ``RT_JUPYTER_PROVIDER`` (``openai``, ``azure``, ``gateway``; default: Azure
when ``AZURE_OPENAI_ENDPOINT`` is set and no OpenAI key is, else OpenAI), ``OPENAI_API_KEY`` (also
``NEW_API_KEY``, the name some providers use), ``OPENAI_BASE_URL`` (default
``https://api.openai.com/v1``; another host is a *gateway*), ``AZURE_OPENAI_ENDPOINT``,
``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_AD_TOKEN``, ``OPENAI_API_VERSION`` (a dated version selects
Azure's preview API), ``AZURE_OPENAI_REGION`` (the preview API's WebRTC region),
``RT_JUPYTER_MODEL`` (default ``gpt-realtime``; ``gpt-4o-realtime-preview-2024-12-17`` with the
beta dialect; on Azure, the deployment name), ``RT_JUPYTER_DIALECT`` (``ga``, ``beta`` or
``auto``) and ``RT_JUPYTER_LOCAL=1`` (use the local service even when a key is set). With no
credential, rt_jupyter uses its local service.

A credential is only ever read for the provider it belongs to: the OpenAI key never goes to
Azure, the Azure key or token never to OpenAI or a gateway.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .protocol import Dialect
from .protocol.errors import scrub_secrets
from .protocol.providers import (
    AZURE_SCOPE,
    AuthStyle,
    Layout,
    Provider,
    ProviderError,
    azure_webrtc_url,
    default_model,
    is_dated_api_version,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "KEY_ENV",
    "PROVIDER_ENV",
    "PROVIDER_NAMES",
    "SECRET_ENV",
    "Settings",
    "credential_hint",
    "local_provider",
    "resolve_settings",
    "scrub",
]

#: The environment variables a standard OpenAI (or gateway) key is read from, in order.
KEY_ENV = ("OPENAI_API_KEY", "NEW_API_KEY")

#: Every environment variable that may hold a credential (scrubbed from messages, hidden from
#: kernels by the server extension).
SECRET_ENV = (*KEY_ENV, "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN")

#: Every environment variable that picks the provider, its shape or its credential.
PROVIDER_ENV = (
    *SECRET_ENV,
    "OPENAI_BASE_URL",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_REGION",
    "AZURE_OPENAI_WEBRTC_URL",
    "RT_JUPYTER_PROVIDER",
    "RT_JUPYTER_DIALECT",
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"

#: The provider names ``provider=`` / ``RT_JUPYTER_PROVIDER`` accept.
PROVIDER_NAMES = ("openai", "azure", "gateway")

#: Keys of a provider given as a mapping (``c.RealtimeExtension.provider``, ``connect(provider=)``).
_PROVIDER_FIELDS = {
    "name",
    "base_url",
    "endpoint",
    "layout",
    "auth",
    "api_version",
    "headers",
    "webrtc_url",
    "region",
    "deployments",
}

TokenProvider = Callable[[], str]


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without any of ``secrets`` and without anything that looks like an API key
    (:func:`rt_jupyter.protocol.errors.scrub_secrets`)."""
    return scrub_secrets(text, secrets)


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings: the ``provider`` (URLs, auth style), the credential (a key,
    or a ``token_provider`` callable; never shown by ``repr``), model, dialect, and whether the
    local service is used. ``dialect_auto``: the dialect is to be found out (GA, then beta)."""

    api_key: str | None = field(repr=False)
    base_url: str
    model: str
    dialect: Dialect
    local: bool
    provider: Provider | None = field(default=None, compare=False)
    token_provider: TokenProvider | None = field(default=None, repr=False, compare=False)
    dialect_auto: bool = False
    model_defaulted: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.provider is None:  # settings built by hand: an OpenAI-layout service
            object.__setattr__(self, "provider", Provider("openai", self.base_url))

    @property
    def service(self) -> Provider:
        """The provider (never ``None`` after construction)."""
        assert self.provider is not None
        return self.provider

    @property
    def key_configured(self) -> bool:
        """Whether a credential (key or token provider) is configured."""
        return bool(self.api_key) or self.token_provider is not None

    def secret(self) -> str:
        """The credential to send now: the key, or a fresh token from the token provider."""
        if self.token_provider is not None:
            token = self.token_provider()
            if not isinstance(token, str) or not token:
                raise ConfigurationError(
                    "the token provider returned no token: it must return a non-empty string "
                    "(e.g. azure.identity.get_bearer_token_provider(credential, scope))"
                )
            return token
        return str(self.api_key or "")

    def chosen(self, dialect: Dialect) -> Settings:
        """These settings once ``dialect`` is found out (a defaulted model follows the dialect)."""
        model = default_model(dialect) if self.model_defaulted else self.model
        return dataclasses.replace(self, dialect=dialect, model=model)

    def websocket_url(self, *, intent: str | None = None) -> str:
        """The session's WebSocket URL."""
        return self.service.websocket_url(self.dialect, self.model, intent=intent)

    def describe(self) -> str:
        """One line naming the provider, its URL shape, auth and dialect (no credential)."""
        line = self.service.describe(self.dialect)
        return line[:-1] + ", found out: GA then beta)" if self.dialect_auto else line


def credential_hint(settings: Settings) -> str:
    """What to check when the provider refuses the credential."""
    service = settings.service
    if service.name == "azure":
        if service.auth is AuthStyle.API_KEY:
            return "Check AZURE_OPENAI_API_KEY (or pass api_key=...) for " + service.host
        return (
            "Check the Entra ID token provider (the identity needs the 'Cognitive Services "
            f"OpenAI User' role on {service.host})"
        )
    return "Check OPENAI_API_KEY (or pass api_key=...)"


def local_provider(base_url: str) -> Provider:
    """The local service's provider (OpenAI URLs, bearer keys)."""
    return Provider("local", base_url)


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _provider_spec(provider: Any) -> dict[str, Any]:
    """``provider`` (a name, a mapping or ``None``) as a mapping, checked."""
    if provider is None:
        name = _env("RT_JUPYTER_PROVIDER")
        return {"name": name.strip().lower()} if name else {}
    if isinstance(provider, Provider):
        return {"provider": provider}
    if isinstance(provider, str):
        provider = {"name": provider.strip().lower()}
    if not isinstance(provider, Mapping):
        raise ConfigurationError(
            f"provider={provider!r}: use 'openai', 'azure', 'gateway' or a mapping such as "
            "{'name': 'azure', 'endpoint': 'https://NAME.openai.azure.com'}"
        )
    unknown = sorted(set(provider) - _PROVIDER_FIELDS)
    if unknown:
        raise ConfigurationError(
            f"provider: unknown field(s) {unknown}; known: {sorted(_PROVIDER_FIELDS)}"
        )
    spec = dict(provider)
    name = spec.get("name")
    if name is not None and name not in PROVIDER_NAMES:
        raise ConfigurationError(f"provider name {name!r}: use one of {', '.join(PROVIDER_NAMES)}")
    headers = spec.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigurationError("provider headers: use a mapping of header names to strings")
    deployments = spec.get("deployments") or {}
    if not isinstance(deployments, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in deployments.items()
    ):
        raise ConfigurationError(
            "provider deployments: use a mapping of deployment names to the models they run, "
            "such as {'my-rt': 'gpt-realtime'}"
        )
    return spec


def _azure_token_provider() -> TokenProvider | None:
    """azure-identity's bearer token provider for Azure OpenAI's scope, when it is installed
    (it caches the token and asks for a new one before it expires)."""
    try:
        if importlib.util.find_spec("azure.identity") is None:
            return None
    except ModuleNotFoundError:  # no "azure" package at all
        return None
    from azure.identity import (  # type: ignore[import-not-found,unused-ignore]
        DefaultAzureCredential,
        get_bearer_token_provider,
    )

    provider: TokenProvider = get_bearer_token_provider(DefaultAzureCredential(), AZURE_SCOPE)
    return provider


def _openai_layout(
    spec: Mapping[str, Any], api_key: str | None, base_url: str | None
) -> tuple[Provider, str | None]:
    url = (base_url or spec.get("base_url") or _env("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip(
        "/"
    )
    key = api_key or next((os.environ[n] for n in KEY_ENV if os.environ.get(n)), None)
    host = (urlsplit(url).hostname or "").lower()
    name = spec.get("name") or ("openai" if host == "api.openai.com" else "gateway")
    provider = Provider(
        name,
        url,
        Layout.OPENAI,
        AuthStyle.BEARER,
        headers=tuple((spec.get("headers") or {}).items()),
        deployments=tuple((spec.get("deployments") or {}).items()),
    )
    return provider, key


def _azure_layout(
    spec: Mapping[str, Any],
    api_key: str | None,
    base_url: str | None,
    token_provider: TokenProvider | None,
    local: bool | None,
) -> tuple[Provider, str | None, TokenProvider | None]:
    endpoint = base_url or spec.get("endpoint") or spec.get("base_url")
    endpoint = endpoint or _env("AZURE_OPENAI_ENDPOINT")
    if not endpoint:
        raise ConfigurationError(
            "provider 'azure' needs the resource endpoint: set AZURE_OPENAI_ENDPOINT (e.g. "
            "https://NAME.openai.azure.com) or pass base_url=..."
        )
    version = spec.get("api_version") or _env("OPENAI_API_VERSION")
    layout = spec.get("layout") or (
        Layout.AZURE_PREVIEW if is_dated_api_version(version) else Layout.AZURE_V1
    )
    key = api_key or _env("AZURE_OPENAI_API_KEY")
    auth = AuthStyle(spec.get("auth") or (AuthStyle.API_KEY if key else AuthStyle.TOKEN))
    if auth is not AuthStyle.API_KEY:
        key = None
        ad_token = _env("AZURE_OPENAI_AD_TOKEN")
        if token_provider is None and ad_token:
            token_provider = lambda: ad_token  # noqa: E731 - a static token, as the SDK reads it
        if token_provider is None and local is None:  # local=False: the caller brings one
            token_provider = _azure_token_provider()
        if token_provider is None and local is None:
            raise ConfigurationError(
                "provider 'azure' has no credential: set AZURE_OPENAI_API_KEY, or pass "
                "token_provider=azure.identity.get_bearer_token_provider(DefaultAzureCredential(), "
                f"{AZURE_SCOPE!r}) (or install azure-identity and sign in, e.g. `az login`). "
                "rt_jupyter never sends an OpenAI key to Azure."
            )
    webrtc = spec.get("webrtc_url") or _env("AZURE_OPENAI_WEBRTC_URL")
    region = spec.get("region") or _env("AZURE_OPENAI_REGION")
    if not webrtc and region:
        webrtc = azure_webrtc_url(str(region))
    provider = Provider(
        "azure",
        str(endpoint).rstrip("/"),
        Layout(layout),
        auth,
        api_version=version if is_dated_api_version(version) else None,
        headers=tuple((spec.get("headers") or {}).items()),
        webrtc_url=webrtc,
        deployments=tuple((spec.get("deployments") or {}).items()),
    )
    return provider, key, token_provider


def resolve_settings(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    dialect: str | Dialect | None = None,
    local: bool | None = None,
    provider: Any = None,
    token_provider: TokenProvider | None = None,
) -> Settings:
    """Settings from arguments, then environment, then defaults. ``provider``: ``"openai"``,
    ``"azure"``, ``"gateway"`` or a mapping (``name``, ``base_url``/``endpoint``, ``layout``,
    ``auth``, ``api_version``, ``headers``, ``webrtc_url``, ``region``, ``deployments``: which
    model each deployment (or a gateway's model alias) runs, for the price table). ``local`` is
    true when no credential is configured (or ``RT_JUPYTER_LOCAL=1``). Raises
    :class:`~rt_jupyter.ConfigurationError` saying what to set."""
    try:
        spec = _provider_spec(provider)
        auto = (dialect or _env("RT_JUPYTER_DIALECT") or "").strip().lower() == "auto"
        name = spec.get("name")
        if name is None and "provider" not in spec:
            openai_key = api_key or any(os.environ.get(n) for n in KEY_ENV)
            azure = _env("AZURE_OPENAI_ENDPOINT") and not openai_key and base_url is None
            name = "azure" if azure or spec.get("endpoint") else None
        chosen_token = token_provider
        if "provider" in spec:
            chosen: Provider = spec["provider"]
            key = api_key
        elif name == "azure":
            chosen, key, chosen_token = _azure_layout(
                spec, api_key, base_url, token_provider, local
            )
        else:
            chosen, key = _openai_layout(spec, api_key, base_url)
        if dialect is None and not auto and _env("RT_JUPYTER_DIALECT") is None:
            parsed = Dialect.BETA if chosen.layout is Layout.AZURE_PREVIEW else Dialect.GA
        else:
            given = dialect or str(_env("RT_JUPYTER_DIALECT"))
            parsed = Dialect.GA if auto else Dialect.parse(given)
        chosen.check_dialect(parsed)
    except (ProviderError, ValueError) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(str(exc)) from None
    chosen_model = model or _env("RT_JUPYTER_MODEL") or default_model(parsed)
    configured = bool(key) or chosen_token is not None
    if local is None:
        local = not configured or os.environ.get("RT_JUPYTER_LOCAL", "") in ("1", "true", "yes")
    return Settings(
        api_key=key,
        base_url=chosen.base_url,
        model=chosen_model,
        dialect=parsed,
        local=local,
        provider=chosen,
        token_provider=chosen_token,
        dialect_auto=auto,
        model_defaulted=not (model or _env("RT_JUPYTER_MODEL")),
    )
