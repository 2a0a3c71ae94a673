"""Fault injection (issue 7, part 2): the kernel client and the widget recover as specified.

Every scenario runs against real components over real sockets: the local service with its
:class:`~rt_jupyter.local.faults.Faults` (abrupt TCP drops, close codes, stalls, early
``session_expired``, refused keys), ``rt-jupyter serve`` child processes killed with SIGKILL and
restarted on the same port, an ``ipykernel`` killed with SIGKILL while it logs, and the voice
widget in JupyterLab + headless Chromium with its call dropped mid-response.

After each recovery two things are checked:

* **the conversation is intact**: the client's items (ids, roles, texts) after recovery are the
  ones before plus the new turn(s), and, where the service runs in-process, the server's
  conversation on the new connection is the same (the replay was exact, not just the mirror);
* **no received event is missing from the log**: per server connection, the client logged a
  gap-free prefix of the events the server sent (``_server_tap`` /
  ``_assert_log_has_every_received_event`` of ``tests/client/test_client.py``; for the child
  processes the same tap is loaded into the unmodified ``rt-jupyter serve`` through a
  ``sitecustomize`` and writes the ids to a file, one ``write(2)`` per event).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import pytest_asyncio

from rt_jupyter.client import (
    AuthenticationError,
    ConnectionLostError,
    RealtimeSession,
    connect,
)
from rt_jupyter.local.engines.responder import Answer, ContextItem, EchoResponder, _brief
from rt_jupyter.local.faults import Faults
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.log import EventLog
from rt_jupyter.protocol import Conversation
from tests.client.test_client import _assert_log_has_every_received_event, _server_tap
from tests.load import stop_process

KEY = "sk-fault-tests"
REPO = Path(__file__).resolve().parents[2]
LONG = " ".join(f"Sentence number {i} is here." for i in range(1, 41))
#: What the echo responder answers to LONG (it repeats at most ECHO_MAX_WORDS words).
LONG_ECHO = f"You said: {_brief(LONG)}."

Turn = tuple[str, str, str | None, str]  # (item id, type, role, text)


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest_asyncio.fixture
async def service(engines: Engines) -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=engines) as svc:
        yield svc


def _connect(base_url: str, **kwargs: Any) -> Any:
    return connect(api_key=KEY, base_url=base_url, **kwargs)


def turns(conversation: Conversation) -> list[Turn]:
    """The conversation as (id, type, role, text) rows."""
    return [(i.id, i.type, i.role, i.text) for i in conversation.items]


def texts(rows: Sequence[Turn]) -> list[tuple[str | None, str]]:
    return [(role, text) for _, _, role, text in rows]


def server_turns(service: LocalRealtimeService) -> list[Turn]:
    """The conversation of the service's only live session."""
    (session,) = service.sessions
    return turns(session.conn.conversation)


def cut_responses(log: EventLog) -> list[str]:
    """Ids of responses that were created but never finished on their connection."""
    running: list[str] = []
    cut: list[str] = []
    for record in log:
        if record.kind == "rt.reconnect":  # the connection before it is gone
            cut += running
            running = []
        elif record.direction == "in" and record.kind == "response.created":
            running.append(record.event["response"]["id"])
        elif record.direction == "in" and record.kind == "response.done":
            running.remove(record.event["response"]["id"])
    return cut


def assert_recovered(
    session: RealtimeSession, before: list[Turn], new: list[tuple[str, str]]
) -> None:
    """The conversation after recovery is the one before plus the new (role, text) turns."""
    after = turns(session.conversation)
    assert after[: len(before)] == before, "an earlier item changed or went missing"
    assert texts(after[len(before) :]) == new
    assert len({row[0] for row in after}) == len(after), "an item is duplicated"


