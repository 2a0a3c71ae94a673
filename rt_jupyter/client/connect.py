"""``rt_jupyter.connect()``: check the arguments, resolve the endpoint (the in-process local
service when no key is configured), open a :class:`~rt_jupyter.client.RealtimeSession` and apply
its settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from ..config import resolve_settings
from ..core.settings import canonical_settings, session_settings
from ..core.tools import DEFAULT_TOOL_TIMEOUT, check_tool_timeout, tool_schemas
from ..errors import ConfigurationError
from ..protocol import Dialect
from .probe import find_dialect
from .session import RealtimeSession, session_type

__all__ = ["connect"]


class _Connect:
    """What :func:`connect` returns: ``await`` it, or use it with ``async with``."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._session: RealtimeSession | None = None

    def __await__(self) -> Generator[Any, None, RealtimeSession]:
        return self._factory().__await__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> RealtimeSession:
        self._session = await self._factory()
        return self._session

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()


def connect(
    *,
    api_key: str | Callable[[], str] | None = None,
    base_url: str | None = None,
    model: str | None = None,
    dialect: str | Dialect | None = None,
    local: bool | None = None,
    provider: str | Mapping[str, Any] | None = None,
    token_provider: Callable[[], str] | None = None,
    intent: str | None = None,
    tools: Sequence[Any] | None = None,
    tool_timeout: float = DEFAULT_TOOL_TIMEOUT,
    log_path: str | None = None,
    keep_audio: bool = False,
    reconnect: bool = True,
    quiet: bool = False,
    **settings: Any,
) -> _Connect:
    """Open a :class:`RealtimeSession`: ``session = await connect(...)`` or
    ``async with connect(...) as session``.

    Configuration comes from the arguments, then the environment (``OPENAI_API_KEY`` or
    ``NEW_API_KEY``, ``OPENAI_BASE_URL``, ``RT_JUPYTER_MODEL``, ``RT_JUPYTER_DIALECT``; for Azure
    ``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_API_KEY``, ``OPENAI_API_VERSION``: see
    :func:`rt_jupyter.config.resolve_settings`). ``provider``: ``"openai"``, ``"azure"``,
    ``"gateway"`` or a mapping (``base_url``/``endpoint``, ``api_version``, ``headers``...);
    ``token_provider``: a callable returning a fresh Entra ID bearer token (e.g. azure-identity's
    ``get_bearer_token_provider``), asked on each (re)connection.
    **With no key configured it starts an in-process local service** and says so in one line.
    ``dialect="beta"`` speaks ``OpenAI-Beta: realtime=v1``; ``dialect="auto"`` tries GA, then
    beta, and says which it chose; ``intent="transcription"`` opens a
    transcription-only session. ``tool_timeout``: seconds each tool call may take (as
    ``VoiceChat(tool_timeout=)``). Other keyword arguments (``instructions``, ``voice``,
    ``turn_detection``, ``output_modalities``, ``input_transcription``...; see the README's API
    table) are applied with :meth:`RealtimeSession.update` before it is returned. A bad
    argument raises :class:`~rt_jupyter.ConfigurationError` before anything connects.
    ``api_key`` may be a callable that returns a fresh (e.g. ephemeral) key for each
    connection.
    """
    settings = canonical_settings(settings, where="connect()")
    if intent not in (None, "transcription"):
        raise ConfigurationError(f"intent={intent!r}: use None or 'transcription'")
    if base_url is not None:
        if not isinstance(base_url, str):
            raise TypeError(
                f"base_url must be a string such as 'https://api.openai.com/v1', not "
                f"{type(base_url).__name__}"
            )
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url={base_url!r}: use an http(s) URL such as 'https://api.openai.com/v1'"
            )
    if api_key is not None and not (isinstance(api_key, str) or callable(api_key)):
        raise TypeError(
            f"api_key must be a string (or a callable returning one), not {type(api_key).__name__}"
        )
    if tools is not None:  # checked as update() will: a bad tool list fails before connecting
        tool_schemas(tools, {}, where="tools")
    check_tool_timeout(tool_timeout)
    if settings:  # a bad setting raises ConfigurationError before anything connects
        session_settings(settings, session_type=session_type(intent))
    if model is not None and not isinstance(model, str):
        raise ConfigurationError(
            f"model={model!r}: use a model name such as 'gpt-realtime' (a string)"
        )
    if token_provider is not None and not callable(token_provider):
        raise TypeError(
            "token_provider must be a callable returning a bearer token, not "
            f"{type(token_provider).__name__}"
        )
    given = api_key is not None or token_provider is not None
    resolved = resolve_settings(
        api_key=api_key if isinstance(api_key, str) else None,
        base_url=base_url,
        model=model,
        dialect=dialect,
        local=local if not given else False,
        provider=provider,
        token_provider=token_provider,
    )

    async def factory() -> RealtimeSession:
        nonlocal resolved
        key: str | Callable[[], str]
        if resolved.local:
            from ..local.default import resolve_endpoint

            loop = asyncio.get_running_loop()
            endpoint = await loop.run_in_executor(None, resolve_endpoint, resolved)
            resolved = endpoint.settings
            key = str(endpoint.api_key)
            if not quiet:
                print(endpoint.note)
        else:
            key = api_key if api_key is not None else resolved.secret
        if resolved.dialect_auto:
            found = (
                Dialect.GA
                if resolved.local
                else await find_dialect(resolved, key() if callable(key) else key)
            )
            resolved = resolved.chosen(found)
            if not quiet:
                print(f"rt_jupyter: {resolved.service.host} speaks the {found.value} dialect")
        session = RealtimeSession(
            resolved,
            api_key=key,
            intent=intent,
            log_path=log_path,
            keep_audio=keep_audio,
            reconnect=reconnect,
            tool_timeout=tool_timeout,
        )
        await session.open()
        try:
            if settings or tools:
                await session.update(tools=tools, **settings)
        except BaseException:
            await session.close()  # a refused setting must not leave a session open
            raise
        return session

    return _Connect(factory)
