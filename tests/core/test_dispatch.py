"""The session layer's event dispatcher, without sockets: kinds of both dialects, callbacks,
waiters (predicate, earlier events, timeout, errors) and async iteration."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from rt_jupyter.core.dispatch import Dispatcher, events_since, normalize
from rt_jupyter.log import EventLog
from rt_jupyter.protocol import Event


def ev(type_: str, **fields: Any) -> Event:
    return Event({"type": type_, **fields})


BETA_DELTA = ev("response.text.delta", delta="hi", response_id="r1")
GA_DELTA = ev("response.output_text.delta", delta="hi", response_id="r1")


def test_normalize_maps_beta_names_and_keeps_star() -> None:
    assert normalize("response.text.delta") == "response.output_text.delta"
    assert normalize("response.output_text.delta") == "response.output_text.delta"
    assert normalize("conversation.item.created") == "conversation.item.added"
    assert normalize("*") == "*"
    with pytest.raises(TypeError, match="non-empty string"):
        normalize("")
    with pytest.raises(TypeError, match="non-empty string"):
        normalize(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["response.text.delta", "response.output_text.delta"])
@pytest.mark.parametrize("event", [BETA_DELTA, GA_DELTA], ids=["beta-event", "ga-event"])
def test_on_fires_for_either_name_on_either_dialect(name: str, event: Event) -> None:
    events = Dispatcher()
    seen: list[Event] = []
    everything: list[Event] = []
    events.on(name, seen.append)
    events.on("*", everything.append)
    events.dispatch(event)
    events.dispatch(ev("response.done", response={}))
    assert seen == [event]
    assert [e.kind for e in everything] == ["response.output_text.delta", "response.done"]


def test_off_with_the_other_dialects_name_and_decorator_form() -> None:
    events = Dispatcher()
    seen: list[str] = []

    @events.on("response.text.delta")
    def collect(event: Event) -> None:
        seen.append(str(event.get("delta")))

    events.dispatch(GA_DELTA)
    events.off("response.output_text.delta", collect)
    events.dispatch(GA_DELTA)
    events.off("response.output_text.delta", collect)  # not registered: nothing happens
    assert seen == ["hi"]
    with pytest.raises(TypeError, match="needs a callable"):
        events.on("response.done", 42)  # type: ignore[call-overload]


def test_a_raising_callback_is_reported_and_does_not_stop_others() -> None:
    failures: list[tuple[str, Exception]] = []
    events = Dispatcher(on_error=lambda cb, e, exc: failures.append((e.kind, exc)))
    seen: list[Event] = []

    def boom(event: Event) -> None:
        raise ValueError("bad callback")

    events.on("response.done", boom)
    events.on("response.done", seen.append)
    events.dispatch(ev("response.done"))
    assert len(seen) == 1
    assert failures and failures[0][0] == "response.done"
    assert str(failures[0][1]) == "bad callback"


async def test_coroutine_callbacks_are_scheduled() -> None:
    events = Dispatcher()
    done = asyncio.Event()

    async def later(event: Event) -> None:
        done.set()

    events.on("response.done", later)
    events.dispatch(ev("response.done"))
    await asyncio.wait_for(done.wait(), 5)


@pytest.mark.parametrize("name", ["response.text.delta", "response.output_text.delta"])
@pytest.mark.parametrize("event", [BETA_DELTA, GA_DELTA], ids=["beta-event", "ga-event"])
async def test_wait_for_either_name(name: str, event: Event) -> None:
    events = Dispatcher()
    waiter = asyncio.ensure_future(events.wait_for(name, timeout=5))
    await asyncio.sleep(0)
    events.dispatch(ev("response.done"))
    events.dispatch(event)
    assert await waiter is event


async def test_wait_for_predicate_earlier_and_timeout() -> None:
    events = Dispatcher()
    first, second = ev("response.done", n=1), ev("response.done", n=2)
    waiter = asyncio.ensure_future(
        events.wait_for("response.done", predicate=lambda e: e.get("n") == 2, timeout=5)
    )
    await asyncio.sleep(0)
    events.dispatch(first)
    assert not waiter.done()
    events.dispatch(second)
    assert await waiter is second
    found = await events.wait_for("response.done", earlier=[GA_DELTA, first], timeout=0.01)
    assert found is first
    with pytest.raises(TimeoutError):
        await events.wait_for("response.done", timeout=0.01)
    assert not events._waiters  # a timed-out waiter is removed


async def test_a_raising_predicate_fails_the_wait() -> None:
    events = Dispatcher()

    def bad(event: Event) -> bool:
        raise KeyError("missing")

    waiter = asyncio.ensure_future(events.wait_for("*", predicate=bad, timeout=5))
    await asyncio.sleep(0)
    events.dispatch(ev("response.done"))
    with pytest.raises(KeyError):
        await waiter


async def test_close_fails_waiters_and_ends_iterators() -> None:
    events = Dispatcher()
    received: list[str] = []

    async def consume() -> None:
        async for event in events.events():
            received.append(event.kind)

    consumer = asyncio.ensure_future(consume())
    waiter = asyncio.ensure_future(events.wait_for("response.done", timeout=5))
    await asyncio.sleep(0)
    events.dispatch(BETA_DELTA)
    events.dispatch(ev("conversation.item.created", item={}))
    events.close(ConnectionError("gone"))
    with pytest.raises(ConnectionError, match="gone"):
        await waiter
    await asyncio.wait_for(consumer, 5)
    assert received == ["response.output_text.delta", "conversation.item.added"]
    with pytest.raises(ConnectionError, match="gone"):  # later waits fail at once
        await events.wait_for("response.done", timeout=5)
    assert [e async for e in events.events()] == []


async def test_dispatch_from_another_thread_resolves_on_the_waiters_loop() -> None:
    events = Dispatcher()
    waiter = asyncio.ensure_future(events.wait_for("response.done", timeout=5))
    await asyncio.sleep(0)
    thread = threading.Thread(target=events.dispatch, args=(ev("response.done", n=7),))
    thread.start()
    thread.join()
    assert (await waiter).get("n") == 7


def test_events_since_reads_received_events_of_a_kind_from_the_log() -> None:
    log = EventLog()
    log.add("out", {"type": "response.create"})
    log.add("in", {"type": "response.text.delta", "delta": "a"})
    log.add("in", {"type": "response.done", "response": {}})
    log.add("in", {"type": "response.output_text.delta", "delta": "b"})
    deltas = [e.get("delta") for e in events_since(log, 0, "response.text.delta")]
    assert deltas == ["a", "b"]
    assert [e.kind for e in events_since(log, 2)] == ["response.done", "response.output_text.delta"]


async def test_an_event_dispatched_from_another_thread_while_a_wait_starts_is_not_lost() -> None:
    """The widget's comm handler may log and dispatch an event on another thread just as a
    ``wait_for`` has looked at the events so far and not yet registered: the event must reach
    the waiter (here the other thread dispatches right when the look at earlier events ends)."""
    dispatcher = Dispatcher()
    late = ev("rate_limits.updated", event_id="late", rate_limits=[])
    other: list[threading.Thread] = []

    def earlier() -> Any:
        yield ev("response.done", event_id="old", response={})
        thread = threading.Thread(target=dispatcher.dispatch, args=(late,))
        thread.start()
        thread.join(0.5)  # done at once, unless the dispatch waits for the registration
        other.append(thread)

    found = await dispatcher.wait_for("rate_limits.updated", timeout=10, earlier=earlier())
    assert found is late
    other[0].join(10)
