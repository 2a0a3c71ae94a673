"""A failed or dropped call ends a pending ``VoiceChat.wait_for`` with the exception the kernel
client raises for the same failure (the browser's ``rt.status`` note names the failure)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rt_jupyter import VoiceChat
from rt_jupyter.errors import (
    AuthenticationError,
    ConnectionLostError,
    KeyMintError,
    NotConnectedError,
    RealtimeError,
)


def relay_note(chat: VoiceChat, seq: int, **note: Any) -> None:
    """What the browser sends: a batch with one local note."""
    import json

    chat._receive_batch(
        {
            "seq": seq,
            "events": [["local", 1_700_000_000_000.0, json.dumps({"type": "rt.status", **note})]],
        }
    )


@pytest.mark.parametrize(
    ("code", "http_status", "expected"),
    [
        ("upstream_auth", 401, AuthenticationError),
        ("key_refused", 401, AuthenticationError),
        ("rate_limited", 429, KeyMintError),
        ("not_authorized", 403, KeyMintError),
        ("ice_failed", None, ConnectionLostError),
        ("mic_denied", None, RealtimeError),
    ],
)
async def test_a_failed_call_ends_a_pending_wait_with_the_matching_error(
    code: str, http_status: int | None, expected: type[Exception]
) -> None:
    chat = VoiceChat()
    waiting = asyncio.ensure_future(chat.wait_for("session.created", timeout=30))
    await asyncio.sleep(0)
    relay_note(
        chat, 0, status="error", error=f"It failed ({code}).", code=code, http_status=http_status
    )
    with pytest.raises(expected) as info:
        await asyncio.wait_for(waiting, 5)
    assert type(info.value) is expected  # not a broader class, not a TimeoutError
    assert f"It failed ({code})." in str(info.value)
    if expected is KeyMintError:
        assert info.value.status == http_status and info.value.code == code  # type: ignore[attr-defined]
    # a later wait is not failed by the old error: the user may click Connect again
    later = asyncio.ensure_future(chat.wait_for("session.created", timeout=0.2))
    with pytest.raises(TimeoutError):
        await later
    chat.close()


async def test_a_dropped_call_ends_a_pending_wait() -> None:
    chat = VoiceChat()
    waiting = asyncio.ensure_future(chat.wait_for("response.done", timeout=30))
    await asyncio.sleep(0)
    relay_note(chat, 0, status="dropped", error="The call dropped.", code="dropped")
    with pytest.raises(ConnectionLostError, match="Reconnect"):
        await asyncio.wait_for(waiting, 5)
    chat.close()


async def test_other_status_notes_leave_waits_alone() -> None:
    chat = VoiceChat()
    waiting = asyncio.ensure_future(chat.wait_for("session.created", timeout=0.3))
    await asyncio.sleep(0)
    relay_note(chat, 0, status="connecting", error="")
    relay_note(chat, 1, status="closed", error="")
    with pytest.raises(TimeoutError):
        await waiting
    chat.close()


def test_send_before_connect_is_a_not_connected_error() -> None:
    chat = VoiceChat()
    with pytest.raises(NotConnectedError, match="click Connect") as info:
        chat.send({"type": "response.create"})
    assert isinstance(info.value, RuntimeError)  # as before the exception tree
    chat.close()
