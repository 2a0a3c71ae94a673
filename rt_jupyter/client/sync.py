"""A blocking facade over :class:`RealtimeSession` for plain scripts without an event loop::

    with rt_jupyter.connect_sync(instructions="Be brief.") as session:
        print(session.say("hello").text)

The session runs on an event loop in a background thread; each method waits for its result.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from ..core.reply import Reply
from ..log import EventLog
from ..protocol import Conversation, Event
from .connect import connect
from .session import RealtimeSession, Transcription

__all__ = ["SyncRealtimeSession", "connect_sync"]

T = TypeVar("T")


class SyncRealtimeSession:
    """Blocking methods with the same names as :class:`RealtimeSession`'s."""

    def __init__(
        self, session: RealtimeSession, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.session = session
        self._loop = loop
        self._thread = thread

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def log(self) -> EventLog:
        return self.session.log

    @property
    def conversation(self) -> Conversation:
        return self.session.conversation

    @property
    def code_blocks(self) -> list[str]:
        """See :attr:`RealtimeSession.code_blocks`."""
        return self.session.code_blocks

    @property
    def replies(self) -> list[Reply]:
        return self.session.replies

    @property
    def transcript(self) -> list[dict[str, str]]:
        """See :attr:`RealtimeSession.transcript`."""
        return self.session.transcript

    @property
    def usage(self) -> dict[str, int]:
        """See :attr:`RealtimeSession.usage`."""
        return self.session.usage

    @property
    def session_config(self) -> dict[str, Any]:
        """See :attr:`RealtimeSession.session_config`."""
        return self.session.session_config

    def insert_code(self, index: int = -1) -> None:
        """See :meth:`RealtimeSession.insert_code`."""
        self.session.insert_code(index)

    def send(self, *events: Mapping[str, Any]) -> None:
        """See :meth:`RealtimeSession.send`."""
        self._run(_call(self.session.send, *events))

    def send_text(self, text: str, *, respond: bool = True) -> None:
        """See :meth:`RealtimeSession.send_text`."""
        self._run(_call(self.session.send_text, text, respond=respond))

    def wait_for(
        self,
        kind: str = "response.done",
        timeout: float | None = 30.0,
        *,
        predicate: Callable[[Event], bool] | None = None,
        since: int | None = None,
    ) -> Event:
        """See :meth:`RealtimeSession.wait_for` (blocks this thread)."""
        return self._run(self.session.wait_for(kind, timeout, predicate=predicate, since=since))

    def update(self, **settings: Any) -> dict[str, Any]:
        """See :meth:`RealtimeSession.update`."""
        return self._run(self.session.update(**settings))

    def say(self, text: str, **kwargs: Any) -> Reply:
        """See :meth:`RealtimeSession.say`."""
        return self._run(self.session.say(text, **kwargs))

    def send_audio(self, audio: Any, sample_rate: int | None = None, **kwargs: Any) -> Reply | None:
        """See :meth:`RealtimeSession.send_audio`."""
        return self._run(self.session.send_audio(audio, sample_rate, **kwargs))

    def transcribe(
        self, audio: Any, sample_rate: int | None = None, **kwargs: Any
    ) -> Transcription:
        """See :meth:`RealtimeSession.transcribe`."""
        return self._run(self.session.transcribe(audio, sample_rate, **kwargs))

    def cancel(self) -> None:
        """See :meth:`RealtimeSession.cancel`."""
        self._run(self.session.cancel())

    def truncate(self, item: Any, audio_end_ms: int) -> Event:
        """See :meth:`RealtimeSession.truncate`."""
        return self._run(self.session.truncate(item, audio_end_ms))

    def on(self, kind: str, callback: Callable[[Event], Any] | None = None) -> Any:
        """See :meth:`RealtimeSession.on` (callbacks run on the session's thread); without a
        callback, a decorator."""
        return self.session.on(kind, callback)

    def off(self, kind: str, callback: Callable[[Event], Any]) -> None:
        """See :meth:`RealtimeSession.off`."""
        self.session.off(kind, callback)

    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Any:
        """See :meth:`RealtimeSession.tool`."""
        return self.session.tool(fn, name=name, description=description)

    def close(self) -> None:
        """Close the session and stop its thread."""
        if self._thread.is_alive():
            self._run(self.session.close(), timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> SyncRealtimeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self.session).replace("<RealtimeSession", "<SyncRealtimeSession")


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` on the session's loop (its state is not thread-safe)."""
    return fn(*args, **kwargs)


def connect_sync(**kwargs: Any) -> SyncRealtimeSession:
    """:func:`connect` for code without an event loop (same arguments); returns a
    :class:`SyncRealtimeSession` (also a context manager). Arguments are checked before the
    session's thread starts (:class:`~rt_jupyter.ConfigurationError`, as :func:`connect`)."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:  # re-warned at the caller's line
            warnings.simplefilter("always")
            pending = connect(**kwargs)
    finally:
        for warning in caught:
            warnings.warn(warning.message, warning.category, stacklevel=2)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="rt-jupyter-client", daemon=True)
    thread.start()
    ready.wait()

    async def opened() -> RealtimeSession:
        return await pending

    try:
        session = asyncio.run_coroutine_threadsafe(opened(), loop).result()
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        raise
    return SyncRealtimeSession(session, loop, thread)