class SlowFor:
    """The echo responder, but taking ``delay`` seconds to answer messages containing
    ``marker`` (it runs in the service's executor, as a network responder would)."""

    def __init__(self, marker: str, delay: float) -> None:
        self.marker = marker
        self.delay = delay
        self.echo = EchoResponder()

    def respond(self, items: Sequence[ContextItem], **kwargs: Any) -> Answer:
        if items and self.marker in items[-1].text:
            time.sleep(self.delay)
        return self.echo.respond(items, **kwargs)


# --- drops, close codes, stalls, expiry, refused keys (in-process service) -----------------------


@pytest.mark.parametrize("modality", ["text", "audio"])
async def test_drop_mid_response(service: LocalRealtimeService, modality: str) -> None:
    """Abrupt TCP drop (no close frame) in the middle of a streamed response: the client
    reconnects, replays the conversation, asks for the cut response again and goes on."""
    sent = _server_tap(service)
    async with _connect(
        service.base_url, output_modalities=modality, instructions="Be brief."
    ) as s:
        assert (await s.say("first turn")).text == "You said: first turn."
        before = turns(s.conversation)
        service.faults = Faults(drop_after_deltas=3)
        reply = await asyncio.wait_for(s.say(LONG), 30)
        assert reply.status == "completed" and reply.text == LONG_ECHO
        if modality == "audio":
            assert reply.duration_s > 10  # the whole answer, spoken again after the drop
        assert s.reconnects == 1
        (note,) = s.log.of_kind("rt.reconnect")
        assert note.event["code"] == 1006  # no close frame: the connection was cut
        assert len(cut_responses(s.log)) == 1, "the drop did not happen mid-response"
        assert (await s.say("new turn")).text == "You said: new turn."
        assert_recovered(
            s,
            before,
            [
                ("user", LONG),
                ("assistant", LONG_ECHO),
                ("user", "new turn"),
                ("assistant", "You said: new turn."),
            ],
        )
        assert server_turns(service) == turns(s.conversation)  # the replay was exact
        assert s.session_config["instructions"] == "Be brief."
    assert len(sent) == 2
    _assert_log_has_every_received_event(s, sent)


@pytest.mark.parametrize("code", [1001, 1006, 1011, 1012, 1013])
async def test_recoverable_close_codes_reconnect(service: LocalRealtimeService, code: int) -> None:
    """A close frame with a server-side failure code mid-response: reconnect and resume."""
    sent = _server_tap(service)
    async with _connect(service.base_url, output_modalities="text") as s:
        await s.say("before the close")
        before = turns(s.conversation)
        service.faults = Faults(close_after_deltas=2, close_code=code)
        reply = await asyncio.wait_for(s.say(LONG), 30)
        assert reply.text == LONG_ECHO
        assert s.reconnects == 1
        (note,) = s.log.of_kind("rt.reconnect")
        assert note.event["code"] == code
        assert note.event["delay_s"] <= 5.0 * 1.5  # backoff, capped
        assert len(cut_responses(s.log)) == 1
        await s.say("after the close")
        assert_recovered(
            s,
            before,
            [
                ("user", LONG),
                ("assistant", LONG_ECHO),
                ("user", "after the close"),
                ("assistant", "You said: after the close."),
            ],
        )
        assert server_turns(service) == turns(s.conversation)
    _assert_log_has_every_received_event(s, sent)


@pytest.mark.parametrize(
    ("code", "why"),
    [(1000, "normal closure without session_expired"), (1008, "policy"), (4000, "app error")],
)
async def test_fatal_close_codes_are_not_retried(
    service: LocalRealtimeService, code: int, why: str
) -> None:
    """1000 (without ``session_expired``), 1008 and 4000: the pending call fails at once with a
    :class:`ConnectionLostError` naming the code; nothing is retried."""
    sent = _server_tap(service)
    async with _connect(service.base_url, output_modalities="text") as s:
        await s.say("hello")
        service.faults = Faults(close_after_deltas=1, close_code=code)
        with pytest.raises(ConnectionLostError, match=f"'code': {code}") as info:
            await asyncio.wait_for(s.say(LONG), 60)
        assert "fault injection" in str(info.value)  # the server's close reason is passed on
        await asyncio.sleep(0.5)  # ... and nothing reconnects afterwards
        assert not s.connected and s.reconnects == 0
        assert s.log.count("rt.reconnect") == 0
    assert len(sent) == 1
    _assert_log_has_every_received_event(s, sent)


