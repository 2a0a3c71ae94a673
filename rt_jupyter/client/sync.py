"""A blocking facade over :class:`RealtimeSession` for plain scripts without an event loop::

    with rt_jupyter.connect_sync(instructions="Be brief.") as session:
        print(session.say("hello").text)

The session runs on an event loop in a background thread; each method waits for its result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..log import EventLog
from ..protocol import Conversation, Event
from .reply import Reply
from .session import RealtimeSession, Transcription, connect

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

    def on(self, kind: str, callback: Callable[[Event], Any]) -> Callable[[Event], Any]:
        """See :meth:`RealtimeSession.on` (callbacks run on the session's thread)."""
        return self.session.on(kind, callback)

    def tool(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """See :meth:`RealtimeSession.tool`."""
        return self.session.tool(fn)

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


def connect_sync(**kwargs: Any) -> SyncRealtimeSession:
    """:func:`connect` for code without an event loop (same arguments); returns a
    :class:`SyncRealtimeSession` (also a context manager)."""
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
        return await connect(**kwargs)

    try:
        session = asyncio.run_coroutine_threadsafe(opened(), loop).result()
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        raise
    return SyncRealtimeSession(session, loop, thread)
