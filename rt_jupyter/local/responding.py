"""What the local service's responses are made of, apart from the events that carry them:
the responder's context taken from the conversation, and the answer's text as words or as
spoken sentences resampled to the output rate.

:class:`~rt_jupyter.local.session.LocalSession` runs a response (asks the responder, emits the
events through :class:`~rt_jupyter.protocol.ResponseBuilder`); this module has no events."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import Executor
from typing import Any

import numpy as np
import numpy.typing as npt

from ..protocol.conversation import Conversation, Item
from .engines.responder import ContextItem

__all__ = ["response_context", "spoken", "words"]

Samples = npt.NDArray[np.float32]
_WORDS = re.compile(r"\S+\s*")
_SENTENCES = re.compile(r"[^.!?\n]+[.!?]*\s*|\n+")


def words(text: str) -> list[str]:
    """``text`` in the pieces a text response streams: each word with the space after it."""
    return _WORDS.findall(text)


async def response_context(
    conversation: Conversation,
    params: Mapping[str, Any],
    heard: Mapping[str, asyncio.Future[str]],
) -> list[ContextItem]:
    """The responder's context: the conversation's items (or ``params["input"]``, with its
    ``item_reference`` entries resolved), as :class:`ContextItem`s. A user's audio message whose
    transcript is still being made waits for it (``heard``: item id → its transcript)."""
    if "input" in params:
        items: list[Item] = []
        for entry in params.get("input") or []:
            if entry.get("type") == "item_reference":
                found = conversation.get(str(entry.get("id")))
                if found is not None:
                    items.append(found)
            else:
                items.append(Item(entry))
    else:
        items = list(conversation.items)
    out: list[ContextItem] = []
    for item in items:
        if item.type == "message":
            text = item.text
            audio_ms = item.audio_ms(0, conversation.input_format) if item.role == "user" else 0.0
            pending = heard.get(item.id)
            if item.role == "user" and not text and pending is not None:
                # shielded: a cancelled response must not cancel the shared transcript
                text = await asyncio.shield(pending)
            out.append(ContextItem(role=item.role or "user", text=text, audio_ms=audio_ms))
        elif item.type == "function_call":
            out.append(
                ContextItem(role="call", text=item.arguments, name=item.name, call_id=item.call_id)
            )
        elif item.type == "function_call_output":
            name = next(
                (
                    i.name
                    for i in conversation.items
                    if i.type == "function_call" and i.call_id == item.call_id
                ),
                None,
            )
            out.append(
                ContextItem(role="tool", text=item.output or "", name=name, call_id=item.call_id)
            )
    return out


async def spoken(
    engine: Any,
    text: str,
    *,
    voice: str,
    speed: float,
    rate: int,
    executor: Executor | None = None,
) -> AsyncIterator[tuple[str, Samples]]:
    """``text`` spoken by ``engine`` sentence by sentence, at ``rate`` Hz, as ``(sentence,
    samples)`` pairs: each sentence first with no samples (its text goes out before its audio),
    then its samples with ``""``; the resampler's tail last. Synthesis runs in ``executor``: a
    long sentence must not stall the other sessions on the event loop."""
    import soxr

    stream = soxr.ResampleStream(engine.sample_rate, rate, 1, dtype="float32")
    nothing = np.zeros(0, dtype=np.float32)
    loop = asyncio.get_running_loop()
    for sentence in _SENTENCES.findall(text):
        yield sentence, nothing
        if not sentence.strip():
            continue
        chunks = await loop.run_in_executor(
            executor, functools.partial(_synthesize, engine, sentence, voice, speed)
        )
        for chunk in chunks:
            yield "", stream.resample_chunk(np.asarray(chunk, dtype=np.float32))
    yield "", stream.resample_chunk(nothing, last=True)


def _synthesize(engine: Any, text: str, voice: str, speed: float) -> list[Samples]:
    return list(engine.synthesize(text, voice=voice, speed=speed))
