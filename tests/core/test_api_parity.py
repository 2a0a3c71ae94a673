"""One public API: ``VoiceChat`` and ``RealtimeSession`` name, shape and refuse things alike.

The README's "## API" table is the contract: every name it gives exists on the front door of its
column, each signature it writes matches the code, and an operation named in both columns has the
same parameters on both. Deprecated names warn; the same bad input raises the same class from
both doors (the widget driven in-process, the session against the local service).
"""

from __future__ import annotations

import inspect
import json
import re
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import rt_jupyter
from rt_jupyter import ConfigurationError, ProtocolError, VoiceChat
from rt_jupyter.client import RealtimeSession, SyncRealtimeSession, connect, connect_sync
from rt_jupyter.core.settings import DEPRECATED_SETTINGS, SESSION_SETTINGS
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines

KEY = "sk-parity-" + "tests"
README = Path(__file__).resolve().parents[2] / "README.md"
#: What the issue asks the table to cover.
REQUIRED_ROWS = {
    "sending text",
    "sending audio",
    "tools",
    "callbacks",
    "waiting",
    "session settings",
    "log",
    "transcript",
    "usage",
    "code blocks",
    "closing",
}
#: Operations both doors must share, whatever the table says.
SHARED_CORE = {
    "send",
    "send_text",
    "on",
    "off",
    "wait_for",
    "events",
    "tool",
    "tool_timeout",
    "log",
    "conversation",
    "transcript",
    "usage",
    "code_blocks",
    "insert_code",
    "session_config",
    "close",
}
BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"output_modalities": ["video"]}, "output_modalities"),
    ({"voice": 5}, "voice"),
    ({"model": 5}, "model"),
    ({"turn_detection": "always"}, "turn_detection"),
    ({"input_transcription": 5}, "input_transcription"),
    ({"voise": "marin"}, "did you mean 'voice'"),
]
BAD_EVENTS: list[dict[str, Any]] = [
    {"type": "response.nope"},
    {"type": "input_audio_buffer.append"},  # no audio
    {"type": "conversation.item.create", "item": {"type": "message", "role": "robot"}},
]


# --- the README table ----------------------------------------------------------------------------


def _tables() -> list[list[list[str]]]:
    """The markdown tables of the README's "## API" section, as rows of cells (no header)."""
    text = README.read_text()
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif current:
            tables.append(current[2:])  # header and separator
            current = []
    return tables


def _names(cell: str) -> list[tuple[str, str]]:
    """``(name, span)`` for each backticked span of a cell (its leading identifier)."""
    out = []
    for span in re.findall(r"`([^`]+)`", cell):
        match = re.match(r"[A-Za-z_]\w*", span)
        if match:
            out.append((match.group(0), span))
    return out


def _params_written(span: str) -> list[str] | None:
    """Parameter names of a span such as ``send_text(text, *, respond=True)``; ``None`` when it
    has no parentheses or elides some (``...``)."""
    if "(" not in span or "..." in span:
        return None
    inner = span[span.index("(") + 1 : span.rindex(")")]
    names = [p.split("=")[0].strip().lstrip("*") for p in inner.split(",")]
    return [n for n in names if n]