async def test_stall_then_resume(service: LocalRealtimeService) -> None:
    """Output frozen for 1.5 s mid-response, then it resumes: no reconnect, and every event
    arrives exactly once and in order."""
    sent = _server_tap(service)
    async with _connect(service.base_url, output_modalities="text") as s:
        await s.say("warm up")
        before = turns(s.conversation)
        service.faults = Faults(stall_after_deltas=3, stall_s=1.5)
        t0 = time.perf_counter()
        reply = await asyncio.wait_for(s.say(LONG), 30)
        assert time.perf_counter() - t0 >= 1.4
        assert reply.text == LONG_ECHO
        assert s.reconnects == 0 and s.log.count("rt.reconnect") == 0
        received = [r for r in s.log if r.direction == "in"]
        gaps = [b.t - a.t for a, b in itertools.pairwise(received)]
        assert max(gaps) >= 1.4  # the stall really froze the output ...
        stalled_at = gaps.index(max(gaps))
        assert received[stalled_at].kind == "response.output_text.delta"  # ... mid-response
        ids = [r.event["event_id"] for r in received]
        assert len(ids) == len(set(ids)), "an event arrived twice"
        await s.say("after the stall")
        assert_recovered(
            s,
            before,
            [
                ("user", LONG),
                ("assistant", LONG_ECHO),
                ("user", "after the stall"),
                ("assistant", "You said: after the stall."),
            ],
        )
    (only,) = sent
    assert [r.event["event_id"] for r in s.log if r.direction == "in"] == only  # nothing lost


async def test_session_expired_mid_response_renews(engines: Engines) -> None:
    """``session_expired`` arrives while a response is being prepared, then close 1000: the
    client renews at once (no backoff), re-applies its settings, replays the conversation and
    asks for the lost response again."""
    custom = Engines(
        responder=SlowFor("during", 1.5),
        voice=engines.voice,
        transcriber=engines.transcriber,
        turn_detector_factory=engines.turn_detector_factory,
    )
    async with LocalRealtimeService(engines=custom) as svc:
        sent = _server_tap(svc)
        svc.faults = Faults(expire_after_s=1.0)
        async with _connect(
            svc.base_url, output_modalities="text", instructions="Stay brief."
        ) as s:
            await s.say("before")
            before = turns(s.conversation)
            reply = await asyncio.wait_for(s.say("during the expiry"), 30)
            assert reply.text == "You said: during the expiry."
            errors = [r.event["error"]["code"] for r in s.log.of_kind("error")]
            assert errors == ["session_expired"]
            (note,) = s.log.of_kind("rt.reconnect")
            assert note.event["code"] == 1000 and note.event["delay_s"] == 0.0
            assert len(cut_responses(s.log)) == 1  # the expiry cut a response in progress
            assert s.reconnects == 1
            assert s.session_config["instructions"] == "Stay brief."
            await s.say("after")
            assert_recovered(
                s,
                before,
                [
                    ("user", "during the expiry"),
                    ("assistant", "You said: during the expiry."),
                    ("user", "after"),
                    ("assistant", "You said: after."),
                ],
            )
            assert server_turns(svc) == turns(s.conversation)
        _assert_log_has_every_received_event(s, sent)


