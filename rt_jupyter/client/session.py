"""The kernel-side Realtime client: scripted sessions over WebSocket with numpy audio in and out,
Python tools, an event log, and recovery from drops, expiry and restarts.

::

    async with rt_jupyter.connect(instructions="Be brief.") as session:
        reply = await session.say("What is the weather in Paris?")
        reply = await session.send_audio("question.wav")
        session.log.to_frame()

With no API key configured, ``connect()`` starts an in-process local service and uses it.

This module is the adapter: the WebSocket in and out, the reconnect loop, and the glue that
feeds received events to the session layer (:mod:`rt_jupyter.core`: dispatch, tools, replies,
usage, transcript) and sends what it asks for. When to reconnect is :mod:`.retry`'s decision,
what to send after it :func:`~rt_jupyter.protocol.restore.restore_plan`'s and
:meth:`~rt_jupyter.core.replies.Replies.lost`'s.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

import numpy.typing as npt
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..audio import get_format
from ..config import Settings, credential_hint
from ..core.code import code_blocks, insert_code_block
from ..core.dispatch import Dispatcher, EventsAPI
from ..core.replies import PendingReply, Replies
from ..core.reply import Reply, ToolCallRecord
from ..core.sending import checked_send
from ..core.settings import canonical_settings, session_settings
from ..core.tools import (
    DEFAULT_TOOL_TIMEOUT,
    Tool,
    ToolResult,
    ToolRunner,
    function_tool,
    tool_schemas,
)
from ..core.transcript import transcript_entries
from ..core.usage import add_usage
from ..lint import check_incoming, check_outgoing
from ..log import EventLog
from ..protocol import (
    Conversation,
    Dialect,
    Event,
    Item,
    RealtimeConnection,
    RemoteProtocolError,
    build,
    function_call_output_item,
    function_calls,
    ids,
    user_text_item,
)
from ..protocol.dialects import without_beta_only
from ..protocol.errors import error_from_http
from ..protocol.restore import restore_plan
from ..protocol.session import deep_merge
from .audio_input import chunk_bytes, progress_bar, to_wire_audio, vad_padding
from .errors import (
    AuthenticationError,
    BetaShapeDisabledError,
    ConnectionLostError,
    ServerError,
)
from .retry import RECOVERABLE_CLOSE_CODES, reconnect_delay, recoverable
from .transcription import Transcription, TranscriptionCollector, TranscriptSegment

__all__ = ["RECOVERABLE_CLOSE_CODES", "RealtimeSession", "TranscriptSegment", "Transcription"]

log = logging.getLogger("rt_jupyter.client")


class _NoRedirects(ws_connect):
    """``websockets.connect`` that follows no redirect: a redirect answers ``InvalidStatus``. (On
    a cross-origin redirect websockets drops ``Authorization`` but would re-send an ``api-key``
    or a custom header to the other host.)"""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def refused(settings: Settings, status: int, detail: str) -> AuthenticationError:
    """The error for a credential the provider refused (HTTP 401/403): never retried."""
    return AuthenticationError(
        f"{settings.base_url} refused the API key (HTTP {status}: {detail}). "
        f"{credential_hint(settings)}; it is not retried."
    )


async def open_websocket(
    settings: Settings, dialect: Dialect, url: str, key: str
) -> ClientConnection:
    """Open a session's WebSocket with the provider's headers for ``dialect``; never follows a
    redirect (the credential goes to the provider's own URL only)."""
    if not settings.service.owns(url):
        raise ConnectionLostError(f"{url} is not at {settings.service.host}: not sending the key")
    return await _NoRedirects(
        url,
        additional_headers=settings.service.request_headers(dialect, key),
        max_size=None,
        open_timeout=30,
        ping_interval=20,
        ping_timeout=20,
        compression=None,
    )


F = TypeVar("F", bound=Callable[..., Any])


class RealtimeSession(EventsAPI):
    """One realtime session (WebSocket), kept alive across drops; see :func:`connect`."""

    def __init__(
        self,
        settings: Settings,
        *,
        api_key: str | Callable[[], str],
        intent: str | None = None,
        log_path: str | None = None,
        keep_audio: bool = False,
        reconnect: bool = True,
        max_reconnect_attempts: int = 8,
        backoff: tuple[float, float] = (0.1, 5.0),
        tool_timeout: float = DEFAULT_TOOL_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.dialect = settings.dialect
        self._api_key = api_key
        self.intent = intent
        self.log = EventLog(log_path, keep_audio=keep_audio)
        self.reconnect = reconnect
        self.max_reconnect_attempts = max_reconnect_attempts
        self.backoff = backoff
        self.conn = RealtimeConnection("client", self.dialect)
        #: What the user sent with say()/send_audio(), in order (for record and replay).
        self.inputs: list[dict[str, Any]] = []
        self.reconnects = 0
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._fatal: BaseException | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._outbox: list[dict[str, Any]] = []
        self._config: dict[str, Any] = {}
        self._tools: dict[str, Tool] = {}
        self._tool_runner = ToolRunner(
            self._tools, self._tools_ready, timeout=tool_timeout, on_result=self._tool_result
        )
        self._events = Dispatcher(on_error=self._callback_failed, spawn=self._spawn)
        self._replies = Replies()
        #: Every response's :class:`Reply`, in the order the responses started.
        self.replies: list[Reply] = self._replies.replies
        self._unacked: dict[str, dict[str, Any]] = {}  # item creates not yet acknowledged
        self._renew = False
        self._created = asyncio.Event()
        self._speech: dict[str, list[int | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen_types: set[str] = set()
        self._usage: dict[str, int] = {}

    # --- connecting --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The WebSocket URL this session connects to (the provider's layout)."""
        return self.settings.service.websocket_url(
            self.dialect, self.settings.model, intent=self.intent
        )

    @property
    def connected(self) -> bool:
        """Whether the session is connected now (it reconnects by itself after a drop)."""
        return self._connected.is_set()

    @property
    def conversation(self) -> Conversation:
        """The conversation as the client mirrors it (continues across reconnects)."""
        return self.conn.conversation

    @property
    def usage(self) -> dict[str, int]:
        """Token totals over every response so far (``responses``, ``input_tokens``,
        ``output_tokens``, ``total_tokens``, and the text/audio split of each side); ``{}``
        before the first."""
        return dict(self._usage)

    @property
    def transcript(self) -> list[dict[str, str]]:
        """``[{"role", "text", "item_id"}, ...]`` for every message with text, in order (the
        same entries as ``VoiceChat.transcript``)."""
        return transcript_entries(self.conn.conversation)

    @property
    def session_config(self) -> dict[str, Any]:
        """The server's current session configuration (as last reported)."""
        return dict(self.conn.session.data)

    def _key(self) -> str:
        return self._api_key() if callable(self._api_key) else self._api_key

    async def open(self, timeout: float = 30.0) -> RealtimeSession:
        """Connect, wait for ``session.created``, and keep the connection alive from now on."""
        await self._connect_once()
        # who serves the session (the frames' price table reads it; no credential)
        fields = self.settings.service.log_fields(self.settings.model)
        self.log.note("rt.provider", **fields, dialect=self.dialect.value)
        self._supervisor = asyncio.ensure_future(self._supervise())
        try:
            await asyncio.wait_for(self._created.wait(), timeout)
        except TimeoutError:
            raise ConnectionLostError(
                f"no session.created from {self.url} in {timeout} s"
            ) from None
        if self._fatal is not None:
            raise self._fatal
        return self

    async def _connect_once(self) -> None:
        key = self._key()
        try:
            self._ws = await open_websocket(self.settings, self.dialect, self.url, key)
        except InvalidStatus as exc:
            status = exc.response.status_code
            error = error_from_http(
                status, bytes(exc.response.body or b""), exc.response.headers, secrets=[key]
            )
            detail = error["message"] or exc.response.reason_phrase
            if status in (401, 403):
                raise refused(self.settings, status, detail) from None
            raise ConnectionLostError(f"HTTP {status} from {self.url}: {detail}") from None
        self.conn = RealtimeConnection(
            "client", self.dialect, keep_audio=self.conn.conversation.keep_audio
        )
        self._replies.new_connection()
        self._created.clear()
        self._connected.set()

    async def _supervise(self) -> None:
        """Read events; on a drop, reconnect with capped exponential backoff and restore."""
        attempt = 0
        while True:
            ws = self._ws
            assert ws is not None
            reason = await self._read(ws)
            self._connected.clear()
            if self._closing or self._fatal is not None:
                break
            if not (self.reconnect and recoverable(reason["code"], renew=self._renew)):
                self._fail(ConnectionLostError(f"connection closed: {reason}"))
                break
            old = self.conn
            while True:
                attempt += 1
                if attempt > self.max_reconnect_attempts:
                    self._fail(
                        ConnectionLostError(
                            f"gave up after {self.max_reconnect_attempts} reconnect attempts "
                            f"({reason})"
                        )
                    )
                    return
                delay = reconnect_delay(attempt, self.backoff, renew=self._renew)
                self.log.note("rt.reconnect", attempt=attempt, delay_s=round(delay, 3), **reason)
                await asyncio.sleep(delay)
                try:
                    await self._connect_once()
                except AuthenticationError as exc:
                    self._fail(exc)
                    return
                except (OSError, ConnectionLostError, TimeoutError, InvalidStatus) as exc:
                    reason = {"code": None, "reason": f"{type(exc).__name__}: {exc}"}
                    continue
                break
            self.reconnects += 1
            self._renew = False
            restore = asyncio.ensure_future(self._restore(old))
            restore.add_done_callback(self._restored)
            attempt = 0

    def _restored(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("restoring the session failed: %r", task.exception())

    async def _read(self, ws: ClientConnection) -> dict[str, Any]:
        try:
            async for message in ws:
                self._handle(message)
        except ConnectionClosed:
            pass
        except Exception as exc:  # a network error
            return {"code": None, "reason": f"{type(exc).__name__}: {exc}"}
        return {
            "code": ws.close_code if ws.close_code is not None else 1006,
            "reason": ws.close_reason or "no close frame (connection lost)",
        }

    async def _restore(self, old: RealtimeConnection) -> None:
        """Re-apply the configuration, replay the conversation, re-request lost responses and
        send what was queued while disconnected."""
        await asyncio.wait_for(self._created.wait(), 30)
        plan = restore_plan(
            old.conversation,
            config=self._config,
            unacked=self._unacked,
            queued={e["item"]["id"] for e in self._outbox if "item" in e},
        )
        for event in plan.events():
            self._send_now(event)
        lost = self._replies.lost(plan.responses)
        self.log.note(
            "rt.restored",
            items=len(plan.replay) + len(plan.resend),
            lost_responses=len(lost),
            dropped=len(plan.dropped),
            open_calls=len(plan.open_calls),
        )
        for pending in lost:  # the response died with the connection: ask again
            self._ask(pending, pending.params)
        queued, self._outbox = self._outbox, []
        for event in queued:
            try:
                self._send_now(event)
            except Exception as exc:  # never let one event stop the restore
                self.log.note("rt.warning", code="resend_failed", message=str(exc))

    def _fail(self, exc: BaseException) -> None:
        self._fatal = exc
        self._created.set()
        self._replies.fail(exc)
        self._events.close(exc)

    async def close(self) -> None:
        """Close the session (pending replies fail with :class:`ConnectionLostError`)."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._supervisor is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._supervisor, 10)
        for task in list(self._tasks):
            task.cancel()
        self._tool_runner.close()
        if self._fatal is None:
            self._fail(ConnectionLostError("the session was closed"))
        self.log.close()

    async def __aenter__(self) -> RealtimeSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- receiving -------------------------------------------------------------------------------

    def _handle(self, message: str | bytes) -> None:
        t = time.perf_counter()
        try:
            (event,) = self.conn.receive(message)
        except RemoteProtocolError as exc:
            self.log.note("rt.warning", message=f"unparseable server message: {exc.message}")
            return
        self.log.add("in", event, text=message if isinstance(message, str) else None, t=t)
        kind = event.kind
        for code, text in check_incoming(event.data, self.dialect, self._seen_types):
            self.log.note("rt.warning", code=code, message=text)
        if kind == "error":
            self._on_error(event)
        elif kind == "session.created":
            self._created.set()
        elif kind == "conversation.item.added":
            item = event.get("item")
            if isinstance(item, dict):
                self._unacked.pop(str(item.get("id")), None)
        elif kind == "response.created":
            self._replies.created(event, t, self.conn.conversation.output_format)
        elif kind == "response.done":
            self._on_response_done(event, t)
        elif kind == "response.function_call_arguments.done":
            self._tool_runner.arguments_done(event, self.conn.conversation)
        elif kind.startswith("response.") and "response_id" in event.data:
            self._replies.delta(event, t, self.conn.conversation.output_format)
        elif kind == "input_audio_buffer.speech_started":
            self._speech[str(event.get("item_id"))] = [event.get("audio_start_ms"), None]
        elif kind == "input_audio_buffer.speech_stopped":
            span = self._speech.setdefault(str(event.get("item_id")), [None, None])
            span[1] = event.get("audio_end_ms")
        if self._replies.requests:
            self._replies.answered(event)
        self._events.dispatch(event)

    def _callback_failed(
        self, callback: Callable[[Event], Any], event: Event, exc: Exception
    ) -> None:
        log.error("callback %r failed on %s", callback, event.type, exc_info=exc)
        self.log.note("rt.warning", message=f"callback {callback!r} raised on {event.type}")

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_error(self, event: Event) -> None:
        error = dict(event.get("error") or {})
        code = error.get("code")
        if code == "beta_api_shape_disabled":
            self._fail(
                BetaShapeDisabledError(
                    "the server no longer accepts the beta dialect (beta_api_shape_disabled): "
                    "connect with dialect='ga'"
                )
            )
            return
        if code == "session_expired":
            self._renew = True  # the server closes next; reconnect at once and restore
            return
        if not self._replies.error(error, ServerError(error)):
            log.warning("server error: %s", error)

    def _on_response_done(self, event: Event, t: float) -> None:
        response = event.get("response") or {}
        if isinstance(response.get("usage"), Mapping):
            self._usage = add_usage(self._usage, response["usage"])
        if not self._replies.done(event, t, self.conn.conversation):
            return
        rid = str(response.get("id"))
        calls = function_calls(response)
        if not self._tool_runner.response_done(rid, str(response.get("status")), calls):
            self._replies.settle(rid)

    # --- tools -----------------------------------------------------------------------------------

    @property
    def tool_timeout(self) -> float:
        """Seconds each tool call may take; a call that takes longer answers the model with a
        timeout error (default 30)."""
        return self._tool_runner.timeout

    @tool_timeout.setter
    def tool_timeout(self, value: float) -> None:
        self._tool_runner.timeout = value

    @overload
    def tool(self, fn: F, *, name: str | None = None, description: str | None = None) -> F: ...
    @overload
    def tool(
        self, fn: None = None, *, name: str | None = None, description: str | None = None
    ) -> Callable[[F], F]: ...
    def tool(
        self, fn: F | None = None, *, name: str | None = None, description: str | None = None
    ) -> F | Callable[[F], F]:
        """Register a Python function as a tool: ``@session.tool`` or
        ``@session.tool(name="weather")``. It takes effect on the server with the next
        :meth:`update` (``connect(tools=[...])`` and ``update(tools=[...])`` do both).

        Calls run as soon as the model has given their arguments (sync functions in a worker
        thread, ``async def`` ones on this loop), each within :attr:`tool_timeout`; their outputs
        and one follow-up ``response.create`` are sent when the response that made them is done.
        """

        def register(f: F) -> F:
            spec = function_tool(f, name=name, description=description)
            self._tools[spec.name] = spec
            return f

        if fn is not None:
            return register(fn)
        return register

    def _tool_result(self, result: ToolResult) -> None:
        if result.error is not None:
            log.warning("tool %s raised %s", result.name, result.error)
            self.log.note("rt.tool_error", name=result.name, error=result.error)

    def _tools_ready(self, response_id: str, results: list[ToolResult], follow_up: bool) -> None:
        """The tool calls of a finished response are answered: send the outputs, then ask for
        the next response (or hand the reply over when there is none to ask for)."""
        pending = self._replies.tools_answered(response_id)
        records = [
            ToolCallRecord(r.name, r.call_id, r.arguments, r.output, r.error, r.seconds)
            for r in results
        ]
        try:
            for result in results:
                self.send(
                    build(
                        "conversation.item.create",
                        item=function_call_output_item(result.call_id, result.output),
                    )
                )
        except ConnectionLostError as exc:  # the session ended meanwhile
            if pending is not None:
                pending.fail(exc)
            return
        if pending is not None:
            follow = self._replies.follow_up(pending, records, follow_up)
            if follow is not None:
                self._ask(follow, {})

    # --- sending ---------------------------------------------------------------------------------

    def send(self, *events: Mapping[str, Any]) -> None:
        """Send client events (each validated first); queued while reconnecting.

        ``session.send({"type": "response.create"})``. Raises
        :class:`~rt_jupyter.ProtocolError` (also a ``ValueError``) for an invalid event and
        :class:`ConnectionLostError` at once if the session has ended for good (refused key,
        fatal close code, closed): nothing would ever send it."""
        for event in events:
            if not isinstance(event, Mapping):
                raise TypeError(
                    f"send() takes event dicts such as {{'type': 'response.create'}}, got "
                    f"{type(event).__name__}"
                )
            self._send_one(event)

    def _send_one(self, event: Mapping[str, Any]) -> None:
        if self._fatal is not None:
            raise ConnectionLostError(f"the session has ended: {self._fatal}") from self._fatal
        data = dict(event.data if isinstance(event, Event) else event)
        if data.get("type") == "conversation.item.create" and isinstance(data.get("item"), dict):
            item = dict(data["item"])
            item.setdefault("id", ids.item_id())  # so its acknowledgement can be matched
            data["item"] = item
        texts = checked_send(self.conn, data)  # validate first: a refused one leaves nothing
        if data.get("type") == "conversation.item.create":
            self._unacked[data["item"]["id"]] = data
        if self.connected and self._created.is_set():
            self._transmit(data, texts)
        else:
            self._outbox.append(data)

    def _send_now(self, data: dict[str, Any]) -> None:
        self.conn.send(data)
        self._transmit(data, self.conn.data_to_send())

    def _transmit(self, data: dict[str, Any], texts: list[str]) -> None:
        ws = self._ws
        for text in texts:
            for code, message in check_outgoing(data, self.conn.conversation):
                self.log.note("rt.warning", code=code, message=message)
            self.log.add("out", data, text=text)
            if ws is not None:
                self._spawn(_send(ws, text))

    def _ask(self, pending: PendingReply, params: Mapping[str, Any]) -> None:
        """Send a ``response.create`` whose response ``pending`` gets."""
        on_wire = self.connected and self._created.is_set()
        event = self._replies.ask(pending, params, on_wire=on_wire)
        try:
            self.send(event)
        except BaseException:
            self._replies.withdraw(pending)  # refused: no response will come for it
            raise

    async def request(
        self, event: Mapping[str, Any], *, expect: str, timeout: float = 30.0
    ) -> Event:
        """Send ``event`` and wait for the event of type ``expect`` that answers it (or raise the
        :class:`ServerError` the server answered with)."""
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        event_id = self._replies.request(expect, future)
        try:
            self.send({**event, "event_id": event_id})
            return await asyncio.wait_for(future, timeout)
        finally:
            self._replies.requests.pop(event_id, None)

    # --- high-level helpers --------------------------------------------------------------------

    async def update(
        self, *, tools: Sequence[Any] | None = None, **settings: Any
    ) -> dict[str, Any]:
        """Change the session (``instructions``, ``voice``, ``turn_detection``,
        ``output_modalities``, ``input_transcription``, ``tools`` as functions or schemas, ...;
        see the README's API table). Values are checked here first: a bad one raises
        :class:`~rt_jupyter.ConfigurationError` naming the setting and its allowed values.
        Returns the server's new session configuration."""
        settings = canonical_settings(settings, where="update()")
        if tools is not None:
            settings["tools"] = tool_schemas(tools, self._tools, where="tools")
        payload = session_settings(settings, session_type=session_type(self.intent))
        if self.dialect is Dialect.GA:
            payload = without_beta_only(payload)
        deep_merge(self._config, payload)  # what a reconnect applies again
        reply = await self.request(
            build("session.update", session=payload), expect="session.updated"
        )
        return dict(reply.get("session") or {})

    def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user text message and (by default) ask for a response, without waiting for it
        (the non-waiting counterpart of :meth:`say`; ``await session.wait_for()`` for the
        ``response.done``)."""
        if not isinstance(text, str):
            raise TypeError(f"send_text() takes the text as a str, not {type(text).__name__}")
        self.inputs.append({"kind": "text", "text": text, "t": time.perf_counter(), "response": {}})
        events = [build("conversation.item.create", item=user_text_item(text))]
        if respond:
            events.append(build("response.create"))
        self.send(*events)

    async def say(self, text: str, *, timeout: float = 120.0, **response: Any) -> Reply:
        """Add a user text message and get the model's reply (tool calls are run and followed
        up). ``response`` overrides response settings, e.g. ``output_modalities=["text"]``."""
        if not isinstance(text, str):
            raise TypeError(f"say() takes the text to say as a str, not {type(text).__name__}")
        self.inputs.append(
            {"kind": "text", "text": text, "t": time.perf_counter(), "response": dict(response)}
        )
        self.send(build("conversation.item.create", item=user_text_item(text)))
        return await self.respond(timeout=timeout, **response)

    async def respond(self, *, timeout: float = 120.0, **response: Any) -> Reply:
        """Ask for a response now (``response.create``) and wait for it."""
        pending = PendingReply.new(time.perf_counter())
        self._ask(pending, response)
        return await asyncio.wait_for(asyncio.shield(pending.future), timeout)

    async def send_audio(
        self,
        audio: npt.NDArray[Any] | str | bytes,
        sample_rate: int | None = None,
        *,
        chunk_size: int | str | None = None,
        realtime: bool = False,
        commit: bool | None = None,
        respond: bool = True,
        progress: bool | None = None,
        timeout: float = 120.0,
    ) -> Reply | None:
        """Send audio (numpy array + ``sample_rate``, a WAV path or bytes) and get the reply.

        The audio is resampled and encoded to the session's input format and streamed in chunks
        (``chunk_size`` bytes, or ``"low"``/``"balanced"``/``"high"`` = 20/100/1000 ms),
        ``realtime=True`` paces it like a microphone. With server VAD the server detects the turn
        (silence is appended so the turn can end); without, it is committed and a response
        requested (``commit``/``respond`` to change that). A tqdm bar shows for inputs > 5 s.
        """
        fmt = self.conn.session.input_format
        data = to_wire_audio(audio, sample_rate, fmt)
        self.inputs.append(
            {
                "kind": "audio",
                "audio": data,
                "format": fmt,
                "t": time.perf_counter(),
                "realtime": realtime,
            }
        )
        td = self.conn.session.turn_detection
        vad = td is not None and commit is not True
        info = get_format(fmt)
        if vad:
            data += vad_padding(fmt, td)
        step = chunk_bytes(chunk_size, fmt)
        pending = None
        if vad and respond and (td or {}).get("create_response", True):
            pending = PendingReply.new(time.perf_counter())
            self._replies.expect(pending)
        seconds = len(data) / info.bytes_per_second
        bar = progress_bar(seconds, progress)
        start = time.perf_counter()
        try:
            for index, offset in enumerate(range(0, len(data), step)):
                piece = data[offset : offset + step]
                self.send(
                    build("input_audio_buffer.append", audio=base64.b64encode(piece).decode())
                )
                if bar is not None:
                    bar.update(len(piece) / info.bytes_per_second)
                if realtime:
                    due = start + (offset + len(piece)) / info.bytes_per_second
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                elif index % 8 == 7:
                    await asyncio.sleep(0)
        finally:
            if bar is not None:
                bar.close()
        if not vad:
            await self.request(
                build("input_audio_buffer.commit"), expect="input_audio_buffer.committed"
            )
            if respond:
                return await self.respond(timeout=timeout)
            return None
        if pending is None:
            return None
        pending.reply.t_request = time.perf_counter()
        return await asyncio.wait_for(asyncio.shield(pending.future), timeout)

    async def cancel(self, response_id: str | None = None) -> None:
        """Cancel the active response (or ``response_id``)."""
        self.send(build("response.cancel", response_id=response_id))

    async def truncate(self, item: Item | str, audio_end_ms: int, content_index: int = 0) -> Event:
        """Truncate an assistant audio item at ``audio_end_ms`` (what was actually heard)."""
        item_id = item.id if isinstance(item, Item) else item
        return await self.request(
            build(
                "conversation.item.truncate",
                item_id=item_id,
                content_index=content_index,
                audio_end_ms=int(audio_end_ms),
            ),
            expect="conversation.item.truncated",
        )

    async def transcribe(
        self,
        audio: npt.NDArray[Any] | str | bytes,
        sample_rate: int | None = None,
        *,
        chunk_size: int | str | None = None,
        realtime: bool = False,
        timeout: float = 120.0,
    ) -> Transcription:
        """Stream audio and return its timed transcript (turns found by server VAD)."""
        collector = TranscriptionCollector(self._speech)
        for kind in collector.KINDS:
            self.on(kind, collector.feed)
        try:
            await self.send_audio(
                audio, sample_rate, chunk_size=chunk_size, realtime=realtime, respond=False
            )
            if self.conn.session.turn_detection is not None:
                await asyncio.sleep(0.05)
            deadline = loop_time() + timeout
            while not collector.complete:
                remaining = deadline - loop_time()
                if remaining <= 0:
                    raise TimeoutError("transcription did not complete in time")
                collector.finished.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(collector.finished.wait(), min(remaining, 1.0))
        finally:
            for kind in collector.KINDS:
                self.off(kind, collector.feed)
        return collector.result()

    # --- events ----------------------------------------------------------------------------------

    def _event_log(self) -> EventLog:
        return self.log

    @property
    def code_blocks(self) -> list[str]:
        """Fenced code blocks found in the assistant's messages, oldest first."""
        return code_blocks(self.conversation)

    def insert_code(self, index: int = -1) -> None:
        """Put ``code_blocks[index]`` (default: the latest) into a new cell below the running
        one (IPython's ``set_next_input``; see :meth:`VoiceChat.insert_code`)."""
        insert_code_block(self.code_blocks, index)

    def __repr__(self) -> str:
        state = "connected" if self.connected else ("closed" if self._closing else "connecting")
        return (
            f"<RealtimeSession {state} {self.dialect.value} {self.settings.model!r} "
            f"items={len(self.conversation)} events={len(self.log)}>"
        )


def loop_time() -> float:
    return asyncio.get_running_loop().time()


async def _send(ws: ClientConnection, text: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(text)


def session_type(intent: str | None) -> str:
    """The session type for ``intent`` (``"transcription"`` or ``"realtime"``)."""
    return "transcription" if intent == "transcription" else "realtime"
