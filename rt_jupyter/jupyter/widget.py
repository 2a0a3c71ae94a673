"""``VoiceChat``: a voice conversation with a realtime model, in a notebook output.

The browser does the audio: it opens a WebRTC call (microphone up, model audio down through an
``<audio>`` element) with an ephemeral key from the server extension (or, where there is none,
minted by this kernel). Server events travel from the call's ``oai-events`` data channel to Python
in batches over the widget's comm; Python keeps the event log, a conversation mirror, runs tools and
sends client events back. No key is ever a trait, so none is saved with the notebook.

Comm messages (``content["type"]``), browser → kernel:

* ``hello`` — the front end is ready (messages sent before are queued until then).
* ``events`` — ``{"seq": n, "events": [[direction, browser_ms, json_text], ...]}``: every event
  that crossed the data channel (``"in"``/``"out"``) and local notes (``"local"``: call start,
  status, timings), in order; ``seq`` counts batches.
* ``mint`` — ``{"id", "model", "session"}``: mint an ephemeral key here (no server extension).
* ``browser`` — ``{"report": {secure_context, webrtc, media_devices, microphones,
  microphone_permission, user_agent}}``: what the page allows (sent after render and after each
  connect attempt); checked and stored in the read-only ``browser`` trait.

Kernel → browser: ``send`` (``{"events": [json_text, ...]}`` to put on the data channel),
``minted`` (``{"id", "ok", "token" | "error"}``), ``connect``, ``hangup``, ``ice`` (ICE servers
with credentials, never synced as state).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import pathlib
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import anywidget
import traitlets as t

from ..core.code import code_blocks as find_code_blocks
from ..core.code import insert_code_block
from ..core.dispatch import Dispatcher, EventsAPI
from ..core.sending import checked_send
from ..core.settings import DEPRECATED_SETTINGS, deprecated, did_you_mean, session_settings
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
from ..errors import (
    ConfigurationError,
    NotConnectedError,
)
from ..log import EventLog
from ..protocol import (
    Conversation,
    Dialect,
    Event,
    LocalProtocolError,
    RealtimeConnection,
    RemoteProtocolError,
    build,
    function_call_output_item,
    function_calls,
    user_text_item,
)
from ..protocol.limits import DATA_CHANNEL_MAX_MESSAGE_BYTES, split_session_update
from .browser import bounded_message, browser_report, call_error
from .later import Later
from .mint import mint_for_page
from .relay import MAX_HELD, Gap, Reorder

__all__ = ["SettingError", "VoiceChat"]

logger = logging.getLogger("rt_jupyter.widget")

_STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"
_MAX_DC_MESSAGE: Final = DATA_CHANNEL_MAX_MESSAGE_BYTES  # a larger message can close it
_TRANSCRIPT_INTERVAL: Final = 0.1  # seconds between syncs of the transcript trait
_DEFAULT_AUDIO_CONSTRAINTS: Final = {
    "echoCancellation": True,
    "noiseSuppression": True,
    "autoGainControl": True,
}
_SESSION_TRAITS: Final = (
    "instructions",
    "voice",
    "output_modalities",
    "turn_detection",
    "input_transcription",
    "tools",
    "tool_choice",
)
_TRANSCRIPT_KINDS: Final = frozenset(
    {
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.deleted",
        "conversation.item.truncated",
        "conversation.item.input_audio_transcription.completed",
        "response.output_text.done",
        "response.output_audio_transcript.done",
        "response.output_item.done",
        "response.done",
    }
)

F = TypeVar("F", bound=Callable[..., Any])

#: Relayed batches that may wait for an earlier one, and for how long (seconds), before it is
#: declared missing.
MAX_HELD_BATCHES = MAX_HELD
RELAY_HOLD_S = 1.0
#: A relayed batch and when it arrived (``time.perf_counter()``, ``time.time()``).
_Batch = tuple[Mapping[str, Any], tuple[float, float]]


class SettingError(ConfigurationError, t.TraitError):
    """A refused ``VoiceChat`` setting: a :class:`~rt_jupyter.ConfigurationError` (so a
    ``ValueError``) that is also the ``TraitError`` traitlets callers expect."""


class ChatLog(EventLog):
    """The widget's :class:`~rt_jupyter.log.EventLog`; it also takes the few ``logging`` calls
    ipywidgets makes on ``widget.log`` (forwarded to the ``rt_jupyter.widget`` logger)."""

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        logger.debug(msg, *args, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        logger.info(msg, *args, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        logger.warning(msg, *args, **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        logger.error(msg, *args, **kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        logger.exception(msg, *args, **kwargs)


def _static(name: str) -> pathlib.Path | str:
    path = _STATIC / name
    if path.exists():
        return path
    if name.endswith(".js"):  # a source checkout without `npm run build`
        return (
            "export default { render({ el }) { el.textContent = 'rt_jupyter: the widget bundle "
            "is missing; run `npm run build` in js/ (or reinstall rt_jupyter).'; } };"
        )
    return ""


#: Traits the browser or the kernel set (what happened), not settings ``VoiceChat()`` takes.
_STATE_TRAITS: Final = frozenset(
    {"status", "error", "dialect", "upstream", "browser", "transcript", "usage", "session"}
)
#: ipywidgets' own ``DOMWidget`` options (accepted, not listed among the settings).
_DOM_TRAITS: Final = frozenset({"layout", "tabbable", "tooltip"})


class VoiceChat(EventsAPI, anywidget.AnyWidget):
    """Talk to a realtime model from a notebook: ``chat = VoiceChat(); chat``.

    Uses the Jupyter server extension's keys (OpenAI when the server has an API key, else the local
    offline service inside the server); where no extension answers (VS Code, Colab, Voilà) the
    kernel mints the key. Session settings are traits: changing one while connected sends
    ``session.update``. Python functions become tools with ``tools=[fn]`` or ``@chat.tool``.

    Events: ``chat.log`` (an :class:`~rt_jupyter.log.EventLog`; ``chat.log.to_frame()``),
    ``chat.conversation`` (the conversation mirror), ``chat.on(kind, callback)`` and
    ``await chat.wait_for(kind)`` (see :meth:`wait_for`). Code the assistant writes:
    ``chat.code_blocks`` (the widget shows each block with a Copy button) and
    ``chat.insert_code()`` / ``%rt code`` (into the next cell). ``chat.browser`` holds what the
    page allows (secure origin, microphones); ``rt_jupyter.check(widget=chat)`` explains it.
    """

    _esm = _static("widget.js")
    _css = _static("widget.css")

    # --- state set by the browser ----------------------------------------------------------------
    status = t.Unicode("idle", help="idle, connecting, connected, dropped, closed or error").tag(
        sync=True
    )
    error = t.Unicode("", help="The last problem, in plain words ('' when none).").tag(sync=True)

    @t.validate("error")
    def _bounded_error(self, proposal: Any) -> str:
        """The ``error`` trait is synced and saved with the notebook: whoever sets it (the
        browser, this class), it holds no key and at most 2,000 characters."""
        return bounded_message(str(proposal["value"]))

    dialect = t.Unicode("", help="Dialect of the current call: 'ga' or 'beta'.").tag(sync=True)
    upstream = t.Unicode("", help="'local' (offline service) or 'remote' (OpenAI...).").tag(
        sync=True
    )
    muted = t.Bool(False, help="Microphone muted.").tag(sync=True)
    browser = t.Dict(
        read_only=True,
        help="What the browser reported (after render and after each connect attempt): "
        "secure_context, webrtc, media_devices, microphones (count or None), "
        "microphone_permission ('granted', 'denied', 'prompt' or 'unknown'), user_agent. "
        "rt_jupyter.check(widget=chat) explains it.",
    ).tag(sync=True)

    # --- conversation (set here, saved with the notebook) ----------------------------------------
    transcript = t.List(
        t.Dict(),
        help="[{role, text, item_id}] for every message with text, in order (synced at most "
        "10 times a second; the widget shows the live transcript itself).",
    ).tag(sync=True)
    usage = t.Dict(help="Token totals over all responses.").tag(sync=True)

    # --- session settings -------------------------------------------------------------------------
    model = t.Unicode("", help="Realtime model ('' = the server's default).").tag(sync=True)
    instructions = t.Unicode("", help="System instructions ('' = the service default).").tag(
        sync=True
    )
    voice = t.Unicode("", help="Output voice, e.g. 'marin' ('' = the service default).").tag(
        sync=True
    )
    output_modalities = t.List(
        t.Unicode(), default_value=["audio"], help="['audio'] (speech) or ['text']."
    ).tag(sync=True)
    turn_detection = t.Union(
        [t.Unicode(), t.Dict()],
        default_value="server_vad",
        allow_none=True,
        help="'server_vad', 'semantic_vad', a dict, or None for push-to-talk.",
    ).tag(sync=True)
    input_transcription = t.Union(
        [t.Unicode(), t.Dict()],
        default_value="gpt-4o-mini-transcribe",
        allow_none=True,
        help="Transcription model for the user's speech (None: no user transcripts).",
    ).tag(sync=True)
    tools: t.List[Any] = t.List(
        help="Tool schemas; Python functions assigned here become tools that run in the kernel."
    ).tag(sync=True)
    tool_choice = t.Union(
        [t.Unicode(), t.Dict()], default_value="auto", help="'auto', 'none', 'required' or {...}."
    ).tag(sync=True)
    session = t.Dict(
        read_only=True, help="The session sent to the service (built from the settings)."
    ).tag(sync=True)

    # --- WebRTC and keys -------------------------------------------------------------------------
    ice_servers = t.List(
        t.Dict(), help="RTCIceServer dicts (none needed for the local service)."
    ).tag(sync=True)
    audio_constraints = t.Dict(
        default_value=dict(_DEFAULT_AUDIO_CONSTRAINTS),
        help="getUserMedia audio constraints for the microphone.",
    ).tag(sync=True)
    connection_timeout = t.Float(30.0, min=1.0, help="Seconds before connecting gives up.").tag(
        sync=True
    )
    codec = t.CaselessStrEnum(
        ["opus", "pcmu", "pcma"], default_value="opus", help="Preferred audio codec."
    ).tag(sync=True)
    key_source = t.CaselessStrEnum(
        ["auto", "server", "kernel"],
        default_value="auto",
        help="Where the browser gets its ephemeral key: 'auto' (server extension, then kernel).",
    ).tag(sync=True)
    tool_timeout = t.Float(
        DEFAULT_TOOL_TIMEOUT,
        help="Seconds each tool call may take; a call that takes longer answers the model with "
        "a timeout error.",
    )
    camera = t.Bool(False, help="Show a button that sends a camera snapshot.").tag(sync=True)
    _instance = t.Unicode(
        help="Identifies this widget to its front end (views share one call per widget)."
    ).tag(sync=True)

    @t.default("_instance")
    def _new_instance(self) -> str:
        import uuid

        return uuid.uuid4().hex

    # --- kernel side only -------------------------------------------------------------------------
    log = t.Instance(
        EventLog,
        help="Every event of every call: browser arrival time in 'wall', kernel receive time "
        "in 't' (and in received_at).",
    )

    @t.default("log")
    def _default_log(self) -> EventLog:
        return ChatLog()

    def __init__(
        self,
        *,
        tools: Iterable[Callable[..., Any] | Mapping[str, Any] | Tool] = (),
        **kwargs: Any,
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self._tool_runner = ToolRunner(self._tools, self._tools_ready, on_result=self._tool_result)
        self._ice_secret: list[dict[str, Any]] = []
        self._ready = False
        self._outbox: list[dict[str, Any]] = []
        self._batch_wall: float | None = None
        self.received_at: array[float] = array("d")
        for old, new in DEPRECATED_SETTINGS.items():
            if old in kwargs and self.has_trait(new):
                if new in kwargs:
                    raise ConfigurationError(
                        f"VoiceChat(): give {new}= only ({old}= is its deprecated old name)"
                    )
                deprecated(f"VoiceChat({old}=)", f"VoiceChat({new}=)", stacklevel=2)
                kwargs[new] = kwargs.pop(old)
        public = [
            n
            for n in self.class_trait_names(sync=True)
            if not n.startswith("_") and n not in _STATE_TRAITS and n not in _DOM_TRAITS
        ] + ["tool_timeout"]
        unknown = [k for k in kwargs if k not in public and k not in _DOM_TRAITS]
        if unknown:
            raise ConfigurationError(
                f"VoiceChat() got unexpected argument(s) {did_you_mean(unknown, public)}; "
                f"settings are: {', '.join(sorted(public))}"
            )
        super().__init__(**kwargs)
        self.log.subscribe(self._on_logged)
        self.connection = RealtimeConnection("client", Dialect.GA, validate_outgoing=True)
        self._events = Dispatcher(on_error=self._callback_failed)
        self._transcript_prefix: list[dict[str, Any]] = []
        self._code_prefix: list[str] = []
        self._calls = 0
        self._relay: Reorder[_Batch] = Reorder(MAX_HELD_BATCHES)
        self._held = Later(RELAY_HOLD_S, self._release_held)
        self._transcript_sync = Later(_TRANSCRIPT_INTERVAL, self._update_transcript)
        if tools:
            if not isinstance(tools, Iterable) or isinstance(tools, str | bytes | Mapping):
                raise TypeError(
                    "VoiceChat(tools=...) takes a list of Python functions or tool schemas, not "
                    f"{type(tools).__name__}"
                )
            self.tools = list(tools)
        self._refresh_session()
        self.on_msg(self._on_custom_msg)
        self.observe(self._on_setting, names=list(_SESSION_TRAITS))
        self.observe(self._on_ice, names=["ice_servers"])

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except t.TraitError as exc:  # a value of the wrong type for a setting, a read-only one
            if isinstance(exc, ConfigurationError) or not self.has_trait(name):
                raise
            trait = self.traits()[name]
            if trait.read_only:
                raise SettingError(f"VoiceChat.{name} is read-only: {trait.help}") from None
            raise SettingError(f"VoiceChat.{name}: {str(exc).rstrip('.')}. {trait.help}") from None

    def _on_logged(self, index: int) -> None:
        while len(self.received_at) < index:  # events logged before this widget subscribed
            self.received_at.append(self.log.wall[len(self.received_at)])
        self.received_at.append(self._batch_wall if self._batch_wall is not None else time.time())

    # --- settings ---------------------------------------------------------------------------------

    def _build_session(self, **override: Any) -> dict[str, Any]:
        values = {name: override.get(name, getattr(self, name, None)) for name in _SESSION_TRAITS}
        return session_settings(
            {
                "instructions": values["instructions"] or None,
                "voice": values["voice"] or None,
                "output_modalities": values["output_modalities"] or None,
                "turn_detection": values["turn_detection"],
                "input_transcription": values["input_transcription"],
                "tools": values["tools"] if values["tools"] is not None else None,
                "tool_choice": values["tool_choice"] or None,
            }
        )

    @t.validate(*_SESSION_TRAITS)
    def _check_setting(self, proposal: Any) -> Any:
        name = proposal["trait"].name
        value = proposal["value"]
        if name == "tools":
            value = self._tool_schemas(value)
        try:
            self._build_session(**{name: value})
        except ValueError as exc:
            raise SettingError(f"VoiceChat.{name}: {exc}") from None
        return value

    def _tool_schemas(self, entries: Iterable[Any]) -> list[dict[str, Any]]:
        try:
            return tool_schemas(entries, self._tools, where="VoiceChat.tools")
        except ValueError as exc:
            raise SettingError(str(exc)) from None
        except TypeError as exc:
            raise t.TraitError(str(exc)) from None

    def _refresh_session(self) -> dict[str, Any]:
        session = self._build_session()
        self.set_trait("session", session)
        return session

    def _on_setting(self, change: Mapping[str, Any]) -> None:
        try:
            session = self._refresh_session()
            if self.status == "connected":
                update = {k: v for k, v in session.items() if k != "model"}
                self._send_session_update(update)
        except Exception as exc:  # observers swallow errors: make them visible
            logger.exception("applying %s failed", change.get("name"))
            self.error = f"Could not apply {change.get('name')}: {exc}"
            self.log.note("rt.error", message=self.error)

    def _send_session_update(self, session: Mapping[str, Any]) -> None:
        """``session.update``, split when one message would not fit the data channel."""
        self.send(*split_session_update(session))

    @t.validate("tool_timeout")
    def _check_tool_timeout(self, proposal: Any) -> float:
        try:
            self._tool_runner.timeout = proposal["value"]
        except ValueError as exc:
            raise SettingError(f"VoiceChat.{exc}") from None
        return float(proposal["value"])

    def _on_ice(self, change: Mapping[str, Any]) -> None:
        self._push_ice()

    @t.validate("ice_servers")
    def _split_ice(self, proposal: Any) -> list[dict[str, Any]]:
        """Keep TURN credentials out of the synced (saved) state: they go by message."""
        servers = [dict(s) for s in proposal["value"]]
        for server in servers:
            if not server.get("urls"):
                raise SettingError(
                    f"VoiceChat.ice_servers: each server needs 'urls', got {server!r}"
                )
        self._ice_secret = copy.deepcopy(servers)
        return [
            {k: v for k, v in s.items() if k not in ("username", "credential")} for s in servers
        ]

    def _push_ice(self) -> None:
        if any("credential" in s or "username" in s for s in self._ice_secret):
            self._send_msg({"type": "ice", "servers": self._ice_secret})

    # --- tools ------------------------------------------------------------------------------------

    def tool(
        self,
        fn: F | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Any:
        """Decorator: make ``fn`` a tool of this chat (schema from its signature and docstring).

        ``@chat.tool`` or ``@chat.tool(name="weather")``. The function runs in the kernel when
        the model calls it; its return value (JSON-encoded unless a string) goes back to the
        model, and the model answers with it. Exceptions go back as ``{"error": ...}``.
        Calls start as soon as their arguments are complete (sync functions in a worker thread,
        so the kernel stays responsive); each has :attr:`tool_timeout` seconds. The outputs and
        one ``response.create`` go out when the response that made the calls is done.
        """

        def register(f: F) -> F:
            tool = function_tool(f, name=name, description=description)
            kept = [s for s in self.tools if s.get("name") != tool.name]
            self.tools = [*kept, tool]
            return f

        if fn is not None:
            return register(fn)
        return register

    def _tool_result(self, result: ToolResult) -> None:
        if result.error is not None:
            self.log.note(
                "rt.tool_error", name=result.name, call_id=result.call_id, error=result.error
            )
        else:
            self.log.note(
                "rt.tool_result",
                name=result.name,
                call_id=result.call_id,
                seconds=round(result.seconds, 6),
            )

    def _tools_ready(self, response_id: str, results: list[ToolResult], follow_up: bool) -> None:
        """The calls of a finished response are answered: their outputs, then one
        ``response.create``, go out together."""
        events = [
            build("conversation.item.create", item=function_call_output_item(r.call_id, r.output))
            for r in results
        ]
        if follow_up:
            events.append(build("response.create"))
        try:
            self.send(*events)
        except RuntimeError as exc:  # the call ended meanwhile
            self.log.note("rt.warning", message=f"tool output not sent: {exc}")

    # --- events from the browser ------------------------------------------------------------------

    def _on_custom_msg(self, _widget: Any, content: Any, buffers: Sequence[bytes]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "events":
                self._receive_batch(content)
            elif kind == "hello":
                self._ready = True
                self._relay.reset()
                self._push_ice()
                queued, self._outbox = self._outbox, []
                for message in queued:
                    self.send_msg_now(message)
            elif kind == "mint":
                self._mint_in_kernel(content)
            elif kind == "browser":
                self._receive_browser_report(content.get("report"))
        except Exception:  # never let the comm handler die silently
            logger.exception("rt_jupyter widget: handling %r failed", kind)

    def _receive_browser_report(self, report: Any) -> None:
        if not isinstance(report, Mapping):
            return
        self.set_trait("browser", browser_report(report))

    def send_msg_now(self, message: dict[str, Any]) -> None:
        """Send one custom message to the front end (internal)."""
        super().send(message)

    def _send_msg(self, message: dict[str, Any]) -> None:
        if self._ready:
            self.send_msg_now(message)
        else:
            self._outbox.append(message)

    def _receive_batch(self, content: Mapping[str, Any]) -> None:
        """A batch of relayed events, handed on in ``seq`` order (:class:`~.relay.Reorder`):
        the log, the conversation mirror and the callbacks see events in the order the browser
        received them. A batch still missing after :data:`RELAY_HOLD_S` is noted as an
        ``rt.relay_gap``."""
        arrived = (time.perf_counter(), time.time())
        seq = content.get("seq")
        self._hand_on(*self._relay.push(seq if isinstance(seq, int) else None, (content, arrived)))

    def _hand_on(self, ready: list[_Batch], gaps: list[Gap]) -> None:
        for gap in gaps:
            self.log.note("rt.relay_gap", expected=gap.expected, got=gap.got)
        for content, arrived in ready:
            self._handle_batch(content, arrived)
        if self._relay.holding:
            self._held.schedule()  # without a loop, at once: go on without the missing batch
        else:
            self._held.cancel()

    def _release_held(self) -> None:
        self._hand_on(*self._relay.expire())

    def _handle_batch(self, content: Mapping[str, Any], arrived: tuple[float, float]) -> None:
        t_kernel, wall_kernel = arrived
        dirty = False
        self._batch_wall = wall_kernel
        try:
            dirty = self._receive_events(content.get("events") or (), t_kernel)
        finally:
            self._batch_wall = None
        if dirty:
            self._transcript_sync.schedule()

    def _receive_events(self, entries: Iterable[Any], t_kernel: float) -> bool:
        dirty = False
        for entry in entries:
            try:
                direction, browser_ms, text = entry
                wall = float(browser_ms) / 1000.0
            except (TypeError, ValueError):
                continue
            if direction == "in":
                try:
                    events = self.connection.receive(text)
                except RemoteProtocolError as exc:
                    self.log.note("rt.bad_message", error=str(exc), text=str(text)[:200])
                    continue
                for event in events:
                    self.log.add("in", event, text=text, t=t_kernel, wall=wall)
                    dirty |= self._dispatch(event)
            elif direction in ("out", "local"):
                try:
                    data = json.loads(text)
                except ValueError:
                    continue
                if direction == "local":
                    self._local_event(data)
                self.log.add(direction, data, text=text, t=t_kernel, wall=wall)
        return dirty

    def _local_event(self, data: Mapping[str, Any]) -> None:
        if data.get("type") == "rt.status" and data.get("status") in ("error", "dropped"):
            # the call failed or ended: a wait_for pending now would wait in vain
            self._events.fail_waiters(call_error(data))
        elif data.get("type") == "rt.call_started":
            self._transcript_sync.flush()
            if self._calls:
                self._transcript_prefix = list(self.transcript)
                self._code_prefix.extend(find_code_blocks(self.conversation))
            self._calls += 1
            dialect = str(data.get("dialect") or "ga")
            try:
                chosen = Dialect.parse(dialect)
            except ValueError:
                chosen = Dialect.GA
            self.connection = RealtimeConnection("client", chosen)
            self._tool_runner.reset()

    def _dispatch(self, event: Event) -> bool:
        kind = event.kind
        if kind == "response.function_call_arguments.done":
            self._tool_runner.arguments_done(event.data, self.conversation)
        elif kind == "response.done":
            response = event.get("response") or {}
            self._add_usage(response.get("usage"))
            self._tool_runner.response_done(
                str(response.get("id") or ""), response.get("status"), function_calls(response)
            )
        self._events.dispatch(event)
        return kind in _TRANSCRIPT_KINDS

    def _callback_failed(
        self, callback: Callable[[Event], Any], event: Event, exc: Exception
    ) -> None:
        name = getattr(callback, "__name__", repr(callback))
        kind = event.kind
        logger.error("callback %s for %s failed", name, kind, exc_info=exc)
        self.log.note("rt.callback_error", callback=name, event_kind=kind, error=repr(exc))
        self.error = f"Your callback {name}() for {kind!r} raised {exc!r}"

    def _add_usage(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            self.usage = add_usage(self.usage, usage)

    def _update_transcript(self) -> None:
        transcript = self._transcript_prefix + transcript_entries(self.conversation)
        if transcript != self.transcript:
            self.transcript = transcript

    # --- minting in the kernel (no server extension) ---------------------------------------------

    def _mint_in_kernel(self, content: Mapping[str, Any]) -> None:
        loop = _running_loop()

        def reply(message: dict[str, Any]) -> None:
            if loop is not None and loop.is_running():
                loop.call_soon_threadsafe(self.send_msg_now, message)
            else:
                self.send_msg_now(message)

        mint_for_page(content, reply)

    # --- public API -------------------------------------------------------------------------------

    @property
    def conversation(self) -> Conversation:
        """The conversation mirror of the current call (items, responses, transcript)."""
        return self.connection.conversation

    @property
    def session_config(self) -> dict[str, Any]:
        """The service's current session configuration, as its last ``session.created`` /
        ``session.updated`` reported it (:attr:`session` is what this widget asks for)."""
        return dict(self.connection.session.data)

    @property
    def modalities(self) -> list[str]:
        """Deprecated: use :attr:`output_modalities`."""
        deprecated("VoiceChat.modalities", "VoiceChat.output_modalities", stacklevel=2)
        return list(self.output_modalities)

    @modalities.setter
    def modalities(self, value: list[str]) -> None:
        deprecated("VoiceChat.modalities", "VoiceChat.output_modalities", stacklevel=2)
        self.output_modalities = value

    @property
    def code_blocks(self) -> list[str]:
        """The fenced code blocks of the assistant's messages, oldest first (earlier calls of this
        widget too). The widget shows each with a Copy button; :meth:`insert_code` (or
        ``%rt code``) puts one into the next notebook cell."""
        return [*self._code_prefix, *find_code_blocks(self.conversation)]

    def insert_code(self, index: int = -1) -> None:
        """Put ``code_blocks[index]`` (default: the latest) into a new cell below the running one.

        Call it from a notebook cell (``chat.insert_code()``); ``%rt code`` does the same for the
        most recent chat or session. Uses IPython's ``set_next_input(block, replace=False)``: the
        front end adds the cell when the running cell finishes (JupyterLab and Notebook do; some
        other front ends ignore it), so it has no effect from a callback or another thread.
        """
        insert_code_block(self.code_blocks, index)

    def connect(self) -> None:
        """Start the call (same as clicking Connect; the widget must be displayed)."""
        self._send_msg({"type": "connect"})

    def hangup(self) -> None:
        """End the call."""
        self._send_msg({"type": "hangup"})

    def send(self, *events: Mapping[str, Any]) -> None:
        """Send client events on the call's data channel (validated first).

        ``chat.send({"type": "response.create"})``. Raises :class:`~rt_jupyter.ProtocolError`
        (also a ``ValueError``) for an invalid event and :class:`~rt_jupyter.NotConnectedError`
        (also a ``RuntimeError``) when no call is connected.
        """
        if self.status != "connected":
            raise NotConnectedError(
                f"VoiceChat is not connected (status: {self.status!r}); click Connect in the "
                "widget (or call chat.connect()) and wait for 'connected' first"
            )
        texts: list[str] = []
        for event in events:
            if not isinstance(event, Mapping):
                raise TypeError(
                    f"send() takes event dicts such as {{'type': 'response.create'}}, got "
                    f"{type(event).__name__}"
                )
            texts.extend(checked_send(self.connection, event))
        too_big = [len(x) for x in texts if len(x.encode()) > _MAX_DC_MESSAGE]
        if too_big:
            raise LocalProtocolError(
                f"an event of {max(too_big)} bytes is too large for the data channel (limit "
                "~60 KB); send smaller events",
                code="message_too_large",
            )
        if texts:
            self._send_msg({"type": "send", "events": texts})

    def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user text message to the conversation and (by default) ask for a response,
        without waiting for it (``await chat.wait_for()`` then gives the ``response.done``)."""
        if not isinstance(text, str):
            raise TypeError(f"send_text() takes the text as a str, not {type(text).__name__}")
        events: list[dict[str, Any]] = [
            build("conversation.item.create", item=user_text_item(text))
        ]
        if respond:
            events.append(build("response.create"))
        self.send(*events)

    def _event_log(self) -> EventLog:
        return self.log

    def _before_wait(self) -> None:
        self._transcript_sync.flush()

    def _after_wait(self) -> None:
        self._transcript_sync.flush()

    def _timed_out(self, kind: str, timeout: float | None) -> TimeoutError:
        last = self.log[-1].type if len(self.log) else "none"
        return TimeoutError(
            f"no {kind!r} event within {timeout} s (status: {self.status!r}, events so far: "
            f"{len(self.log)}, last: {last!r}). If the widget is not connected, click "
            "Connect; if the kernel is blocked (time.sleep, a long loop), await instead."
        )

    def _loopback_test(self, count: int, rate: float = 0.0) -> None:
        """Benchmark hook: the page sends ``count`` synthetic events (``rt.loopback``) through a
        data channel between two of its own peer connections, into this widget's relay; ``rate``
        events per second (0: as fast as possible). ``rt.loopback_done`` is logged at the end."""
        self._send_msg({"type": "loopback", "count": int(count), "rate": float(rate)})

    def relay_latency_ms(self) -> list[float]:
        """For each received event: kernel receive time minus browser arrival time, in ms
        (meaningful when the browser and the kernel share a clock, e.g. on one machine)."""
        out: list[float] = []
        for index in range(len(self.log)):
            if self.log.direction[index] == 0:
                out.append((self.received_at[index] - self.log.wall[index]) * 1000.0)
        return out

    def close(self) -> None:
        """Hang up and close the widget."""
        if self._ready and self.status in ("connecting", "connected"):
            self.hangup()
        if hasattr(self, "_events"):  # ipywidgets may close a widget whose __init__ failed
            self._events.close()
            self._tool_runner.close()
            self._held.cancel()
            self._transcript_sync.flush()  # the trait holds the whole transcript, then stops
        super().close()


# --- helpers --------------------------------------------------------------------------------------


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
