"""The local realtime service: a protocol-faithful, offline stand-in for the OpenAI Realtime API.

Run it in-process::

    async with LocalRealtimeService() as service:
        client = AsyncOpenAI(api_key="sk-local", base_url=service.base_url,
                             websocket_base_url=service.ws_base_url)

or from the command line: ``rt-jupyter serve --host 127.0.0.1 --port 8765``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

import tornado.httpserver
import tornado.web

from ..protocol import DEFAULT_MODEL, Dialect
from .faults import Faults
from .handlers import DEFAULT_ALLOWED_ORIGINS, ServiceState, load_engines, make_handlers
from .keys import KeyStore
from .session import Engines, LocalSession

__all__ = ["LocalRealtimeService"]


class LocalRealtimeService:
    """REST + WebSocket + WebRTC on one loopback port (``127.0.0.1`` unless told otherwise).

    ``accept_keys``: which standard keys are valid (a predicate or a collection; default: any
    ``sk-…`` key, so the OpenAI SDKs work out of the box). ``beta_shape_disabled`` rejects the beta
    dialect as OpenAI does since 2026-05-12 (``beta_api_shape_disabled``, close 4000).
    ``max_session_s`` overrides the session length (60 min GA, 30 min beta).
    ``max_sessions_per_key`` limits concurrent sessions per key (HTTP 429 beyond it); an
    ephemeral key opens one session (``single_use_keys=False``: many, until it expires).
    ``allow_origins``: the other web pages' origins that may call it (``scheme://host:*`` for any
    port; default: loopback pages), others get 403; ``cors=False``: same-origin pages only.
    Without ``engines``, the default ones are loaded on start with ``asr`` (recogniser:
    ``"auto"``, ``"whisper"``, ``"pocketsphinx"``), ``asr_model`` (a faster-whisper model name
    or directory), ``asr_workers``, ``asr_batch``, ``asr_language`` and ``voice_engine``
    (``"espeak"``, ``"piper"``, ``"auto"``); see :meth:`Engines.default`, which also reads them
    from the environment.

    It also plays Azure OpenAI (:func:`~rt_jupyter.local.handlers.make_handlers`): the v1 API at
    :attr:`azure_endpoint` ``/openai/v1/realtime…``, the preview API at ``/openai/realtime`` and
    ``/openai/realtimeapi/sessions`` (``api-version`` required) with its WebRTC URL
    :attr:`azure_webrtc_url`; ``api-key`` header or bearer auth; ``deployments``: the deployment
    names accepted there (default: any). ``ga_shape_disabled`` plays a gateway that serves the
    beta shape only.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        engines: Engines | None = None,
        accept_keys: Callable[[str], bool] | Iterable[str] | None = None,
        beta_shape_disabled: bool = False,
        max_session_s: float | None = None,
        max_sessions_per_key: int | None = None,
        default_model: str = DEFAULT_MODEL,
        ice_host: str | None = None,
        cors: bool = True,
        allow_origins: Iterable[str] = DEFAULT_ALLOWED_ORIGINS,
        single_use_keys: bool = True,
        asr: str | None = None,
        asr_model: str | None = None,
        asr_workers: int | None = None,
        voice_engine: str | None = None,
        asr_batch: int | None = None,
        asr_language: str | None = None,
        deployments: Iterable[str] | None = None,
        ga_shape_disabled: bool = False,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.port = port
        self._engines = engines
        self._default_engines = functools.partial(
            Engines.default,
            asr=asr,
            asr_model=asr_model,
            asr_workers=asr_workers,
            voice_engine=voice_engine,
            asr_batch=asr_batch,
            asr_language=asr_language,
        )
        durations = {Dialect.GA: 3600.0, Dialect.BETA: 1800.0}
        if max_session_s is not None:
            durations = {d: float(max_session_s) for d in durations}
        self.state = ServiceState(
            keys=KeyStore(
                accept_keys,
                max_sessions_per_key=max_sessions_per_key,
                single_use_keys=single_use_keys,
            ),
            engines=engines or Engines(),
            beta_shape_disabled=beta_shape_disabled,
            max_session_s=durations,
            cors=cors,
            allow_origins=tuple(allow_origins),
            default_model=default_model,
            ice_host=ice_host or host,
            deployments=None if deployments is None else frozenset(deployments),
            ga_shape_disabled=ga_shape_disabled,
        )
        self._server: tornado.httpserver.HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- URLs ------------------------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """REST base URL, e.g. ``http://127.0.0.1:8765/v1`` (``OPENAI_BASE_URL``)."""
        return f"{self.http_url}/v1"

    @property
    def azure_endpoint(self) -> str:
        """The endpoint an Azure client is given (``AZURE_OPENAI_ENDPOINT``)."""
        return self.http_url

    @property
    def azure_webrtc_url(self) -> str:
        """The stand-in for the preview API's regional WebRTC URL."""
        return f"{self.http_url}/v1/realtimertc"

    @property
    def ws_base_url(self) -> str:
        """WebSocket base URL, e.g. ``ws://127.0.0.1:8765/v1``."""
        return self.base_url.replace("http://", "ws://", 1)

    @property
    def keys(self) -> KeyStore:
        return self.state.keys

    @property
    def sessions(self) -> set[LocalSession]:
        return self.state.sessions

    @property
    def engines_summary(self) -> str:
        """Which recogniser and voice the service runs, and why not the best ones."""
        return self.state.engines.summary

    @property
    def faults(self) -> Faults | None:
        """Fault injection for sessions started from now on (see :mod:`.faults`)."""
        return self.state.faults

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        self.state.faults = value

    # --- running ---------------------------------------------------------------------------------

    def make_app(self) -> tornado.web.Application:
        """The tornado application with every route."""
        return tornado.web.Application(make_handlers(self.state), websocket_ping_interval=None)

    async def start(self) -> LocalRealtimeService:
        """Bind and serve on the running event loop (loads the engines on first start)."""
        if self._engines is None and self.state.engines.voice is None:
            loop = asyncio.get_running_loop()
            self.state.engines = await loop.run_in_executor(
                None, load_engines, self._default_engines
            )
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(256)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(
            self.make_app(), max_body_size=64 * 1024 * 1024, xheaders=False
        )
        self._server.add_sockets([sock])
        return self

    async def stop(self) -> None:
        """Close every session and call, then stop listening."""
        for call in list(self.state.calls.values()):
            with contextlib.suppress(Exception):
                await call.hangup()
        for session in list(self.state.sessions):
            session.close(1001, "service stopping")
        self.state.sessions.clear()
        if self._server is not None:
            self._server.stop()
            with contextlib.suppress(Exception):
                await self._server.close_all_connections()
            self._server = None
        if self._engines is None and self.state.engines.voice is not None:
            # the engines this service loaded (its recogniser processes): a restart loads anew
            self.state.engines.close()
            self.state.engines = Engines()

    async def __aenter__(self) -> LocalRealtimeService:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- in a background thread (for code without an event loop) ---------------------------------

    def start_in_thread(self, timeout: float = 60.0) -> LocalRealtimeService:
        """Run the service on its own event loop in a daemon thread; returns once it listens."""
        ready = threading.Event()
        error: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # report to the caller
                error.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="rt-jupyter-local", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("the local realtime service did not start in time")
        if error:
            raise error[0]
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        """Stop a service started with :meth:`start_in_thread`."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            self._thread = None
            self._loop = None

    def run_coroutine(self, coro: Any) -> Any:
        """Run a coroutine on the service's thread loop and wait for its result."""
        assert self._loop is not None, "start_in_thread() first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
