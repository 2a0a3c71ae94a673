"""Fault injection as a transport wrapper: :class:`FaultyTransport` drops, closes, stalls and
expires a session the way :class:`~rt_jupyter.local.faults.Faults` says, with a fake transport
and session (the end-to-end scenarios are in ``tests/faults/test_faults.py``)."""

from __future__ import annotations

import asyncio
import json

from rt_jupyter.local.faults import Faults, FaultyTransport


class Wire:
    """A fake transport: records what was sent, and how it ended."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.aborted = False

    def send_text(self, text: str) -> None:
        self.sent.append(text)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)

    def abort(self) -> None:
        self.aborted = True

    def types(self) -> list[str]:
        return [json.loads(t)["type"] for t in self.sent]


class Session:
    """A fake session that closes its transport as :class:`LocalSession` does."""

    def __init__(self, transport: FaultyTransport) -> None:
        self.transport = transport
        self.closed = False
        self.expired = 0
        transport.attach(self)

    def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            self.transport.close(code, reason)

    def expire(self) -> None:
        self.expired += 1
        self.transport.send_text(event("error"))
        self.close(1000, "session expired")


def event(kind: str, n: int = 0) -> str:
    return json.dumps({"type": kind, "n": n}, separators=(",", ":"))


def delta(n: int) -> str:
    return event("response.output_text.delta", n)


def setup(faults: Faults | None) -> tuple[Wire, FaultyTransport, Session, list[Faults | None]]:
    wire = Wire()
    current: list[Faults | None] = [faults]
    transport = FaultyTransport(wire, lambda: current[0])
    return wire, transport, Session(transport), current


def test_no_faults_pass_everything_through() -> None:
    wire, transport, _session, _ = setup(None)
    for n in range(10):
        transport.send_text(delta(n))
    transport.close(1001, "bye")
    assert [json.loads(t)["n"] for t in wire.sent] == list(range(10))
    assert wire.closed == (1001, "bye") and not wire.aborted
    assert transport.deltas == 0  # only counted while faults are set


def test_drop_aborts_at_the_nth_delta_and_closes_the_session() -> None:
    faults = Faults(drop_after_deltas=2)
    wire, transport, session, _ = setup(faults)
    transport.send_text(event("response.created"))  # not a delta
    transport.send_text(delta(1))
    transport.send_text(event("response.output_text.done"))
    transport.send_text(delta(2))  # the drop: never delivered
    transport.send_text(delta(3))
    assert wire.types() == [
        "response.created",
        "response.output_text.delta",
        "response.output_text.done",
    ]
    assert wire.aborted and session.closed and wire.closed == (1000, "")
    assert faults.fired == ["drop"]


def test_close_after_the_nth_delta_with_the_code() -> None:
    faults = Faults(close_after_deltas=2, close_code=1011)
    wire, transport, session, _ = setup(faults)
    for n in range(1, 5):
        transport.send_text(delta(n))
    assert [json.loads(t)["n"] for t in wire.sent] == [1, 2]
    assert session.closed and wire.closed == (1011, "fault injection") and not wire.aborted


async def test_stall_holds_the_rest_then_releases_it_in_order() -> None:
    faults = Faults(stall_after_deltas=2, stall_s=0.05)
    wire, transport, session, _ = setup(faults)
    for n in range(1, 6):
        transport.send_text(delta(n))
    assert [json.loads(t)["n"] for t in wire.sent] == [1, 2]
    for _ in range(400):  # generous: the release is due after 50 ms
        await asyncio.sleep(0.01)
        if len(wire.sent) == 5:
            break
    assert [json.loads(t)["n"] for t in wire.sent] == [1, 2, 3, 4, 5]
    transport.send_text(delta(6))  # one-shot: no second stall
    assert len(wire.sent) == 6 and faults.fired == ["stall"] and not session.closed


async def test_close_during_a_stall_drops_what_is_held() -> None:
    wire, transport, session, _ = setup(Faults(stall_after_deltas=1, stall_s=0.05))
    transport.send_text(delta(1))
    transport.send_text(delta(2))
    session.close()
    await asyncio.sleep(0.3)
    assert [json.loads(t)["n"] for t in wire.sent] == [1] and wire.closed == (1000, "")


async def test_early_expiry_is_armed_by_the_first_event() -> None:
    faults = Faults(expire_after_s=0.05)
    wire, transport, session, _ = setup(faults)
    transport.send_text(event("session.created"))
    for _ in range(400):
        await asyncio.sleep(0.01)
        if session.closed:
            break
    assert session.expired == 1 and wire.types() == ["session.created", "error"]
    assert wire.closed == (1000, "session expired")
    # one-shot: a session started later with the same Faults does not expire early
    _wire2, transport2, session2, _ = setup(faults)
    transport2.send_text(event("session.created"))
    await asyncio.sleep(0.2)
    assert session2.expired == 0 and not session2.closed
    transport2.close()


async def test_expiry_timer_is_cancelled_when_the_session_closes() -> None:
    _wire, transport, session, _ = setup(Faults(expire_after_s=0.05))
    transport.send_text(event("session.created"))
    session.close()
    await asyncio.sleep(0.2)
    assert session.expired == 0


def test_faults_are_read_live_and_one_shot_across_sessions() -> None:
    wire, transport, session, current = setup(None)
    transport.send_text(delta(1))  # not counted: no faults yet
    faults = Faults(drop_after_deltas=1)
    current[0] = faults
    transport.send_text(delta(2))
    assert wire.aborted and session.closed and len(wire.sent) == 1
    other_wire, other, _other_session, _ = setup(faults)
    other.send_text(delta(1))
    assert not other_wire.aborted and other_wire.sent == [delta(1)]  # fired already
    repeating = Faults(close_after_deltas=1, repeat=True)
    for _ in range(2):
        w, t, s, _ = setup(repeating)
        t.send_text(delta(1))
        assert s.closed and w.closed == (1011, "fault injection")


def test_without_a_session_the_transport_ends_itself() -> None:
    wire = Wire()
    transport = FaultyTransport(wire, lambda: Faults(close_after_deltas=1, close_code=4000))
    transport.send_text(delta(1))
    transport.send_text(delta(2))
    assert wire.sent == [delta(1)] and wire.closed == (4000, "fault injection")