async def test_rejected_key_while_reconnecting(service: LocalRealtimeService) -> None:
    """The connection drops and the key is refused on the way back: AuthenticationError at
    once, after exactly one attempt (no retry loop)."""
    sent = _server_tap(service)
    async with _connect(service.base_url, output_modalities="text") as s:
        await s.say("hello")
        service.faults = Faults(drop_after_deltas=2, reject_keys=True)
        with pytest.raises(AuthenticationError, match="HTTP 401"):
            await asyncio.wait_for(s.say(LONG), 60)
        await asyncio.sleep(1.0)  # nothing keeps trying in the background
        assert s.log.count("rt.reconnect") == 1
        assert not s.connected and s.reconnects == 0
    assert len(sent) == 1  # the refused attempt never became a session
    _assert_log_has_every_received_event(s, sent)


async def test_calls_after_a_fatal_error_fail_fast(service: LocalRealtimeService) -> None:
    async with _connect(service.base_url, output_modalities="text") as s:
        await s.say("hello")
        service.faults = Faults(close_after_deltas=1, close_code=1008)
        with pytest.raises(ConnectionLostError):
            await s.say("closed by policy")
        with pytest.raises((ConnectionLostError, AuthenticationError)):
            await asyncio.wait_for(s.say("anyone there?"), 30)


# --- a real process restart: `rt-jupyter serve` killed with SIGKILL, started again -------------

# Loaded by the child's interpreter (PYTHONPATH) before `rt-jupyter serve` runs, unmodified: every
# event each session sends is appended to RTJ_TAP_DIR/<pid>.jsonl with one write(2) (the kernel
# keeps it even if the process is killed the next instant).
SITECUSTOMIZE = """
import os, sys
if os.environ.get("RTJ_TAP_DIR") and os.path.basename(sys.argv[0]) == "rt-jupyter":
    import itertools, json
    from rt_jupyter.local import service as _service

    _fd = os.open(
        os.path.join(os.environ["RTJ_TAP_DIR"], f"{os.getpid()}.jsonl"),
        os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    )
    _numbers = itertools.count()
    _init = _service.LocalRealtimeService.__init__

    def _tap(session):
        conn = f"{os.getpid()}-{next(_numbers)}"
        transport = session.transports[0]
        send = transport.send_text

        def send_text(text):
            line = json.dumps({"conn": conn, "id": json.loads(text).get("event_id")})
            os.write(_fd, (line + "\\n").encode())
            send(text)

        transport.send_text = send_text

    def __init__(self, *args, **kwargs):
        _init(self, *args, **kwargs)
        self.state.on_session = _tap

    _service.LocalRealtimeService.__init__ = __init__
"""


def free_port() -> int:
    from tests.e2e.harness import free_port as _free_port

    return _free_port()


