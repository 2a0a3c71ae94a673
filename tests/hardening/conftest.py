"""Shared pieces of the hardening suites (issue 7): the Jupyter server fixtures, the client-event
generators (hypothesis strategies plus a simple mutation generator) and the checks that every
message a client can see must pass.

Nothing here stands in for an rt_jupyter component: the suites run real services on real sockets.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import tornado.web
from hypothesis import strategies as st
from traitlets.config import Config

from rt_jupyter.protocol.schemas import BETA_VOICES, GA_VOICES
from tests.jupyter import conftest as _jupyter_conftest

# --- the Jupyter server fixtures (pytest-jupyter's, as tests/jupyter imports them) ---------------

for _name, _value in vars(_jupyter_conftest).items():
    if _name.startswith(("jp_", "http_server", "io_loop", "send_request", "echo_kernel")):
        globals()[_name] = _value
run = _jupyter_conftest.run
_no_keys_in_env = _jupyter_conftest._no_keys_in_env
unused_port = _jupyter_conftest.unused_port

#: A distinctive fake standard key: any trace of it (or of its tail) in an output is a leak.
SECRET_KEY = "sk-SECRET-" + "hardening-7f3a9c2e41d84b6fa05e"  # split: not a real key
#: A second one that upstream services refuse (the 401 paths).
WRONG_SECRET_KEY = "sk-SECRET-" + "refused-0d9e8c7b6a5f4e3d2c1b"
SECRET_MARKS = ("SECRET-hardening", "SECRET-refused", SECRET_KEY[-12:], WRONG_SECRET_KEY[-12:])


def leaked(text: str | bytes) -> list[str]:
    """The secret marks found in ``text`` (empty when it is clean)."""
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return [mark for mark in SECRET_MARKS if mark in data]


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    """The extension enabled; ``RealtimeExtension`` settings from indirect parametrization
    (``{"base_url": "upstream"}`` points it at the ``upstream`` fixture's service)."""
    extra: dict[str, Any] = dict(getattr(request, "param", {}))
    if extra.get("base_url") == "upstream":
        extra["base_url"] = request.getfixturevalue("secret_upstream").base_url
    elif str(extra.get("base_url", "")).startswith("echoing:"):
        behaviour = extra["base_url"].split(":", 1)[1]
        extra["base_url"] = f"{request.getfixturevalue('echoing_upstream')}/{behaviour}/v1"
    elif extra.get("base_url") == "unreachable":
        extra["base_url"] = f"http://127.0.0.1:{unused_port()}/v1"
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"rt_jupyter": True}},
            "RealtimeExtension": {"local_engines": "text", **extra},
        }
    )


@pytest.fixture(scope="module")
def secret_upstream() -> Iterator[Any]:
    """A local realtime service on loopback playing OpenAI's part: it accepts ``SECRET_KEY``
    only (as OpenAI accepts only the account's key)."""
    from rt_jupyter.local.service import LocalRealtimeService
    from rt_jupyter.local.session import Engines

    service = LocalRealtimeService(accept_keys=[SECRET_KEY], engines=Engines()).start_in_thread()
    yield service
    service.stop_thread()


class _Echo(tornado.web.RequestHandler):
    """Answers with the status in the first path segment (``/s401/...``: JSON, ``/t502/...``:
    plain text) and puts the caller's Authorization header in the message, as a careless
    OpenAI-compatible server might."""

    def check_xsrf_cookie(self) -> None:
        return None

    def _answer(self, behaviour: str) -> None:
        auth = self.request.headers.get("Authorization", "")
        status = int(behaviour[1:])
        self.set_status(status)
        if behaviour.startswith("t"):
            self.set_header("Content-Type", "text/plain")
            self.finish(f"upstream trouble for {auth} (all headers: {dict(self.request.headers)})")
            return
        self.set_header("Content-Type", "application/json")
        key = auth.removeprefix("Bearer ")
        self.finish(
            json.dumps(
                {
                    "error": {
                        "message": f"Incorrect API key provided: {key}.",
                        "type": "invalid_request_error",
                        "code": None,
                    }
                }
            )
        )

    def get(self, behaviour: str, rest: str) -> None:
        self._answer(behaviour)

    def post(self, behaviour: str, rest: str) -> None:
        self._answer(behaviour)


