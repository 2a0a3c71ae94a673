"""The kernel-side Realtime client: scripted sessions over WebSocket with numpy audio in and out,
Python tools, an event log, and recovery from drops, expiry and restarts.

::

    async with rt_jupyter.connect(instructions="Be brief.") as session:
        reply = await session.say("What is the weather in Paris?")
        reply = await session.send_audio("question.wav")
        session.log.to_frame()

With no API key configured, ``connect()`` starts an in-process local service and uses it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload
from urllib.parse import urlencode

import numpy as np
import numpy.typing as npt
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..audio import decode_audio, get_format
from ..config import Settings, resolve_settings
from ..core.dispatch import Dispatcher, EventsAPI
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
from ..errors import ConfigurationError
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
    ids,
    user_text_item,
)
from ..protocol.dialects import without_beta_only
from ..protocol.errors import error_from_http
from ..protocol.restore import restore_plan
from .audio_input import chunk_bytes, to_wire_audio
from .errors import (
    AuthenticationError,
    BetaShapeDisabledError,
    ConnectionLostError,
    ServerError,
)
from .reply import Reply, ToolCallRecord

__all__ = ["RealtimeSession", "TranscriptSegment", "Transcription", "connect"]

log = logging.getLogger("rt_jupyter.client")
C = TypeVar("C", bound=Callable[[Event], Any])
F = TypeVar("F", bound=Callable[..., Any])

#: Close codes after which the client reconnects (the server or network failed).
RECOVERABLE_CLOSE_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1014, 1015})


@dataclass
class TranscriptSegment:
    """One transcribed turn: its item, time span in the input audio (ms) and text."""

    item_id: str
    start_ms: int | None
    end_ms: int | None
    text: str


@dataclass
class Transcription:
    """The result of :meth:`RealtimeSession.transcribe`."""

    segments: list[TranscriptSegment] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)

    def __str__(self) -> str:
        return self.text


class _Pending:
    """A reply being waited for, and the future that delivers the final one."""

    def __init__(self, reply: Reply, future: asyncio.Future[Reply], params: dict[str, Any]):
        self.reply = reply
        self.future = future
        self.params = params
        self.generation = -1  # the connection its response.create went out on


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
        self.replies: list[Reply] = []
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
        self._tool_waits: dict[str, _Pending] = {}  # replies whose tool calls are running
        self._events = Dispatcher(on_error=self._callback_failed, spawn=self._spawn)
        self._claims: deque[_Pending] = deque()
        self._generation = 0
        self._unacked: dict[str, dict[str, Any]] = {}  # item creates not yet acknowledged
        self._active: dict[str, _Pending] = {}
        self._requests: dict[str, tuple[str, asyncio.Future[Event]]] = {}
        self._renew = False
        self._created = asyncio.Event()
        self._speech: dict[str, list[int | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen_types: set[str] = set()
        self._usage: dict[str, int] = {}

    # --- connecting --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The WebSocket URL this session connects to."""
        query: dict[str, str] = {}
        if self.intent == "transcription":
            query["intent"] = "transcription"
        else:
            query["model"] = self.settings.model
        return f"{self.settings.ws_base_url}/realtime?{urlencode(query)}"

    @property
    def connected(self) -> bool:
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
        headers = {"Authorization": f"Bearer {self._key()}"}
        if self.dialect is Dialect.BETA:
            headers["OpenAI-Beta"] = "realtime=v1"
        try:
            self._ws = await websockets.connect(
                self.url,
                additional_headers=headers,
                max_size=None,
                open_timeout=30,
                ping_interval=20,
                ping_timeout=20,
                compression=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            error = error_from_http(
                status, bytes(exc.response.body or b""), exc.response.headers, secrets=[self._key()]
            )
            detail = error["message"] or exc.response.reason_phrase
            if status in (401, 403):
                raise AuthenticationError(
                    f"{self.settings.base_url} refused the API key (HTTP {status}: {detail}). "
                    "Check OPENAI_API_KEY (or pass api_key=...); it is not retried."
                ) from None
            raise ConnectionLostError(f"HTTP {status} from {self.url}: {detail}") from None
        self.conn = _fresh_connection(self.dialect, self.conn)
        self._generation += 1
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
            recoverable = (
                self._renew or reason["code"] in RECOVERABLE_CLOSE_CODES or (reason["code"] is None)
            )
            if not (self.reconnect and recoverable):
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
                delay = (
                    0.0
                    if (self._renew and attempt == 1)
                    else min(self.backoff[1], self.backoff[0] * 2 ** (attempt - 1))
                    * (0.5 + random.random())
                )
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
        lost = [self._active.pop(rid) for rid in plan.responses if rid in self._active]
        lost += self._active.values()  # created without an id the conversation could keep
        self._active.clear()
        # requests that went out on the old connection but never started are lost as well
        unstarted = [p for p in self._claims if 0 <= p.generation < self._generation]
        for pending in unstarted:
            self._claims.remove(pending)
        self.log.note(
            "rt.restored",
            items=len(plan.replay) + len(plan.resend),
            lost_responses=len(lost) + len(unstarted),
            dropped=len(plan.dropped),
            open_calls=len(plan.open_calls),
        )
        for pending in [*lost, *unstarted]:  # the response died with the connection: ask again
            fresh = Reply(
                t_request=pending.reply.t_request,
                tool_calls=pending.reply.tool_calls,
                previous=pending.reply.previous,
            )
            self._request_response(_Pending(fresh, pending.future, {}), pending.params)
        queued, self._outbox = self._outbox, []
        for event in queued:
            try:
                self._send_now(event)
            except Exception as exc:  # never let one event stop the restore
                self.log.note("rt.warning", code="resend_failed", message=str(exc))

    def _fail(self, exc: BaseException) -> None:
        self._fatal = exc
        self._created.set()
        futures: list[asyncio.Future[Any]] = [p.future for p in self._claims]
        futures += [p.future for p in self._active.values()]
        futures += [f for _, f in self._requests.values()]
        futures += [p.future for p in self._tool_waits.values()]
        self._tool_waits.clear()
        self._claims.clear()
        self._active.clear()
        for future in futures:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # whoever awaits it gets the error; nobody else is warned
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
            self._on_response_created(event, t)
        elif kind == "response.done":
            self._on_response_done(event, t)
        elif kind == "response.function_call_arguments.done":
            self._on_arguments_done(event)
        elif kind.startswith("response.") and "response_id" in event.data:
            self._on_response_delta(event, t)
        elif kind == "input_audio_buffer.speech_started":
            self._speech[str(event.get("item_id"))] = [event.get("audio_start_ms"), None]
        elif kind == "input_audio_buffer.speech_stopped":
            span = self._speech.setdefault(str(event.get("item_id")), [None, None])
            span[1] = event.get("audio_end_ms")
        if self._requests:
            self._resolve_request(event)
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
        event_id = error.get("event_id")
        if event_id and event_id in self._requests:
            _, future = self._requests.pop(event_id)
            if not future.done():
                future.set_exception(ServerError(error))
            return
        for pending in list(self._claims):
            if event_id and pending.params.get("_event_id") == event_id:
                self._claims.remove(pending)
                if not pending.future.done():
                    pending.future.set_exception(ServerError(error))
                return
        log.warning("server error: %s", error)

    def _resolve_request(self, event: Event) -> None:
        """The oldest request waiting for this kind of event gets it."""
        kind = event.kind
        if kind == "transcription_session.updated":
            kind = "session.updated"
        for event_id, (expect, future) in list(self._requests.items()):
            if expect == kind:
                del self._requests[event_id]
                if not future.done():
                    future.set_result(event)
                return

    def _on_response_created(self, event: Event, t: float) -> None:
        response = event.get("response") or {}
        rid = str(response.get("id"))
        in_conversation = response.get("conversation_id", "x") is not None
        pending = None
        for candidate in self._claims:
            oob = candidate.params.get("conversation") == "none"
            if oob != (not in_conversation):
                continue
            if oob and candidate.params.get("metadata") != response.get("metadata"):
                continue
            pending = candidate
            break
        if pending is not None:
            self._claims.remove(pending)
        else:  # started by the server (VAD turn) or by someone else's response.create
            loop = asyncio.get_running_loop()
            pending = _Pending(Reply(t_request=t), loop.create_future(), {})
        reply = pending.reply
        reply.response_id = rid
        reply.t_created = t
        reply.sample_rate = get_format(self.conn.conversation.output_format).sample_rate
        self._active[rid] = pending
        self.replies.append(reply)

    def _on_response_delta(self, event: Event, t: float) -> None:
        pending = self._active.get(str(event.get("response_id")))
        if pending is None:
            return
        reply = pending.reply
        kind = event.kind
        if kind == "response.output_text.delta":
            reply.t_first_text = reply.t_first_text or t
            reply.text_parts.append(str(event.get("delta") or ""))
        elif kind == "response.output_audio_transcript.delta":
            reply.t_first_text = reply.t_first_text or t
            reply.transcript_parts.append(str(event.get("delta") or ""))
        elif kind == "response.output_audio.delta":
            reply.t_first_audio = reply.t_first_audio or t
            raw = base64.b64decode(str(event.get("delta") or ""))
            reply.audio_chunks.append(decode_audio(raw, self.conn.conversation.output_format))

    def _on_response_done(self, event: Event, t: float) -> None:
        response = event.get("response") or {}
        if isinstance(response.get("usage"), Mapping):
            self._usage = add_usage(self._usage, response["usage"])
        pending = self._active.pop(str(response.get("id")), None)
        if pending is None:
            return
        reply = pending.reply
        reply.status = str(response.get("status"))
        reply.status_details = response.get("status_details")
        reply.usage = response.get("usage")
        reply.t_done = t
        conv = self.conn.conversation
        reply.items = [conv.get(str(o.get("id"))) or Item(o) for o in response.get("output") or []]
        calls = [
            (str(i.call_id), str(i.name), i.arguments)
            for i in reply.items
            if i.type == "function_call"
        ]
        rid = str(response.get("id"))
        self._tool_waits[rid] = pending  # before: the runner may be ready at once
        if not self._tool_runner.response_done(rid, reply.status, calls):
            del self._tool_waits[rid]
            if not pending.future.done():
                pending.future.set_result(reply)

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

    def _tool_schemas(self, tools: Sequence[Any]) -> list[dict[str, Any]]:
        return tool_schemas(tools, self._tools, where="tools")

    def _on_arguments_done(self, event: Event) -> None:
        name = event.get("name")
        if not name:
            item = self.conn.conversation.get(str(event.get("item_id", "")))
            name = item.name if item is not None else ""
        self._tool_runner.call_done(
            str(event.get("call_id") or ""),
            str(name or ""),
            str(event.get("arguments") or ""),
            str(event.get("response_id") or ""),
        )

    def _tool_result(self, result: ToolResult) -> None:
        if result.error is not None:
            log.warning("tool %s raised %s", result.name, result.error)
            self.log.note("rt.tool_error", name=result.name, error=result.error)

    def _tools_ready(self, response_id: str, results: list[ToolResult], follow_up: bool) -> None:
        """The tool calls of a finished response are answered: send the outputs, then ask for
        the next response (or hand the reply over when there is none to ask for)."""
        pending = self._tool_waits.pop(response_id, None)
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
            if pending is not None and not pending.future.done():
                pending.future.set_exception(exc)
                pending.future.exception()
            return
        if pending is None:
            return
        if not follow_up:
            pending.reply.tool_calls = [*pending.reply.tool_calls, *records]
            if not pending.future.done():
                pending.future.set_result(pending.reply)
            return
        follow = Reply(
            t_request=time.perf_counter(),
            tool_calls=[*pending.reply.tool_calls, *records],
            previous=[*pending.reply.previous, pending.reply],
        )
        self._request_response(_Pending(follow, pending.future, {}), {})

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

    def _request_response(self, pending: _Pending, params: dict[str, Any]) -> None:
        event_id = ids.new_id("evt")
        params = {k: v for k, v in params.items() if k != "_event_id"}
        pending.params = {**params, "_event_id": event_id}
        self._claims.append(pending)
        response = {k: v for k, v in params.items() if not k.startswith("_")}
        if self.connected and self._created.is_set():
            pending.generation = self._generation
        self.send(build("response.create", event_id=event_id, response=response or None))

    async def request(
        self, event: Mapping[str, Any], *, expect: str, timeout: float = 30.0
    ) -> Event:
        """Send ``event`` and wait for the event of type ``expect`` that answers it (or raise the
        :class:`ServerError` the server answered with)."""
        loop = asyncio.get_running_loop()
        event_id = ids.new_id("evt")
        future: asyncio.Future[Event] = loop.create_future()
        self._requests[event_id] = (expect, future)
        self.send({**event, "event_id": event_id})
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._requests.pop(event_id, None)

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
            if not isinstance(tools, list | tuple):
                raise TypeError(f"tools={tools!r:.80}: use a list of Python functions or schemas")
            settings["tools"] = self._tool_schemas(tools)
        payload = session_settings(
            settings,
            session_type="transcription" if self.intent == "transcription" else "realtime",
        )
        if self.dialect is Dialect.GA:
            payload = without_beta_only(payload)
        _merge(self._config, payload)
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
        loop = asyncio.get_running_loop()
        pending = _Pending(Reply(t_request=time.perf_counter()), loop.create_future(), {})
        self._request_response(pending, dict(response))
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
            pad_ms = int(td.get("silence_duration_ms", 500)) + 500 if td else 700
            silence = b"\x00" * (info.bytes_per_second * pad_ms // 1000)
            if fmt != "pcm16":
                from ..audio import encode_audio

                silence = encode_audio(np.zeros(len(silence), np.float32), 8000, fmt)
            data += silence
        step = chunk_bytes(chunk_size, fmt)
        loop = asyncio.get_running_loop()
        pending = None
        if vad and respond and (td or {}).get("create_response", True):
            pending = _Pending(Reply(t_request=time.perf_counter()), loop.create_future(), {})
            self._claims.append(pending)
        seconds = len(data) / info.bytes_per_second
        bar = _progress(seconds, progress)
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
        committed: list[str] = []
        done: dict[str, str] = {}
        finished = asyncio.Event()

        def on_commit(event: Event) -> None:
            committed.append(str(event.get("item_id")))

        def on_text(event: Event) -> None:
            done[str(event.get("item_id"))] = str(event.get("transcript") or "")
            if set(committed) <= set(done):
                finished.set()

        def on_failed(event: Event) -> None:
            done[str(event.get("item_id"))] = ""
            if set(committed) <= set(done):
                finished.set()

        self.on("input_audio_buffer.committed", on_commit)
        self.on("conversation.item.input_audio_transcription.completed", on_text)
        self.on("conversation.item.input_audio_transcription.failed", on_failed)
        try:
            await self.send_audio(
                audio, sample_rate, chunk_size=chunk_size, realtime=realtime, respond=False
            )
            if self.conn.session.turn_detection is not None:
                await asyncio.sleep(0.05)
            deadline = loop_time() + timeout
            while not (committed and set(committed) <= set(done)):
                remaining = deadline - loop_time()
                if remaining <= 0:
                    raise TimeoutError("transcription did not complete in time")
                finished.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), min(remaining, 1.0))
        finally:
            self.off("input_audio_buffer.committed", on_commit)
            self.off("conversation.item.input_audio_transcription.completed", on_text)
            self.off("conversation.item.input_audio_transcription.failed", on_failed)
        return Transcription(
            [
                TranscriptSegment(
                    item_id,
                    self._speech.get(item_id, [None, None])[0],
                    self._speech.get(item_id, [None, None])[1],
                    done[item_id],
                )
                for item_id in committed
            ]
        )

    # --- events ----------------------------------------------------------------------------------

    def _event_log(self) -> EventLog:
        return self.log

    @property
    def code_blocks(self) -> list[str]:
        """Fenced code blocks found in the assistant's messages, oldest first."""
        from ..frames import code_blocks

        return code_blocks(self.conversation)

    def insert_code(self, index: int = -1) -> None:
        """Put ``code_blocks[index]`` (default: the latest) into a new cell below the running
        one (IPython's ``set_next_input``; see :meth:`VoiceChat.insert_code`)."""
        from ..core.code import insert_code_block

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