class Serve:
    """``rt-jupyter serve --port N`` (the installed console script) in a child process."""

    def __init__(self, port: int, tap_dir: Path) -> None:
        (tap_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tap_dir), str(REPO)]),
            "RTJ_TAP_DIR": str(tap_dir),
            "PYTHONUNBUFFERED": "1",
        }
        self.output = tap_dir / f"serve-{time.monotonic_ns()}.log"
        with open(self.output, "wb") as out:  # a file, not a pipe nobody reads after start-up
            self.proc = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "rt-jupyter"),
                    "serve",
                    "--port",
                    str(port),
                    "--key",
                    KEY,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.port = port
        deadline = time.monotonic() + 60
        while "Ctrl-C" not in self.output.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rt-jupyter serve did not start: {self.output.read_text()}")
            time.sleep(0.05)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def kill(self) -> None:
        """SIGKILL: no close frames, no clean-up (its transcription worker is orphaned and
        exits when its stdin closes)."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc)


def tapped(tap_dir: Path, pids: Sequence[int]) -> list[list[str]]:
    """The event ids each connection of the tapped processes sent, connections in order."""
    by_conn: dict[str, list[str]] = {}
    for pid in pids:
        path = tap_dir / f"{pid}.jsonl"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            by_conn.setdefault(row["conn"], []).append(row["id"])
    return list(by_conn.values())


@pytest.fixture
def serve_dir(tmp_path: Path) -> Iterator[tuple[Path, list[Serve]]]:
    started: list[Serve] = []
    yield tmp_path, started
    for proc in started:
        proc.stop()


async def test_survives_sigkill_and_restart_of_the_service_process(
    serve_dir: tuple[Path, list[Serve]],
) -> None:
    """SIGKILL the service process while it streams a spoken answer, start a new one on the same
    port: the client resumes on its own, with the conversation and the log intact."""
    tap_dir, started = serve_dir
    port = free_port()
    first = Serve(port, tap_dir)
    started.append(first)
    async with _connect(
        first.base_url, output_modalities="audio", instructions="Answer aloud."
    ) as s:
        assert (await s.say("hello before the crash")).status == "completed"
        before = turns(s.conversation)

        killed = asyncio.Event()

        def kill_on_first_audio(_event: Any) -> None:
            if not killed.is_set():
                first.kill()
                killed.set()

        s.on("response.output_audio.delta", kill_on_first_audio)
        pending = asyncio.ensure_future(s.say(LONG))
        await asyncio.wait_for(killed.wait(), 30)
        await asyncio.sleep(0.5)  # the client is retrying against a closed port meanwhile
        assert not s.connected
        loop = asyncio.get_running_loop()  # start it without blocking the client's loop
        second = await loop.run_in_executor(None, Serve, port, tap_dir)
        started.append(second)
        reply = await asyncio.wait_for(pending, 60)
        assert reply.status == "completed" and reply.text == LONG_ECHO
        assert reply.duration_s > 10
        assert s.reconnects == 1
        notes = s.log.of_kind("rt.reconnect")
        assert notes[0].event["code"] == 1006
        assert len(notes) >= 2, "expected refused attempts while the port was closed"
        assert len(cut_responses(s.log)) == 1, "the kill did not happen mid-response"
        assert (await s.say("after the restart")).text == "You said: after the restart."
        assert_recovered(
            s,
            before,
            [
                ("user", LONG),
                ("assistant", LONG_ECHO),
                ("user", "after the restart"),
                ("assistant", "You said: after the restart."),
            ],
        )
    sent = tapped(tap_dir, [first.proc.pid, second.proc.pid])
    assert len(sent) == 2
    _assert_log_has_every_received_event(s, sent)


# --- SIGKILL of a kernel that logs a live session to a JSONL file --------------------------------

KERNEL_SETUP = """
import asyncio, hashlib, json, os, signal
import rt_jupyter
session = await rt_jupyter.connect(
    api_key={key!r}, base_url={url!r}, log_path={path!r}, output_modalities="audio", quiet=True
)
reply = await session.say("hello from the kernel")

async def chatter():  # keeps spoken answers streaming in while the kernel is killed
    i = 0
    while True:
        i += 1
        await session.say(f"message {{i}}. " + {long!r})

def snapshot():
    log = session.log
    n = len(log)
    rows = [
        json.dumps([rt_jupyter.log.DIRECTIONS[log.direction[i]], json.loads(log.payloads[i])],
                   sort_keys=True)
        for i in range(n)
    ]
    return json.dumps({{
        "n": n,
        "received": sum(1 for i in range(n) if log.direction[i] == 0),
        "digest": hashlib.sha256("\\n".join(rows).encode()).hexdigest(),
    }})

