"""Event dispatch shared by both front doors: callbacks (``on``/``off``), one-shot waiters
(``wait_for`` with a predicate, earlier events and a timeout) and async iteration.

Kinds are normalized with :func:`rt_jupyter.protocol.dialects.kind`, so GA and beta names select
the same events (``"response.text.delta"`` is ``"response.output_text.delta"``); ``"*"`` is every
event.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..protocol import Event
from ..protocol.dialects import kind as _normalize_kind

if TYPE_CHECKING:
    from ..log import EventLog

__all__ = ["Callback", "Dispatcher", "EventsAPI", "events_since", "normalize"]

log = logging.getLogger("rt_jupyter.core")

Callback = Callable[[Event], Any]
C = TypeVar("C", bound=Callback)
#: Told about a callback that raised: ``(callback, event, exception)``.
ErrorHook = Callable[[Callback, Event, Exception], None]


def normalize(kind: str) -> str:
    """The kind ``on``/``wait_for`` match: the GA name of either dialect's event type, or ``"*"``.

    Raises ``TypeError`` for anything but a non-empty string.
    """
    if not isinstance(kind, str) or not kind:
        raise TypeError(
            f"an event kind is a non-empty string such as 'response.done' (or '*' for every "
            f"event), not {kind!r}"
        )
    return "*" if kind == "*" else _normalize_kind(kind)


@dataclass(eq=False)
class _Waiter:
    kind: str
    predicate: Callable[[Event], bool] | None
    future: asyncio.Future[Event]
    loop: asyncio.AbstractEventLoop


class Dispatcher:
    """Hands each received event to callbacks, waiters and async iterators, by normalized kind.

    ``on_error`` is told about a callback that raised (the error never stops dispatch). Callbacks
    that return an awaitable have it scheduled on the running loop (``spawn`` to do it yourself).
    Events may be dispatched from another thread than the one a waiter awaits on.
    """

    def __init__(
        self,
        *,
        on_error: ErrorHook | None = None,
        spawn: Callable[[Awaitable[Any]], Any] | None = None,
    ) -> None:
        self._callbacks: dict[str, list[Callback]] = {}
        self._waiters: list[_Waiter] = []
        self._queues: list[tuple[asyncio.Queue[Event | None], asyncio.AbstractEventLoop]] = []
        self._on_error = on_error
        self._spawn = spawn
        self._closed: BaseException | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        # a waiter looks at earlier events and registers under this lock, and dispatch matches
        # waiters under it: an event logged, then dispatched from another thread (the widget's
        # comm handler) in between, is found one way or the other, never lost
        self._lock = threading.Lock()

    # --- callbacks -------------------------------------------------------------------------------

    @overload
    def on(self, kind: str, callback: C) -> C: ...
    @overload
    def on(self, kind: str, callback: None = None) -> Callable[[C], C]: ...
    def on(self, kind: str, callback: C | None = None) -> C | Callable[[C], C]:
        """Call ``callback(event)`` for each event of ``kind``; returns it (or, without a
        callback, a decorator)."""
        name = normalize(kind)

        def register(cb: C) -> C:
            if not callable(cb):
                raise TypeError(f"on({kind!r}, ...) needs a callable, got {type(cb).__name__}")
            self._callbacks.setdefault(name, []).append(cb)
            return cb

        return register(callback) if callback is not None else register

    def off(self, kind: str, callback: Callback) -> None:
        """Stop calling ``callback`` for ``kind`` (nothing happens if it was not registered)."""
        callbacks = self._callbacks.get(normalize(kind), [])
        if callback in callbacks:
            callbacks.remove(callback)

    # --- waiting ---------------------------------------------------------------------------------

    async def wait_for(
        self,
        kind: str,
        *,
        predicate: Callable[[Event], bool] | None = None,
        timeout: float | None = 30.0,
        earlier: Iterable[Event] = (),
    ) -> Event:
        """The next event of ``kind`` matching ``predicate``; the first match in ``earlier``
        (events already received) wins. Raises ``TimeoutError`` after ``timeout`` seconds, and
        the session's error if it ends first (see :meth:`close`)."""
        wanted = normalize(kind)
        if predicate is not None and not callable(predicate):
            raise TypeError(f"predicate must be a callable, not {type(predicate).__name__}")
        loop = asyncio.get_running_loop()
        waiter = _Waiter(wanted, predicate, loop.create_future(), loop)
        with self._lock:
            for event in earlier:
                if _matches(wanted, event) and (predicate is None or predicate(event)):
                    return event
            if self._closed is not None:
                raise self._closed
            self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter.future, timeout)
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    # --- iterating -------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Every event dispatched from now on, in order; ends when :meth:`close` is called."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        entry = (queue, asyncio.get_running_loop())
        if self._closed is not None:
            return
        self._queues.append(entry)
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            if entry in self._queues:
                self._queues.remove(entry)

    # --- feeding ---------------------------------------------------------------------------------

    def dispatch(self, event: Event) -> None:
        """Hand ``event`` to the callbacks of its kind and of ``"*"``, then waiters, then
        iterators."""
        kind = event.kind
        for callback in [*self._callbacks.get(kind, ()), *self._callbacks.get("*", ())]:
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    self._schedule(result)
            except Exception as exc:  # a user callback must not stop the session
                if self._on_error is not None:
                    self._on_error(callback, event, exc)
                else:
                    log.exception("callback %r failed on %s", callback, event.type)
        with self._lock:  # (not skipped when no waiter is seen: one may be registering)
            if self._waiters:
                self._match_waiters(event)
        for queue, loop in self._queues:
            _put(queue, loop, event)

    def _match_waiters(self, event: Event) -> None:
        for waiter in list(self._waiters):
            if waiter.future.done() or not _matches(waiter.kind, event):
                continue
            try:
                matched = waiter.predicate is None or bool(waiter.predicate(event))
            except Exception as exc:  # the waiting cell gets the predicate's error
                self._waiters.remove(waiter)
                _settle(waiter, exc=exc)
                continue
            if matched:
                self._waiters.remove(waiter)
                _settle(waiter, event=event)

    def fail_waiters(self, error: BaseException) -> None:
        """Make the waiters pending now fail with ``error`` (later ones wait as usual: the widget's
        call failed, and the user may connect again)."""
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            _settle(waiter, exc=error)

    def close(self, error: BaseException | None = None) -> None:
        """End the async iterators; with ``error``, waiters (now and later) fail with it."""
        if error is not None:
            self._closed = error
            self.fail_waiters(error)
        for queue, loop in self._queues:
            _put(queue, loop, None)

    def _schedule(self, awaitable: Awaitable[Any]) -> None:
        if self._spawn is not None:
            self._spawn(awaitable)
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop: run it to completion here
            asyncio.run(_await(awaitable))
            return
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def events_since(log: EventLog, since: int, kind: str = "*") -> Iterator[Event]:
    """The received events of ``kind`` already in ``log``, from index ``since`` (for
    :meth:`Dispatcher.wait_for`'s ``earlier``)."""
    wanted = normalize(kind)
    for index in range(max(0, since), len(log)):
        if log.direction[index] != 0:
            continue
        if wanted != "*" and log.kinds[log.kind_codes[index]] != wanted:
            continue
        yield Event(json.loads(log.payloads[index]))