@pytest.fixture(scope="module")
def echoing_upstream() -> Iterator[str]:
    """A stand-in for a misbehaving upstream (the real one is unreachable here): every answer
    is an error that quotes the caller's API key. Yields its base URL (add ``/s401/v1``)."""
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    app = tornado.web.Application([(r"/([st]\d{3})/(.*)", _Echo)])
    ready = threading.Event()
    port: list[int] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        server = app.listen(0, "127.0.0.1")
        port.append(next(iter(server._sockets.values())).getsockname()[1])
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="echoing-upstream", daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{port[0]}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


# --- what a client may never see -----------------------------------------------------------------

# Always wrong in a message meant for a client: a traceback, a source path, an object address, the
# repr of an exception object, a module path of this package.
_HARD_LEAKS = re.compile(
    r"Traceback \(most recent call last\)"
    r"|File \"[^\"]+\", line \d+"
    r"|\b[\w./-]+\.py\b"
    r"|/(?:usr|home|root|work|tmp|opt)/\S+"
    r"|<[\w.]+ object at 0x[0-9a-fA-F]+>"
    r"|\b[A-Z]\w*(?:Error|Exception|Warning)\((?:'|\"|\))"
    r"|\brt_jupyter\.[a-z_.]+"
)
# Python's own words instead of the API's: exception class names, Python type names.
_PYTHON_WORDS = re.compile(
    r"\b[A-Z]\w*(?:Error|Exception)\b|\bNoneType\b|\bgot (?:int|float|str|bool|list|dict|bytes)\b"
)


def hard_leaks(message: str) -> list[str]:
    """Tracebacks, file paths, addresses or exception reprs in ``message``."""
    return _HARD_LEAKS.findall(message)


def python_words(message: str) -> list[str]:
    """Python exception or type names in ``message`` (the API says "a string", "null"...)."""
    return _PYTHON_WORDS.findall(message)