print(json.dumps({{"text": reply.text}}))
"""

# observed by the test, then killed from outside while the chatter goes on
KERNEL_OBSERVED = """
chatter_task = asyncio.ensure_future(chatter())
await asyncio.sleep(1.5)
print(snapshot())
"""

# killed at a known point: the snapshot and the kill run in one synchronous step on the event
# loop's thread (where events are received and logged), so nothing can be logged in between
KERNEL_SELF_KILL = """
chatter_task = asyncio.ensure_future(chatter())
await asyncio.sleep(1.5)
fd = os.open({observed!r}, os.O_WRONLY | os.O_CREAT)
os.write(fd, snapshot().encode())
os.kill(os.getpid(), signal.SIGKILL)
"""


def _check_killed_log(path: Path, seen: dict[str, Any], sent: list[list[str]]) -> EventLog:
    """What a killed kernel's JSONL log must be; returns it as read back."""
    raw = path.read_bytes()
    *complete, tail = raw.split(b"\n")
    rows = [json.loads(line) for line in complete]  # every complete line parses
    assert all({"t", "wall", "dir", "size", "event"} <= set(row) for row in rows)
    if tail:  # a torn last line: the kill landed mid-write
        with pytest.raises(ValueError):
            json.loads(tail)
    assert len(rows) >= seen["n"]
    observed = [json.dumps([r["dir"], r["event"]], sort_keys=True) for r in rows[: seen["n"]]]
    digest = hashlib.sha256("\n".join(observed).encode()).hexdigest()
    assert digest == seen["digest"], "the file differs from what the kernel had logged"
    back = EventLog.from_jsonl(path)
    assert len(back) == len(rows)  # from_jsonl reads every complete line
    received = [r for r in back if r.direction == "in"]
    assert len(received) >= seen["received"]
    assert back.count("response.done") >= 2  # it died in the middle of the chatter
    _assert_log_has_every_received_event(cast(RealtimeSession, SimpleNamespace(log=back)), sent)
    return back


@pytest.mark.parametrize("kill", ["from-outside", "at-a-known-point"])
def test_sigkill_kernel_leaves_a_readable_log(engines: Engines, tmp_path: Path, kill: str) -> None:
    """A real ipykernel runs ``connect(log_path=...)`` and is killed with SIGKILL while spoken
    answers stream in. The JSONL file holds, byte for byte, everything the kernel had logged when
    last observed, every complete line parses (only the last may be torn),
    ``EventLog.from_jsonl`` reads all of them, and its received events are a gap-free prefix of
    what the server sent. Killed from outside (at any instruction, 0.3 s after the observation)
    the file may hold more; killed at a known point, exactly what the kernel had received."""
    from jupyter_client.manager import KernelManager

    from tests.e2e.harness import kernel_json

    svc = LocalRealtimeService(engines=engines).start_in_thread()
    sent = _server_tap(svc)
    path = tmp_path / "session.jsonl"
    observed = tmp_path / "observed.json"
    km = KernelManager(kernel_name="python3")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "NEW_API_KEY")}
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        setup = KERNEL_SETUP.format(key=KEY, url=svc.base_url, path=str(path), long=LONG)
        assert kernel_json(kc, setup, timeout=60)["text"] == "You said: hello from the kernel."
        if kill == "from-outside":
            seen = kernel_json(kc, KERNEL_OBSERVED, timeout=60)
            time.sleep(0.3)
            km.signal_kernel(signal.SIGKILL)
        else:
            kc.execute(KERNEL_SELF_KILL.format(observed=str(observed)))
        deadline = time.monotonic() + 20
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not km.is_alive()
        if kill != "from-outside":
            seen = json.loads(observed.read_text())
    finally:
        kc.stop_channels()
        with contextlib.suppress(Exception):
            km.shutdown_kernel(now=True)
        time.sleep(0.3)  # the service notices the dead socket
        svc.stop_thread()
    back = _check_killed_log(path, seen, sent)
    if kill == "at-a-known-point":
        assert len(back) == seen["n"]  # not one event more or less
        assert path.read_bytes().endswith(b"\n")  # no torn line: it died between events


# --- faults on the WebRTC transport (aiortc client peer) ------------------------------------------


def _ask(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        },
        {"type": "response.create"},
    ]


async def _webrtc_call(service: LocalRealtimeService) -> Any:
    from tests.local.test_webrtc import Client, mint_ek

    peer = Client(audio=False)
    key = await mint_ek(service)
    await peer.connect(f"{service.base_url}/realtime/calls", key)
    await peer.wait_for("session.created")
    return peer