class EventsAPI:
    """``on``, ``off``, ``wait_for`` and ``events``: the part of the public API both front doors
    share word for word (``RealtimeSession`` and ``VoiceChat`` inherit it).

    A subclass sets ``self._events`` (its :class:`Dispatcher`) and implements
    :meth:`_event_log`; it may override :meth:`_before_wait` / :meth:`_after_wait` (the widget
    flushes its throttled transcript) and :meth:`_timed_out` (a message with its own advice).
    """

    _events: Dispatcher

    def _event_log(self) -> EventLog:
        raise NotImplementedError

    def _before_wait(self) -> None:
        """Called when a ``wait_for`` starts."""

    def _after_wait(self) -> None:
        """Called when a ``wait_for`` found its event."""

    def _timed_out(self, kind: str, timeout: float | None) -> TimeoutError | None:
        """The error a ``wait_for`` that timed out raises (``None``: the dispatcher's own)."""
        return None

    @overload
    def on(self, kind: str, callback: C) -> C: ...
    @overload
    def on(self, kind: str, callback: None = None) -> Callable[[C], C]: ...
    def on(self, kind: str, callback: C | None = None) -> C | Callable[[C], C]:
        """Call ``callback(event)`` for each received event of ``kind`` (GA or beta name, or
        ``"*"`` for every event); coroutine functions are scheduled. Returns the callback;
        without one, a decorator: ``@x.on("response.done")``."""
        return self._events.on(kind, callback)

    def off(self, kind: str, callback: Callable[[Event], Any]) -> None:
        """Stop calling ``callback`` for ``kind``."""
        self._events.off(kind, callback)

    async def wait_for(
        self,
        kind: str = "response.done",
        timeout: float | None = 30.0,
        *,
        predicate: Callable[[Event], bool] | None = None,
        since: int | None = None,
    ) -> Event:
        """The next received event of ``kind`` (GA or beta name, or ``"*"``) matching
        ``predicate``: ``await x.wait_for("response.done", timeout=60)``.

        With ``since=i`` events already in the log from index ``i`` count too (``since=0``: the
        whole log). Raises ``TimeoutError`` after ``timeout`` seconds, and the session's error if
        it ends first. In a notebook, await it: the kernel handles the widget's messages while a
        cell awaits, not while it sleeps or loops."""
        self._before_wait()
        earlier = events_since(self._event_log(), since, kind) if since is not None else ()
        try:
            event = await self._events.wait_for(
                kind, predicate=predicate, timeout=timeout, earlier=earlier
            )
        except TimeoutError as exc:
            error = self._timed_out(kind, timeout)
            if error is None:
                raise
            raise error from exc
        self._after_wait()
        return event

    async def events(self) -> AsyncIterator[Event]:
        """Every event received from now on, in order (ends when the session or widget closes)."""
        async for event in self._events.events():
            yield event


def _matches(wanted: str, event: Event) -> bool:
    return wanted == "*" or event.kind == wanted


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _on_loop(loop: asyncio.AbstractEventLoop, apply: Callable[[], None]) -> None:
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        apply()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(apply)


def _settle(
    waiter: _Waiter, *, event: Event | None = None, exc: BaseException | None = None
) -> None:
    def apply() -> None:
        if waiter.future.done():
            return
        if exc is not None:
            waiter.future.set_exception(exc)
            waiter.future.exception()  # whoever awaits it gets the error; nobody else is warned
        else:
            waiter.future.set_result(event)  # type: ignore[arg-type]

    _on_loop(waiter.loop, apply)


def _put(
    queue: asyncio.Queue[Event | None], loop: asyncio.AbstractEventLoop, item: Event | None
) -> None:
    _on_loop(loop, lambda: queue.put_nowait(item))