# --- client events: hypothesis strategies --------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=24)
WORDS = st.text(string.ascii_lowercase + " ", min_size=1, max_size=24)
NAME = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=20)
#: Item ids the generated events both create and refer to (so some references resolve).
ITEM_POOL = tuple(f"item_fz{i}" for i in range(6))
ITEM_ID = st.sampled_from(ITEM_POOL) | st.text(string.ascii_letters + string.digits, max_size=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


AUDIO_B64 = st.binary(max_size=1200).map(lambda b: _b64(b[: len(b) - len(b) % 2]))

_GA_FORMAT = st.sampled_from(
    [{"type": "audio/pcm", "rate": 24000}, {"type": "audio/pcmu"}, {"type": "audio/pcma"}]
)
_BETA_FORMAT = st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"])
_SERVER_VAD = {
    "threshold": st.floats(0.0, 1.0),
    "prefix_padding_ms": st.integers(0, 10_000),
    "silence_duration_ms": st.integers(0, 10_000),
    "create_response": st.booleans(),
    "interrupt_response": st.booleans(),
}
_GA_TURN = st.none() | st.fixed_dictionaries(
    {"type": st.just("server_vad")},
    optional={**_SERVER_VAD, "idle_timeout_ms": st.none() | st.integers(5000, 30_000)},
)
_GA_TURN |= st.fixed_dictionaries(
    {"type": st.just("semantic_vad")},
    optional={"eagerness": st.sampled_from(["low", "medium", "high", "auto"])},
)
_BETA_TURN = st.none() | st.fixed_dictionaries(
    {"type": st.just("server_vad")}, optional=_SERVER_VAD
)
_TRANSCRIPTION = st.none() | st.fixed_dictionaries(
    {"model": st.sampled_from(["whisper-1", "gpt-4o-mini-transcribe"])},
    optional={"language": st.sampled_from(["en", "fr"]), "prompt": WORDS},
)
_NOISE = st.none() | st.sampled_from([{"type": "near_field"}, {"type": "far_field"}])
_TOOL = st.fixed_dictionaries(
    {"type": st.just("function"), "name": NAME},
    optional={
        "description": WORDS,
        "parameters": st.just(
            {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        ),
    },
)
_TOOLS = st.lists(_TOOL, max_size=3, unique_by=lambda tool: str(tool["name"]))
_MAX_TOKENS = st.integers(1, 4096) | st.just("inf")
_METADATA = st.dictionaries(NAME, WORDS, max_size=3)


def _ga_session() -> st.SearchStrategy[dict[str, Any]]:
    audio_in = st.fixed_dictionaries(
        {},
        optional={
            "format": _GA_FORMAT,
            "transcription": _TRANSCRIPTION,
            "noise_reduction": _NOISE,
            "turn_detection": _GA_TURN,
        },
    )
    audio_out = st.fixed_dictionaries(
        {},
        optional={
            "format": _GA_FORMAT,
            "voice": st.sampled_from(GA_VOICES),
            "speed": st.floats(0.25, 1.5),
        },
    )
    return st.fixed_dictionaries(
        {"type": st.just("realtime")},
        optional={
            "instructions": TEXT,
            "output_modalities": st.sampled_from([["text"], ["audio"]]),
            "audio": st.fixed_dictionaries({}, optional={"input": audio_in, "output": audio_out}),
            "tools": _TOOLS,
            "tool_choice": st.sampled_from(["auto", "none", "required"]),
            "max_output_tokens": _MAX_TOKENS,
            "truncation": st.sampled_from(["auto", "disabled"]),
            "parallel_tool_calls": st.booleans(),
        },
    )


def _beta_session() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "modalities": st.sampled_from([["text"], ["text", "audio"]]),
            "instructions": TEXT,
            "voice": st.sampled_from(BETA_VOICES),
            "input_audio_format": _BETA_FORMAT,
            "output_audio_format": _BETA_FORMAT,
            "input_audio_transcription": _TRANSCRIPTION,
            "turn_detection": _BETA_TURN,
            "input_audio_noise_reduction": _NOISE,
            "tools": _TOOLS,
            "tool_choice": st.sampled_from(["auto", "none", "required"]),
            "temperature": st.floats(0.6, 1.2),
            "max_response_output_tokens": _MAX_TOKENS,
            "speed": st.floats(0.25, 1.5),
        },
    )


def _item(ga: bool) -> st.SearchStrategy[dict[str, Any]]:
    input_text = st.fixed_dictionaries({"type": st.just("input_text"), "text": TEXT})
    input_audio = st.fixed_dictionaries({"type": st.just("input_audio"), "audio": AUDIO_B64})
    out_text = st.fixed_dictionaries(
        {"type": st.just("output_text" if ga else "text"), "text": TEXT}
    )
    ident = {"id": st.sampled_from(ITEM_POOL)}
    return st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.just("message"),
                "role": st.just("user"),
                "content": st.lists(input_text | input_audio, min_size=1, max_size=2),
            },
            optional=ident,
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("message"),
                "role": st.just("system"),
                "content": st.lists(input_text, min_size=1, max_size=1),
            },
            optional=ident,
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("message"),
                "role": st.just("assistant"),
                "content": st.lists(out_text, min_size=1, max_size=1),
            },
            optional=ident,
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("function_call"),
                "name": NAME,
                "call_id": NAME,
                "arguments": st.just('{"city": "paris"}'),
            },
            optional=ident,
        ),
        st.fixed_dictionaries(
            {"type": st.just("function_call_output"), "call_id": NAME, "output": TEXT},
            optional=ident,
        ),
    )