async def test_webrtc_call_dropped_mid_response(service: LocalRealtimeService) -> None:
    """``drop_after_deltas`` on a WebRTC call: the call ends mid-response (the peer's data
    channel closes) and the peer received a gap-free prefix of what the server sent."""
    sent = _server_tap(service)
    service.faults = Faults(drop_after_deltas=3)
    peer = await _webrtc_call(service)
    try:
        for event in _ask(LONG):
            peer.send(event)
        await asyncio.wait_for(peer.closed.wait(), 15)
        types = peer.types()
        assert "response.created" in types and "response.done" not in types
        (connection,) = sent
        got = [e["event_id"] for e in peer.events]
        assert got == connection[: len(got)]
        assert service.state.calls == {}  # the call was torn down and its slot released
    finally:
        await asyncio.wait_for(peer.close(), 10)


async def test_webrtc_call_reads_faults_live(service: LocalRealtimeService) -> None:
    peer = await _webrtc_call(service)
    try:
        service.faults = Faults(drop_after_deltas=3)  # set while the call is up
        for event in _ask(LONG):
            peer.send(event)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(peer.closed.wait(), 30)
        assert peer.closed.is_set(), "the call ignored faults set after it started"
    finally:
        await asyncio.wait_for(peer.close(), 10)


# --- the voice widget: a call to the mounted local service dropped mid-response -------------------

# A test-only server extension (written to a temp dir, enabled through the lab's config): the
# extension keeps the mounted service's ServiceState at
# ``web_app.settings["rt_jupyter_extension"].local_state``; this sets its faults and taps what its
# sessions send (``_server_tap``), so the kernel's ``chat.log`` can be checked against it.
LAB_TAP = """
import json
from types import SimpleNamespace

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

SENT = []


def _state(handler):
    return handler.settings["rt_jupyter_extension"].local_state


class FaultsHandler(APIHandler):
    @web.authenticated
    def get(self):
        state = _state(self)
        fired = list(state.faults.fired) if state.faults is not None else []
        sent = SENT[0] if SENT else []
        self.finish(json.dumps({"sent": sent, "fired": fired}))

    @web.authenticated
    def post(self):
        from rt_jupyter.local.faults import Faults
        from tests.client.test_client import _server_tap

        state = _state(self)
        if state.on_session is None:
            SENT.append(_server_tap(SimpleNamespace(state=state)))
        body = self.get_json_body() or {}
        state.faults = Faults(**body) if body else None
        self.finish(json.dumps({"faults": body}))


def _jupyter_server_extension_points():
    return [{"module": "rtj_fault_tap"}]


def _load_jupyter_server_extension(serverapp):
    base = serverapp.web_app.settings.get("base_url", "/")
    serverapp.web_app.add_handlers(
        ".*$", [(url_path_join(base, "rtj-test/faults"), FaultsHandler)]
    )
"""

WIDGET_CELL = """\
from rt_jupyter import VoiceChat
chat = VoiceChat(instructions="Answer briefly.", turn_detection=None)
chat
"""
WIDGET_LONG = "Hello there. This is my second message. It has several sentences. Here is one more."

WIDGET_REPORT = """
import json
rows = [[r.direction, r.kind, r.event.get("event_id"), r.event] for r in chat.log]
print(json.dumps({"rows": rows, "status": chat.status, "transcript": chat.transcript}))
"""


def _say_in_widget(page: Any, kc: Any, text: str) -> None:
    from tests.e2e.harness import run_in_kernel

    page.fill(".rtj-text", text)
    page.press(".rtj-text", "Enter")
    run_in_kernel(
        kc,
        "import json\n"
        'await chat.wait_for("response.done", since=0, timeout=60, '
        f"predicate=lambda e: {text!r} in json.dumps(e.data))",
        timeout=90,
    )