def _params(fn: Any) -> list[tuple[str, Any, Any]]:
    """(name, kind, default) of each parameter but ``self`` (annotations differ by design)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


API = _tables()[0]
OPERATIONS = {row[0]: row for row in API}
WIDGET_NAMES = {name: span for row in API for name, span in _names(row[1])}
SESSION_NAMES = {name: span for row in API for name, span in _names(row[2])}
SHARED = sorted(set(WIDGET_NAMES) & set(SESSION_NAMES))


def test_table_covers_the_operations_the_issue_lists() -> None:
    assert set(OPERATIONS) >= REQUIRED_ROWS, REQUIRED_ROWS - set(OPERATIONS)
    assert all(len(row) == 4 and row[3] for row in API), "each row needs both doors and a note"
    assert set(SHARED) >= SHARED_CORE, SHARED_CORE - set(SHARED)


def test_every_widget_name_in_the_table_exists(chat: VoiceChat) -> None:
    missing = [name for name in WIDGET_NAMES if not hasattr(chat, name)]
    assert not missing, f"the README names VoiceChat.{missing}, which do not exist"


async def test_every_session_name_in_the_table_exists(session: RealtimeSession) -> None:
    missing = [name for name in SESSION_NAMES if not hasattr(session, name)]
    assert not missing, f"the README names RealtimeSession.{missing}, which do not exist"


@pytest.mark.parametrize(
    ("cls", "names"), [(VoiceChat, WIDGET_NAMES), (RealtimeSession, SESSION_NAMES)]
)
def test_signatures_written_in_the_table_match_the_code(
    cls: type[Any], names: dict[str, str]
) -> None:
    checked = 0
    for name, span in names.items():
        written = _params_written(span)
        if written is None:
            continue
        actual = [p[0] for p in _params(getattr(cls, name))][1:]  # without self
        assert written == actual, f"README: {cls.__name__}.{span}; code: {name}{actual}"
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("name", SHARED)
def test_shared_operations_have_the_same_parameters(name: str) -> None:
    widget = inspect.getattr_static(VoiceChat, name)
    session = inspect.getattr_static(RealtimeSession, name, None)
    if not callable(widget) or isinstance(widget, property):
        return  # data: existence is checked on instances above
    assert callable(session), f"RealtimeSession.{name} is not callable like VoiceChat's"
    assert _params(getattr(VoiceChat, name)) == _params(getattr(RealtimeSession, name))


@pytest.mark.parametrize(
    "name", ["send", "send_text", "on", "off", "wait_for", "tool", "insert_code", "close"]
)
def test_blocking_facade_has_the_same_parameters(name: str) -> None:
    assert [p[0] for p in _params(getattr(SyncRealtimeSession, name))] == [
        p[0] for p in _params(getattr(RealtimeSession, name))
    ]


def test_settings_table_matches_the_keywords() -> None:
    rows = _tables()[1]
    keywords = {row[0].strip("`"): row for row in rows}
    assert set(keywords) <= set(SESSION_SETTINGS)
    deprecated = {row[2].strip("`"): row[0].strip("`") for row in rows if row[2]}
    assert deprecated == dict(DEPRECATED_SETTINGS)
    widget_settings = set(VoiceChat.class_trait_names(sync=True)) & set(SESSION_SETTINGS)
    assert {"output_modalities", "input_transcription", "voice", "turn_detection"} <= (
        widget_settings
    )
    assert not set(DEPRECATED_SETTINGS) & set(SESSION_SETTINGS)


# --- deprecated names ----------------------------------------------------------------------------


def test_widget_deprecated_names_warn_and_still_work() -> None:
    with pytest.warns(DeprecationWarning, match=r"VoiceChat\(output_modalities=\)"):
        chat = VoiceChat(modalities=["text"])
    try:
        assert chat.output_modalities == ["text"]
        assert chat.session["output_modalities"] == ["text"]
        with pytest.warns(DeprecationWarning, match=r"VoiceChat\.output_modalities"):
            assert chat.modalities == ["text"]
        with pytest.warns(DeprecationWarning, match=r"VoiceChat\.output_modalities"):
            chat.modalities = ["audio"]
        assert chat.output_modalities == ["audio"]
    finally:
        chat.close()
    with pytest.raises(ConfigurationError, match="output_modalities= only"):
        VoiceChat(modalities=["text"], output_modalities=["text"])


def test_deprecation_warnings_point_at_the_callers_line() -> None:
    with pytest.warns(DeprecationWarning) as record:
        VoiceChat(modalities=["text"]).close()
        rt_jupyter.connect(modalities="text")
        with pytest.raises(ConfigurationError):  # refused before it connects
            rt_jupyter.connect_sync(modalities="text", voice=5)
    assert len(record) == 3
    assert [Path(w.filename) for w in record] == [Path(__file__)] * 3


@pytest.mark.parametrize(("old", "new"), sorted(DEPRECATED_SETTINGS.items()))
def test_connect_deprecated_names_warn(old: str, new: str) -> None:
    value: Any = {"modalities": "text", "input_audio_transcription": True}.get(old, "pcm16")
    with pytest.warns(DeprecationWarning, match=f"{old}= is deprecated.*use {new}="):
        rt_jupyter.connect(**{old: value})  # checked, not connected (nothing awaited)


async def test_deprecated_names_still_configure_the_session(service: LocalRealtimeService) -> None:
    with pytest.warns(DeprecationWarning, match="output_modalities"):
        pending = connect(api_key=KEY, base_url=service.base_url, quiet=True, modalities="text")
    async with pending as session:
        assert session.session_config["output_modalities"] == ["text"]
        with pytest.warns(DeprecationWarning, match=r"update\(\): input_audio_transcription="):
            await session.update(input_audio_transcription="gpt-4o-mini-transcribe")
        transcription = session.session_config["audio"]["input"]["transcription"]
        assert transcription["model"] == "gpt-4o-mini-transcribe"


async def test_canonical_names_warn_nothing(service: LocalRealtimeService) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        chat = VoiceChat(output_modalities=["text"], input_transcription=None)
        chat.output_modalities = ["audio"]
        chat.close()
        async with connect(
            api_key=KEY,
            base_url=service.base_url,
            quiet=True,
            output_modalities="text",
            input_transcription=True,
            input_format="pcm16",
        ) as session:
            await session.update(output_modalities="text", output_format="pcm16")
            assert session.session_config["output_modalities"] == ["text"]


# --- the same errors from both doors -------------------------------------------------------------


@pytest.mark.parametrize(("bad", "words"), BAD_SETTINGS)
async def test_bad_settings_raise_configuration_error_from_both_doors(
    session: RealtimeSession, bad: dict[str, Any], words: str
) -> None:
    errors = []
    with pytest.raises(ConfigurationError) as info:
        VoiceChat(**bad)
    errors.append(info.value)
    with pytest.raises(ConfigurationError) as info:
        rt_jupyter.connect(**bad)
    errors.append(info.value)
    with pytest.raises(ConfigurationError) as info:
        await session.update(**bad)
    errors.append(info.value)
    with pytest.raises(ConfigurationError) as info:
        connect_sync(**bad)  # refused before it starts a thread or connects
    errors.append(info.value)
    (name,) = bad
    if VoiceChat.class_traits().get(name) is not None:  # a live widget setting too
        chat = VoiceChat()
        try:
            with pytest.raises(ConfigurationError) as info:
                setattr(chat, name, bad[name])
            errors.append(info.value)
        finally:
            chat.close()
    for exc in errors:
        assert isinstance(exc, ValueError)
        assert words in str(exc), str(exc)
    assert session.session_config["output_modalities"] == ["text"]  # nothing was applied


@pytest.mark.parametrize("event", BAD_EVENTS, ids=lambda e: str(e["type"]))
async def test_invalid_events_raise_the_same_protocol_error(
    chat: VoiceChat, session: RealtimeSession, event: dict[str, Any]
) -> None:
    front = _Front(chat)
    front.start_call()
    sent_before = len(session.log)
    with pytest.raises(ProtocolError) as from_widget:
        chat.send(event)
    with pytest.raises(ProtocolError) as from_session:
        session.send(event)
    assert type(from_widget.value) is type(from_session.value)
    assert isinstance(from_widget.value, ValueError)
    assert from_widget.value.code == from_session.value.code
    assert from_widget.value.param == from_session.value.param
    assert str(from_widget.value) == str(from_session.value)
    assert repr(event["type"]) in str(from_widget.value)
    assert front.outgoing() == [] and len(session.log) == sent_before  # nothing went out


async def test_wrong_types_raise_type_error_from_both_doors(
    chat: VoiceChat, session: RealtimeSession
) -> None:
    _Front(chat).start_call()
    for door in (chat, session):
        with pytest.raises(TypeError, match="event dicts"):
            door.send("response.create")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="text as a str"):
            door.send_text(5)  # type: ignore[arg-type]


async def test_send_text_sends_the_same_events_from_both_doors(
    chat: VoiceChat, session: RealtimeSession
) -> None:
    front = _Front(chat)
    front.start_call()
    start = len(session.log)
    for respond in (False, True):
        chat.send_text("hello", respond=respond)
        session.send_text("hello", respond=respond)
    done = await session.wait_for(since=start)
    assert done.data["response"]["status"] == "completed"
    records = [session.log[i] for i in range(start, len(session.log))]
    from_session = [r.type for r in records if r.direction == "out"]
    from_widget = [e["type"] for e in front.outgoing()]
    assert (
        from_widget
        == from_session
        == [
            "conversation.item.create",
            "conversation.item.create",
            "response.create",
        ]
    )


# --- fixtures ------------------------------------------------------------------------------------


class _Front:
    """The browser side of a widget's comm: records what the kernel sends, relays events."""

    def __init__(self, chat: VoiceChat) -> None:
        self.chat = chat
        self.sent: list[dict[str, Any]] = []
        self.seq = 0
        chat.send_msg_now = self.sent.append  # type: ignore[method-assign,assignment]
        chat._on_custom_msg(chat, {"type": "hello"}, [])

    def events(self, *events: dict[str, Any], direction: str = "in") -> None:
        batch = [[direction, time.time() * 1000, json.dumps(e)] for e in events]
        self.chat._on_custom_msg(
            self.chat, {"type": "events", "seq": self.seq, "events": batch}, []
        )
        self.seq += 1

    def start_call(self) -> None:
        self.events({"type": "rt.call_started", "dialect": "ga"}, direction="local")
        self.chat.status = "connected"
        self.events({"type": "session.created", "event_id": "e0", "session": {"type": "realtime"}})

    def outgoing(self) -> list[dict[str, Any]]:
        return [json.loads(t) for m in self.sent if m["type"] == "send" for t in m["events"]]


@pytest.fixture
def chat() -> Iterator[VoiceChat]:
    widget = VoiceChat()
    yield widget
    widget.close()


@pytest_asyncio.fixture
async def service(engines: Engines) -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=engines) as svc:
        yield svc


@pytest_asyncio.fixture
async def session(service: LocalRealtimeService) -> AsyncIterator[RealtimeSession]:
    async with connect(
        api_key=KEY, base_url=service.base_url, quiet=True, output_modalities="text"
    ) as s:
        yield s