def _fresh_connection(dialect: Dialect, old: RealtimeConnection) -> RealtimeConnection:
    conn = RealtimeConnection("client", dialect, keep_audio=old.conversation.keep_audio)
    return conn


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> None:
    from ..protocol.session import deep_merge

    deep_merge(base, update)


def _progress(seconds: float, progress: bool | None) -> Any:
    if progress is False or (progress is None and seconds <= 5.0):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(
        total=round(seconds, 2),
        unit="s",
        desc="sending audio",
        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s",
    )


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
    intent: str | None = None,
    tools: Sequence[Any] | None = None,
    log_path: str | None = None,
    keep_audio: bool = False,
    reconnect: bool = True,
    quiet: bool = False,
    **settings: Any,
) -> _Connect:
    """Open a :class:`RealtimeSession`: ``session = await connect(...)`` or
    ``async with connect(...) as session``.

    Configuration comes from the arguments, then the environment (``OPENAI_API_KEY`` or
    ``NEW_API_KEY``, ``OPENAI_BASE_URL``, ``RT_JUPYTER_MODEL``, ``RT_JUPYTER_DIALECT``).
    **With no key configured it starts an in-process local service** and says so in one line.
    ``dialect="beta"`` speaks ``OpenAI-Beta: realtime=v1``; ``intent="transcription"`` opens a
    transcription-only session. Other keyword arguments (``instructions``, ``voice``,
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
    if tools is not None and not isinstance(tools, list | tuple):
        raise TypeError(f"tools={tools!r:.80}: use a list of Python functions or schemas")
    if settings:  # a bad setting raises ConfigurationError before anything connects
        session_settings(
            settings, session_type="transcription" if intent == "transcription" else "realtime"
        )
    if model is not None and not isinstance(model, str):
        raise ConfigurationError(
            f"model={model!r}: use a model name such as 'gpt-realtime' (a string)"
        )
    try:
        resolved = resolve_settings(
            api_key=api_key if isinstance(api_key, str) else None,
            base_url=base_url,
            model=model,
            dialect=dialect,
            local=local if api_key is None else False,
        )
    except ConfigurationError:
        raise
    except ValueError as exc:  # e.g. an unknown dialect
        raise ConfigurationError(str(exc)) from None

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
            key = api_key if api_key is not None else str(resolved.api_key)
        session = RealtimeSession(
            resolved,
            api_key=key,
            intent=intent,
            log_path=log_path,
            keep_audio=keep_audio,
            reconnect=reconnect,
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
