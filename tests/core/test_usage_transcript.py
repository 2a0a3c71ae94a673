"""Usage totals and the transcript: one implementation in the core, the same answers from the
kernel client (through the local service) and the widget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from rt_jupyter.client import connect
from rt_jupyter.core.usage import USAGE_KEYS, add_usage
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines

KEY = "sk-core-" + "usage"

USAGE = {
    "total_tokens": 12,
    "input_tokens": 9,
    "output_tokens": 3,
    "input_token_details": {"text_tokens": 5, "audio_tokens": 4},
    "output_token_details": {"text_tokens": 3, "audio_tokens": 0},
}


def test_add_usage_sums_and_leaves_its_input_alone() -> None:
    first = add_usage({}, USAGE)
    assert list(first) == list(USAGE_KEYS)
    assert first["responses"] == 1 and first["input_audio_tokens"] == 4
    second = add_usage(first, USAGE)
    assert first["total_tokens"] == 12  # not changed in place
    assert second["responses"] == 2 and second["total_tokens"] == 24
    assert second["input_text_tokens"] == 10 and second["output_text_tokens"] == 6
    assert add_usage(second, None) == second  # a response without usage is not counted
    odd = add_usage({}, {"total_tokens": "many", "input_token_details": None, "output_tokens": 2})
    assert odd["total_tokens"] == 0 and odd["output_tokens"] == 2 and odd["responses"] == 1


@pytest_asyncio.fixture
async def service(engines: Engines) -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=engines) as svc:
        yield svc


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_client_usage_totals_and_transcript(
    service: LocalRealtimeService, dialect: str
) -> None:
    kwargs: dict[str, Any] = {"output_modalities": "text", "quiet": True}
    async with connect(
        api_key=KEY, base_url=service.base_url, dialect=dialect, **kwargs
    ) as session:
        assert session.usage == {} and session.transcript == []
        first = await session.say("hello there", timeout=60)
        second = await session.say("good morning", timeout=60)
        usage = session.usage
        assert usage["responses"] == 2
        expected = add_usage(add_usage({}, first.usage), second.usage)
        assert usage == expected and usage["total_tokens"] > 0
        assert session.transcript == [
            {"role": "user", "text": "hello there", "item_id": session.transcript[0]["item_id"]},
            {"role": "assistant", "text": first.text, "item_id": first.items[0].id},
            {"role": "user", "text": "good morning", "item_id": session.transcript[2]["item_id"]},
            {"role": "assistant", "text": second.text, "item_id": second.items[0].id},
        ]
