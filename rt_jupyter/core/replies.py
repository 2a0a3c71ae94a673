"""Request ↔ response correlation, the same for any front door: which ``response.create`` a
``response.created`` answers, the :class:`~rt_jupyter.core.reply.Reply` each response builds
(text, transcript, audio, items, timings), the follow-ups its tool calls ask for, which
responses a dropped connection cut off, and which event answers a ``request(event, expect=)``.

No I/O: the adapter feeds the events it receives to :class:`Replies` and sends the
``response.create`` events :meth:`Replies.ask` gives it; waiting is on ``asyncio`` futures.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import deque
from collections.abc import Collection, Mapping
from typing import Any

from ..audio import decode_audio, get_format
from ..protocol import Conversation, Event, Item, build, ids
from .reply import Reply, ToolCallRecord

__all__ = ["PendingReply", "Replies"]


class PendingReply:
    """A reply being waited for, and the future that delivers the final one.

    ``params`` are the ``response.create`` parameters it was asked with (``{}``: a response the
    server started, e.g. a VAD turn); ``generation`` is the connection its request went out on
    (``-1``: not sent yet)."""

    def __init__(
        self,
        reply: Reply,
        future: asyncio.Future[Reply],
        params: dict[str, Any] | None = None,
    ) -> None:
        self.reply = reply
        self.future = future
        self.params: dict[str, Any] = params or {}
        self.generation = -1

    @classmethod
    def new(cls, t_request: float) -> PendingReply:
        """A fresh pending reply requested at ``t_request`` (on the running loop)."""
        return cls(Reply(t_request=t_request), asyncio.get_running_loop().create_future())

    def resolve(self) -> None:
        """Deliver :attr:`reply` (once)."""
        if not self.future.done():
            self.future.set_result(self.reply)

    def fail(self, exc: BaseException) -> None:
        """Deliver ``exc`` (once); an error nobody awaits is not reported as never retrieved."""
        if not self.future.done():
            self.future.set_exception(exc)
            self.future.exception()


class Replies:
    """The correlation state of one session, across its connections.

    Feed it what is received: :meth:`created`, :meth:`delta`, :meth:`done` for the response
    events, :meth:`answered` for every event while :attr:`requests` is not empty, :meth:`error`
    for ``error`` events. :attr:`replies` lists every response's reply in the order they started.
    """

    def __init__(self) -> None:
        #: Every response's reply, in the order the responses were created.
        self.replies: list[Reply] = []
        #: Requests waiting for the event of a kind: ``event_id -> (kind, future)``.
        self.requests: dict[str, tuple[str, asyncio.Future[Event]]] = {}
        #: The connection counter (:meth:`new_connection`).
        self.generation = 0
        self._claims: deque[PendingReply] = deque()  # waiting for their response.created
        self._active: dict[str, PendingReply] = {}  # response id -> reply being built
        self._tool_waits: dict[str, PendingReply] = {}  # replies whose tool calls are running

    # --- asking ----------------------------------------------------------------------------------

    def ask(
        self, pending: PendingReply, params: Mapping[str, Any], *, on_wire: bool
    ) -> dict[str, Any]:
        """Claim the next response for ``pending`` and return the ``response.create`` to send
        (``params`` are its response parameters). ``on_wire``: it goes out on the current
        connection now (not queued while reconnecting)."""
        event_id = ids.new_id("evt")
        clean = {k: v for k, v in params.items() if k != "_event_id"}
        pending.params = {**clean, "_event_id": event_id}
        self._claims.append(pending)
        if on_wire:
            pending.generation = self.generation
        response = {k: v for k, v in clean.items() if not k.startswith("_")}
        return build("response.create", event_id=event_id, response=response or None)

    def expect(self, pending: PendingReply) -> None:
        """Claim the next in-conversation response for ``pending`` without asking for one (the
        server starts it, e.g. at the end of a VAD turn)."""
        self._claims.append(pending)

    def withdraw(self, pending: PendingReply) -> None:
        """Forget ``pending``'s claim (its ``response.create`` could not be sent)."""
        if pending in self._claims:
            self._claims.remove(pending)

    def request(self, expect: str, future: asyncio.Future[Event]) -> str:
        """Register a request answered by the next event of kind ``expect``; returns the
        ``event_id`` to send it with (errors about it fail ``future``)."""
        event_id = ids.new_id("evt")
        self.requests[event_id] = (expect, future)
        return event_id

    # --- receiving -------------------------------------------------------------------------------

    def answered(self, event: Event) -> None:
        """The oldest request waiting for this kind of event gets it."""
        kind = event.kind
        if kind == "transcription_session.updated":
            kind = "session.updated"
        for event_id, (expect, future) in list(self.requests.items()):
            if expect == kind:
                del self.requests[event_id]
                if not future.done():
                    future.set_result(event)
                return

    def error(self, error: Mapping[str, Any], exc: BaseException) -> bool:
        """An ``error`` about a request or a ``response.create`` fails its waiter with ``exc``;
        ``False`` when the error is about neither (by its ``event_id``)."""
        event_id = error.get("event_id")
        if not event_id:
            return False
        if event_id in self.requests:
            _, future = self.requests.pop(event_id)
            if not future.done():
                future.set_exception(exc)
            return True
        for pending in self._claims:
            if pending.params.get("_event_id") == event_id:
                self._claims.remove(pending)
                if not pending.future.done():
                    pending.future.set_exception(exc)
                return True
        return False

    def created(self, event: Event, t: float, output_format: str) -> PendingReply:
        """A ``response.created``: the oldest claim it matches (in or out of the conversation,
        out-of-band ones by their metadata) gets the response, or a new reply is made for a
        response nobody asked for here."""
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
            pending = PendingReply.new(t)
        reply = pending.reply
        reply.response_id = rid
        reply.t_created = t
        reply.sample_rate = get_format(output_format).sample_rate
        self._active[rid] = pending
        self.replies.append(reply)
        return pending

    def delta(self, event: Event, t: float, output_format: str) -> None:
        """A ``response.*`` event with a ``response_id``: text, transcript and audio deltas go
        into its reply."""
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
            reply.audio_chunks.append(decode_audio(raw, output_format))

    def done(self, event: Event, t: float, conversation: Conversation) -> bool:
        """A ``response.done``: its reply is complete (``False``: not a response this session
        follows).

        The reply then waits for the response's tool calls: :meth:`tools_answered` once they
        are, or :meth:`settle` when there are none to wait for."""
        response = event.get("response") or {}
        rid = str(response.get("id"))
        pending = self._active.pop(rid, None)
        if pending is None:
            return False
        reply = pending.reply
        reply.status = str(response.get("status"))
        reply.status_details = response.get("status_details")
        reply.usage = response.get("usage")
        reply.t_done = t
        reply.items = [
            conversation.get(str(o.get("id"))) or Item(o) for o in response.get("output") or []
        ]
        self._tool_waits[rid] = pending  # before the tools are run: they may be ready at once
        return True

    def settle(self, response_id: str) -> None:
        """Response ``response_id`` has no tool calls to wait for: deliver its reply."""
        pending = self._tool_waits.pop(response_id, None)
        if pending is not None:
            pending.resolve()

    def tools_answered(self, response_id: str) -> PendingReply | None:
        """The reply whose response's tool calls are answered (``None``: not followed here).
        Deliver it with :meth:`follow_up`, or :meth:`PendingReply.fail` it."""
        return self._tool_waits.pop(response_id, None)

    def follow_up(
        self, pending: PendingReply, records: list[ToolCallRecord], follow_up: bool
    ) -> PendingReply | None:
        """After ``pending``'s tool calls (``records``): with ``follow_up``, the reply to ask for
        next (it carries the calls so far and the earlier replies, and delivers to the same
        future); without, ``pending`` gets the records and is delivered."""
        if not follow_up:
            pending.reply.tool_calls = [*pending.reply.tool_calls, *records]
            pending.resolve()
            return None
        follow = Reply(
            t_request=time.perf_counter(),
            tool_calls=[*pending.reply.tool_calls, *records],
            previous=[*pending.reply.previous, pending.reply],
        )
        return PendingReply(follow, pending.future)

    # --- connections -----------------------------------------------------------------------------

    def new_connection(self) -> None:
        """A new connection is open (requests sent on earlier ones can be told apart)."""
        self.generation += 1

    def lost(self, cut: Collection[str]) -> list[PendingReply]:
        """After a reconnect: the replies whose response died with the old connection — those of
        ``cut`` (the responses in progress, from the restore plan), those created without an id
        the conversation kept, and requests sent on an earlier connection that never started —
        each as a fresh reply (same request time, tool calls and earlier replies, same future
        and :attr:`~PendingReply.params`) to :meth:`ask` for again."""
        gone = [self._active.pop(rid) for rid in cut if rid in self._active]
        gone += self._active.values()
        self._active.clear()
        unstarted = [p for p in self._claims if 0 <= p.generation < self.generation]
        for pending in unstarted:
            self._claims.remove(pending)
        return [
            PendingReply(
                Reply(
                    t_request=p.reply.t_request,
                    tool_calls=p.reply.tool_calls,
                    previous=p.reply.previous,
                ),
                p.future,
                p.params,
            )
            for p in [*gone, *unstarted]
        ]

    def fail(self, exc: BaseException) -> None:
        """The session has ended: every waiter gets ``exc``."""
        pending = [*self._claims, *self._active.values(), *self._tool_waits.values()]
        futures: list[asyncio.Future[Any]] = [p.future for p in pending]
        futures += [f for _, f in self.requests.values()]
        self._tool_waits.clear()
        self._claims.clear()
        self._active.clear()
        for future in futures:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # whoever awaits it gets the error; nobody else is warned