def _response_params(ga: bool) -> st.SearchStrategy[dict[str, Any]]:
    reference = st.fixed_dictionaries({"type": st.just("item_reference"), "id": ITEM_ID})
    common = {
        "instructions": WORDS,
        "conversation": st.sampled_from(["auto", "none"]),
        "metadata": _METADATA,
        "tool_choice": st.sampled_from(["auto", "none"]),
        "input": st.lists(reference | _item(ga), max_size=2),
    }
    if ga:
        return st.fixed_dictionaries(
            {"output_modalities": st.just(["text"])},
            optional={
                **common,
                "max_output_tokens": _MAX_TOKENS,
                "audio": st.fixed_dictionaries(
                    {"output": st.fixed_dictionaries({"voice": st.sampled_from(GA_VOICES)})}
                ),
            },
        )
    return st.fixed_dictionaries(
        {"modalities": st.just(["text"])},
        optional={
            **common,
            "voice": st.sampled_from(BETA_VOICES),
            "temperature": st.floats(0.6, 1.2),
            "max_response_output_tokens": _MAX_TOKENS,
        },
    )


def client_events(dialect: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid client events of ``dialect`` ("ga" or "beta"), every type, without ``event_id``."""
    ga = dialect == "ga"

    def event(kind: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({"type": st.just(kind), **fields})

    legacy_transcription = st.fixed_dictionaries(
        {},
        optional={
            "input_audio_format": _BETA_FORMAT,
            "input_audio_transcription": _TRANSCRIPTION,
            "turn_detection": _BETA_TURN,
        },
    )
    return st.one_of(
        event("session.update", session=_ga_session() if ga else _beta_session()),
        event("transcription_session.update", session=legacy_transcription),
        event("input_audio_buffer.append", audio=AUDIO_B64),
        event("input_audio_buffer.commit"),
        event("input_audio_buffer.clear"),
        event("output_audio_buffer.clear"),
        st.fixed_dictionaries(
            {"type": st.just("conversation.item.create"), "item": _item(ga)},
            optional={"previous_item_id": st.none() | st.just("root") | ITEM_ID},
        ),
        event("conversation.item.retrieve", item_id=ITEM_ID),
        event("conversation.item.delete", item_id=ITEM_ID),
        event(
            "conversation.item.truncate",
            item_id=ITEM_ID,
            content_index=st.integers(0, 2),
            audio_end_ms=st.integers(0, 5000),
        ),
        st.fixed_dictionaries(
            {"type": st.just("response.create")}, optional={"response": _response_params(ga)}
        ),
        st.fixed_dictionaries({"type": st.just("response.cancel")}, optional={"response_id": NAME}),
    )


# --- the mutation generator ----------------------------------------------------------------------

#: Fields of the other dialect (sent where they do not belong).
_FOREIGN_FIELDS = {
    "ga": ("modalities", "voice", "input_audio_format", "turn_detection", "temperature"),
    "beta": ("output_modalities", "audio", "type", "max_output_tokens", "truncation"),
}
_ODD_NUMBERS: tuple[Any, ...] = (
    -1,
    -(2**31),
    2**63,
    2**64 + 1,
    10**30,
    1e308,
    -1e308,
    5e-324,
    0.5,
    -0.0,
    4097,
    float("nan"),
    float("inf"),
    float("-inf"),
)
_BAD_B64 = (
    "%%%not base64%%%",
    "AAA",
    "A===",
    "====",
    "AAAA AAAA",
    "AAAA\nAAAA",
    "Zm9v\u00e9",
    "-_-_",
    "AAAAA",
)
_BAD_TYPES: tuple[Any, ...] = (
    "",
    " session.update",
    "SESSION.UPDATE",
    "session.update\n",
    "session.created",
    "response.done",
    "error",
    "x" * 300,
    "response.text.delta",
    5,
    None,
    True,
    ["session.update"],
    {"type": "session.update"},
)


@dataclass
class Unit:
    """One fuzzed client message: the frame to send and what is known about it."""

    frame: str | bytes
    category: str
    event_id: str | None  # set when the server will echo it in error.event_id
    kind: str | None  # the event type when the frame is a JSON object with a string type
    data: Any = None  # the decoded event (None when the frame is not valid JSON)
    kills: bool = False  # a known bug drops the connection after this frame
    deep: int = 0  # nesting depth of deeply nested JSON
    huge: bool = False
    integral: bool = False  # holds a float with an integral value (2.0, -0.0)


@dataclass
class Mutator:
    """Turns valid events into a stream of fuzzed frames: valid, mutated (fields removed, added,
    retyped, out of range), other-dialect, truncated, non-object, binary, empty, deeply nested,
    huge and invalid-base64 ones. Deterministic for a given ``random.Random``."""

    rnd: random.Random
    dialect: str
    prefix: str
    huge_rate: float = 0.004
    allow_huge: bool = True
    allow_surrogates: bool = True
    counter: int = 0
    categories: dict[str, int] = field(default_factory=dict)

    def _eid(self) -> str:
        self.counter += 1
        return f"{self.prefix}-{self.counter}"

    # -- structure helpers --
    def _paths(self, value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        out = [path]
        if isinstance(value, dict):
            for key, sub in value.items():
                out += self._paths(sub, (*path, key))
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                out += self._paths(sub, (*path, index))
        return out

    @staticmethod
    def _get(value: Any, path: tuple[Any, ...]) -> Any:
        for step in path:
            value = value[step]
        return value

    def _set(self, root: Any, path: tuple[Any, ...], new: Any) -> Any:
        if not path:
            return new
        parent = self._get(root, path[:-1])
        parent[path[-1]] = new
        return root

    def _any_value(self, depth: int = 0) -> Any:
        choice = self.rnd.randrange(9 if depth < 2 else 6)
        if choice == 0:
            return None
        if choice == 1:
            return self.rnd.choice([True, False])
        if choice == 2:
            return self.rnd.choice([0, 1, -7, 123456789])
        if choice == 3:
            return self.rnd.choice([0.25, -3.5, 1e20])
        if choice == 4:
            return self.rnd.choice(["", "x", "realtime", "audio/pcm", "item_fz1", "ü€😀"])
        if choice == 5:
            return self.rnd.choice(list(_ODD_NUMBERS[:6]))
        if choice == 6:
            return [self._any_value(depth + 1) for _ in range(self.rnd.randrange(3))]
        return {
            self.rnd.choice(["type", "text", "zz", "session", "item"]): self._any_value(depth + 1)
            for _ in range(self.rnd.randrange(3))
        }

    @staticmethod
    def _type_name(value: Any) -> str:
        return type(value).__name__

    # -- one unit --
    def unit(self, base: dict[str, Any], foreign: dict[str, Any]) -> Unit:
        """A fuzzed unit from a valid event of this dialect (and one of the other dialect)."""
        r = self.rnd.random()
        event: Any = json.loads(json.dumps(base))
        eid = self._eid()
        category = "valid"
        frame: str | bytes | None = None
        deep = 0
        huge = False
        kills = False
        if r < 0.13:
            pass
        elif r < 0.26:
            category = "drop"
            paths = [p for p in self._paths(event) if p and p != ("type",)]
            if self.rnd.random() < 0.1:
                paths.append(("type",))
            if paths:
                path = self.rnd.choice(paths)
                del self._get(event, path[:-1])[path[-1]]
        elif r < 0.36:
            category = "add"
            dicts = [p for p in self._paths(event) if isinstance(self._get(event, p), dict)]
            where = self._get(event, self.rnd.choice(dicts))
            name = self.rnd.choice(
                [
                    "totally_made_up_field",
                    "zz",
                    "Type",
                    "event_id ",
                    *_FOREIGN_FIELDS[self.dialect],
                ]
            )
            where[name] = self._any_value()
        elif r < 0.51:
            category = "retype"
            paths = [p for p in self._paths(event) if p != ("event_id",)]
            path = self.rnd.choice(paths)
            old = self._get(event, path)
            new = self._any_value()
            for _ in range(5):
                if self._type_name(new) != self._type_name(old):
                    break
                new = self._any_value()
            event = self._set(event, path, new)
        elif r < 0.60:
            category = "range"
            numbers = [
                p
                for p in self._paths(event)
                if isinstance(self._get(event, p), int | float)
                and not isinstance(self._get(event, p), bool)
            ]
            path = self.rnd.choice(numbers or self._paths(event)[1:] or [("zz",)])
            if path == ("zz",):
                event["zz"] = 0
            event = self._set(event, path, self.rnd.choice(_ODD_NUMBERS))
        elif r < 0.66:
            category = "base64"
            bad = self.rnd.choice(_BAD_B64)
            if self.rnd.random() < 0.3:
                bad = _b64(
                    bytes(self.rnd.randrange(256) for _ in range(2 * self.rnd.randrange(50) + 1))
                )
            if self.rnd.random() < 0.7:
                event = {"type": "input_audio_buffer.append", "audio": bad}
            else:
                event = {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_audio", "audio": bad}],
                    },
                }
        elif r < 0.74:
            category = "dialect"
            event = json.loads(json.dumps(foreign))
        elif r < 0.78:
            category = "type"
            event["type"] = self.rnd.choice(_BAD_TYPES)
        elif r < 0.83:
            category = "truncated"
            text = json.dumps({**event, "event_id": eid})
            frame = text[: self.rnd.randrange(len(text))]
        elif r < 0.85:
            category = "not-object"
            frame = json.dumps(self.rnd.choice([1, "session.update", [event], None, True, 2.5]))
        elif r < 0.89:
            category = "binary"
            if self.rnd.random() < 0.5:
                frame = json.dumps({**event, "event_id": eid}).encode()
            else:
                frame = bytes(self.rnd.randrange(256) for _ in range(self.rnd.randrange(1, 64)))
        elif r < 0.90:
            category = "empty"
            frame = self.rnd.choice(("", b"", " ", "\n"))
        elif r < 0.915:
            category = "deep"
            deep = self.rnd.choice([64, 400, 900, 2_000, 20_000, 100_000])
            opener, closer = self.rnd.choice([("[", "]"), ('{"a":', "}")])
            nested = opener * deep + "0" + closer * deep
            target = self.rnd.choice(["metadata", "session", "item", "event"])
            if target == "metadata":
                head = (
                    '{"type":"response.create","response":{"conversation":"none","metadata":{"m":'
                )
                frame = head + nested + "}}}"
            elif target == "event":
                frame = nested
            else:
                frame = '{"type":"session.update","' + target + '":' + nested + "}"
        elif r < 0.925:
            category = "syntax"
            text = json.dumps({**event, "event_id": eid})
            frame = self.rnd.choice(
                [
                    text.replace('"type"', '"t\\u0079pe"', 1),  # escaped key: still valid
                    text[:-1] + ',"type":"input_audio_buffer.clear"}',  # duplicate key
                    " \t\n" + text + "\r\n ",
                    text.replace(":", ": ", 3),
                    text + "{}",  # trailing data
                    "\ufeff" + text,  # BOM
                    text.replace('"', "'"),  # not JSON
                ]
            )
        elif r < 0.925 + (0.002 if self.allow_surrogates else 0.0):
            category = "surrogate"
            where = self.rnd.choice(["type", "instructions", "event_id"])
            if where == "instructions":
                event = {"type": "session.update", "session": {"instructions": "a\ud800b"}}
                if self.dialect == "ga":
                    event["session"]["type"] = "realtime"
            else:
                event[where] = "x\udc00"
            kills = True
        elif self.allow_huge and r < 0.925 + 0.002 + self.huge_rate:
            category = "huge"
            huge = True
            big = "x" * (2**20 + self.rnd.randrange(1000))  # over 1 MiB
            strings = [p for p in self._paths(event) if isinstance(self._get(event, p), str)]
            choice = self.rnd.randrange(4)
            if choice == 0 and strings:
                event = self._set(event, self.rnd.choice(strings), big)
            elif choice == 1:
                event = {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": big}],
                    },
                }
            elif choice == 2:
                event = {"type": "input_audio_buffer.append", "audio": "A" * 2**20 + "!"}
            else:
                event = {"type": "zz." + big}
        else:
            category = "retype-deep"
            paths = [p for p in self._paths(event) if len(p) >= 2]
            if paths:
                event = self._set(event, self.rnd.choice(paths), self._any_value())
            else:
                event["zz"] = self._any_value()
        self.categories[category] = self.categories.get(category, 0) + 1
        if frame is None:
            if isinstance(event, dict):
                event = {"event_id": eid, **event} if "event_id" not in event else event
                if category == "drop" and self.rnd.random() < 0.05:
                    event.pop("event_id", None)
            frame = json.dumps(event)
        return self._describe(frame, category, eid, kills=kills, deep=deep, huge=huge)

    @staticmethod
    def _describe(
        frame: str | bytes, category: str, eid: str, *, kills: bool, deep: int, huge: bool
    ) -> Unit:
        data: Any = None
        if not deep:
            try:
                data = json.loads(frame)
            except (ValueError, RecursionError):
                data = None
        kind = data.get("type") if isinstance(data, dict) else None
        if deep and isinstance(frame, str) and frame.startswith('{"type":"'):
            kind = frame[9 : frame.index('"', 9)]
        echoed = (
            eid
            if isinstance(data, dict) and data.get("event_id") == eid and isinstance(kind, str)
            else None
        )
        return Unit(
            frame=frame,
            category=category,
            event_id=echoed,
            kind=kind if isinstance(kind, str) else None,
            data=data,
            kills=kills,
            deep=deep,
            huge=huge,
            integral=_has_integral_float(data),
        )


def _has_integral_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer() and abs(value) < 2**53
    if isinstance(value, dict):
        return any(_has_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_integral_float(v) for v in value)
    return False


# --- expectations about the service's answers ----------------------------------------------------

#: The error codes the Realtime API documents for client mistakes (doc §6) plus the item-id ones.
CLIENT_ERROR_CODES = frozenset(
    {
        "invalid_json",
        "invalid_event",
        "invalid_value",
        "invalid_type",
        "unknown_parameter",
        "missing_required_parameter",
        "integer_below_min_value",
        "integer_above_max_value",
        "decimal_below_min_value",
        "decimal_above_max_value",
        "string_above_max_length",
        "array_above_max_length",
        "input_audio_buffer_commit_empty",
        "response_cancel_not_active",
        "conversation_already_has_active_response",
        "item_create_invalid_previous_item_id",
        "item_retrieve_invalid_item_id",
        "item_delete_invalid_item_id",
        "item_truncate_invalid_item_id",
        "cannot_update_voice",
    }
)

#: The reply a valid client event of each kind gets at once (GA names; None: no reply).
NORMAL_REPLY: dict[str, tuple[str, ...] | None] = {
    "session.update": ("session.updated",),
    "transcription_session.update": ("transcription_session.updated",),
    "input_audio_buffer.append": None,
    "input_audio_buffer.commit": ("input_audio_buffer.committed",),
    "input_audio_buffer.clear": ("input_audio_buffer.cleared",),
    "output_audio_buffer.clear": ("output_audio_buffer.cleared",),
    "conversation.item.create": ("conversation.item.added", "conversation.item.created"),
    "conversation.item.retrieve": ("conversation.item.retrieved",),
    "conversation.item.delete": ("conversation.item.deleted",),
    "conversation.item.truncate": ("conversation.item.truncated",),
    "response.create": ("response.created",),
    "response.cancel": ("response.done",),
}


def id_normalizer() -> Callable[[Any], Any]:
    """A function that rewrites server-made ids (``item_…``, ``resp_…``...) as ``<item#0>``…
    in order of first appearance and drops the server's own ``event_id`` and the session's
    ``expires_at`` (a clock time): two runs of one script then compare equal."""
    seen: dict[str, str] = {}
    counts: dict[str, int] = {}
    pattern = re.compile(r"^(item|resp|conv|sess|call|event|rtc)_[A-Za-z0-9]{12,}$")

    def norm(value: Any, top: bool = False) -> Any:
        if isinstance(value, dict):
            return {
                k: norm(v)
                for k, v in value.items()
                if k != "expires_at" and not (top and k == "event_id")
            }
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, str) and pattern.match(value):
            if value not in seen:
                prefix = value.split("_", 1)[0]
                counts[prefix] = counts.get(prefix, -1) + 1
                seen[value] = f"<{prefix}#{counts[prefix]}>"
            return seen[value]
        return value

    return lambda event: norm(event, top=True)