@pytest.fixture
def fault_lab(tmp_path: Path) -> Iterator[Any]:
    from tests.e2e.harness import have_browser, notebook, start_lab

    if not have_browser():
        pytest.skip("needs Playwright and /usr/bin/chromium")
    ext = tmp_path / "ext"
    ext.mkdir()
    (ext / "rtj_fault_tap.py").write_text(LAB_TAP, encoding="utf-8")
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text(
        "c.ServerApp.jpserver_extensions.update({'rtj_fault_tap': True})\n", encoding="utf-8"
    )
    lab = start_lab(
        tmp_path,
        notebooks={"drop.ipynb": notebook(WIDGET_CELL)},
        env={"PYTHONPATH": os.pathsep.join([str(ext), str(REPO)])},
    )
    yield lab
    lab.stop()


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_widget_call_dropped_mid_response_reconnects(fault_lab: Any) -> None:
    """VoiceChat in JupyterLab + headless Chromium, calling the local service mounted in the
    Jupyter server. The call is cut mid-response (``drop_after_deltas`` on the mounted
    service): the widget shows Reconnect; after a click the session settings are restored, the
    transcript goes on, the next turn is answered and ``chat.log`` lacks no received event."""
    from tests.e2e.harness import browser, connect, kernel_json, open_notebook, run_all_cells

    lab = fault_lab
    status, body = lab.api("rtj-test/faults", method="POST", body={"drop_after_deltas": 3})
    assert status == 200, body
    with browser(None) as chromium:
        context = chromium.new_context(viewport={"width": 1100, "height": 900})
        page = open_notebook(context, lab, "drop.ipynb")
        kernel_id = lab.wait_for_kernel()
        run_all_cells(page)
        connect(page)
        kc = lab.kernel_client(kernel_id)
        _say_in_widget(page, kc, "hi")  # one transcript delta: below the threshold
        page.fill(".rtj-text", WIDGET_LONG)
        page.press(".rtj-text", "Enter")
        page.wait_for_selector(".rtj[data-status=dropped]", timeout=30_000)
        assert page.is_visible(".rtj-reconnect")
        assert "dropped" in page.inner_text(".rtj-error-text")
        connect(page, ".rtj-reconnect")
        _say_in_widget(page, kc, "after the drop")
        report = kernel_json(kc, WIDGET_REPORT)
        _, server = lab.api("rtj-test/faults")  # while the second call is still up
        context.close()
    assert server["fired"] == ["drop"]

    rows = report["rows"]
    assert report["status"] == "connected"
    created = [event for d, kind, _, event in rows if d == "in" and kind == "session.created"]
    assert len(created) == 2
    assert all(c["session"]["instructions"] == "Answer briefly." for c in created)
    assert all(c["session"]["audio"]["input"]["turn_detection"] is None for c in created)
    # the drop cut the second answer: created on the first call, never done there
    calls = [i for i, r in enumerate(rows) if r[0] == "in" and r[1] == "session.created"]
    on_first = EventLog()
    for direction, _, _, event in rows[calls[0] : calls[1]]:
        on_first.add(direction, event)
    assert on_first.count("response.created") == 2 and on_first.count("response.done") == 1
    assert not [r for r in rows if r[1] == "rt.bad_message"]
    # batches the kernel got out of order (ipykernel 7 runs comm messages that arrive while a
    # cell holds the shell lock at once) were put back in order: no gap
    assert not [r[3] for r in rows if r[1] == "rt.relay_gap"]
    # the transcript goes on across the drop
    said = [(e["role"], e["text"]) for e in report["transcript"]]
    expected = [
        ("user", "hi"),
        ("assistant", "You said: hi."),
        ("user", WIDGET_LONG),
        ("user", "after the drop"),
        ("assistant", "You said: after the drop."),
    ]
    positions = [said.index(entry) for entry in expected]
    assert positions == sorted(positions), said
    # chat.log holds every event the browser got: a gap-free prefix per server session
    received = EventLog()
    for direction, _, _, event in rows:
        if direction == "in":
            received.add("in", event)
    assert len(server["sent"]) == 2
    _assert_log_has_every_received_event(
        cast(RealtimeSession, SimpleNamespace(log=received)), server["sent"]
    )
