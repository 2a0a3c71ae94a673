"""Error paths of the local service over real WebSockets and HTTP: every documented error code,
the session survives bad input, auth fails before the upgrade, limits are enforced."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest
import websockets

from rt_jupyter.local.engines.responder import Answer, ContextItem
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from tests.conformance import validate_server_event
from tests.local.conftest import KEY, WsClient, ws_connect


async def _error(client: WsClient, event: dict[str, Any] | str) -> dict[str, Any]:
    await client.send(event)
    reply = await client.until("error")
    validate_server_event(reply, "ga")
    return dict(reply["error"])


async def _still_alive(client: WsClient) -> None:
    await client.send({"type": "input_audio_buffer.clear", "event_id": "alive"})
    assert (await client.until("input_audio_buffer.cleared"))["type"]


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        ("not json at all", "invalid_json", None),
        ({"event_id": "e1"}, "invalid_event", None),
        ({"type": "scooby.dooby.doo", "event_id": "e2"}, "invalid_value", "type"),
        (
            {
                "type": "session.update",
                "event_id": "e3",
                "session": {"type": "realtime", "totally_made_up_field": 1},
            },
            "unknown_parameter",
            "session.totally_made_up_field",
        ),
        (
            {"type": "session.update", "event_id": "e4", "session": {}},
            "missing_required_parameter",
            "session.type",
        ),
        (
            {
                "type": "session.update",
                "event_id": "e5",
                "session": {"type": "realtime", "instructions": 5},
            },
            "invalid_type",
            "session.instructions",
        ),
        (
            {
                "type": "conversation.item.truncate",
                "event_id": "e6",
                "item_id": "x",
                "content_index": 0,
                "audio_end_ms": -11,
            },
            "integer_below_min_value",
            "audio_end_ms",
        ),
        (
            {
                "type": "session.update",
                "event_id": "e7",
                "session": {"type": "realtime", "max_output_tokens": 5000},
            },
            "integer_above_max_value",
            "session.max_output_tokens",
        ),
        (
            {
                "type": "session.update",
                "event_id": "e8",
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}
                    },
                },
            },
            "decimal_above_max_value",
            "session.audio.input.turn_detection.threshold",
        ),
        ({"type": "response.cancel", "event_id": "e9"}, "response_cancel_not_active", None),
        (
            {"type": "input_audio_buffer.commit", "event_id": "e10"},
            "input_audio_buffer_commit_empty",
            None,
        ),
        (
            {"type": "conversation.item.delete", "event_id": "e11", "item_id": "nope"},
            "item_delete_invalid_item_id",
            "item_id",
        ),
        (
            {"type": "conversation.item.retrieve", "event_id": "e12", "item_id": "nope"},
            "item_retrieve_invalid_item_id",
            "item_id",
        ),
        (
            {
                "type": "conversation.item.truncate",
                "event_id": "e13",
                "item_id": "nope",
                "content_index": 0,
                "audio_end_ms": 10,
            },
            "item_truncate_invalid_item_id",
            "item_id",
        ),
        (
            {
                "type": "conversation.item.create",
                "event_id": "e14",
                "previous_item_id": "nope",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                },
            },
            "item_create_invalid_previous_item_id",
            "previous_item_id",
        ),
        (
            {"type": "input_audio_buffer.append", "event_id": "e15", "audio": "%%%not base64%%%"},
            "invalid_value",
            "audio",
        ),
        ({"type": "output_audio_buffer.clear", "event_id": "e16"}, "invalid_value", "type"),
    ],
)
async def test_error_codes_and_session_survives(
    service: LocalRealtimeService, event: dict[str, Any] | str, code: str, param: str | None
) -> None:
    client = await ws_connect(service)
    error = await _error(client, event)
    assert error["code"] == code, error
    assert error["param"] == param
    if isinstance(event, dict) and "event_id" in event and code != "invalid_event":
        assert error["event_id"] == event["event_id"]
    assert "Traceback" not in error["message"]
    await _still_alive(client)
    await client.ws.close()


async def test_beta_dialect_errors(service: LocalRealtimeService) -> None:
    client = await ws_connect(service, beta=True)
    error = await _error(
        client, {"type": "session.update", "event_id": "b1", "session": {"temperature": 0.1}}
    )
    assert (error["code"], error["param"]) == ("decimal_below_min_value", "session.temperature")
    error = await _error(client, {"type": "session.update", "session": {"type": "realtime"}})
    assert (error["code"], error["param"]) == ("unknown_parameter", "session.type")
    await _still_alive(client)


class LongResponder:
    """Answers with many words, so a response stays active long enough to overlap."""

    def respond(self, items: Sequence[ContextItem], **_: Any) -> Answer:
        return Answer(text=" ".join(["word"] * 3000))


async def test_active_response_conflict_and_cancel() -> None:
    async with LocalRealtimeService(engines=Engines(responder=LongResponder())) as svc:
        client = await ws_connect(svc)
        await client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text"]},
            }
        )
        await client.until("session.updated")
        await client.send({"type": "response.create"})
        await client.send({"type": "response.create", "event_id": "second"})
        error = await client.until("error")
        assert error["error"]["code"] == "conversation_already_has_active_response"
        assert error["error"]["event_id"] == "second"
        # out-of-band responses may run beside it
        await client.send(
            {
                "type": "response.create",
                "response": {"conversation": "none", "metadata": {"k": "v"}},
            }
        )
        await client.send({"type": "response.cancel", "event_id": "cancel"})
        done = [e for e in [await client.until("response.done") for _ in range(2)]]
        statuses = {d["response"]["status"] for d in done}
        assert "cancelled" in statuses
        cancelled = next(d for d in done if d["response"]["status"] == "cancelled")
        assert cancelled["response"]["status_details"]["reason"] == "client_cancelled"
        assert cancelled["response"]["output"][0]["status"] == "incomplete"
        for event in client.events:
            validate_server_event(event, "ga")


async def test_append_limit_15_mib(service: LocalRealtimeService) -> None:
    client = await ws_connect(service)
    big = base64.b64encode(b"\0" * (12 * 2**20)).decode()  # 16 MiB of base64
    error = await _error(client, {"type": "input_audio_buffer.append", "audio": big})
    assert error["code"] == "invalid_value" and error["param"] == "audio"
    assert "15 MiB" in error["message"]
    ok = base64.b64encode(b"\0" * (11 * 2**20)).decode()  # just under 15 MiB of base64
    await client.send({"type": "input_audio_buffer.append", "audio": ok})
    await client.send({"type": "input_audio_buffer.commit"})
    committed = await client.until("input_audio_buffer.committed")
    assert committed["item_id"]


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("sk-", 401), ("not-a-key", 401), ("ek_00000000000000000000000000000000", 401)],
)
async def test_websocket_auth_refused_before_upgrade(
    service: LocalRealtimeService, key: str | None, status: int
) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(
            f"{service.ws_base_url}/realtime?model=m", additional_headers=headers
        )
    assert info.value.response.status_code == status
    body = json.loads(info.value.response.body or b"{}")
    assert body["error"]["code"] in ("missing_api_key", "invalid_api_key")
    if key and len(key) > 8:
        assert key not in body["error"]["message"]


async def test_browser_subprotocol_auth_and_echo(service: LocalRealtimeService) -> None:
    async def mint() -> str:  # an ephemeral key opens one session
        async with httpx.AsyncClient() as http:
            minted = await http.post(
                f"{service.base_url}/realtime/client_secrets",
                headers={"Authorization": f"Bearer {KEY}"},
                json={"session": {"type": "realtime", "instructions": "be brief"}},
            )
        return str(minted.json()["value"])

    ek = await mint()
    async with websockets.connect(
        f"{service.ws_base_url}/realtime",
        subprotocols=["realtime", f"openai-insecure-api-key.{ek}"],  # type: ignore[list-item]
    ) as ws:
        assert ws.subprotocol == "realtime"
        created = json.loads(await ws.recv())
        assert created["session"]["instructions"] == "be brief"
    # the SDK offers no subprotocol: none is echoed
    async with websockets.connect(
        f"{service.ws_base_url}/realtime",
        additional_headers={"Authorization": f"Bearer {await mint()}"},
    ) as ws:
        assert ws.subprotocol is None


async def test_expired_ephemeral_key_refused(service: LocalRealtimeService) -> None:
    key = service.keys.mint({"type": "realtime"}, owner=KEY, ttl=10)
    key.expires_at = time.time() - 1
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(
            f"{service.ws_base_url}/realtime",
            additional_headers={"Authorization": f"Bearer {key.value}"},
        )
    assert info.value.response.status_code == 401
    assert json.loads(info.value.response.body)["error"]["code"] == "expired_api_key"


async def test_beta_api_shape_disabled(engines: Engines) -> None:
    async with LocalRealtimeService(engines=engines, beta_shape_disabled=True) as svc:
        ws = await websockets.connect(
            f"{svc.ws_base_url}/realtime?model=m",
            additional_headers={"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "realtime=v1"},
        )
        event = json.loads(await ws.recv())
        assert event["error"]["code"] == "beta_api_shape_disabled"
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4000
        # GA still works
        client = await ws_connect(svc)
        await _still_alive(client)


async def test_session_expired(engines: Engines) -> None:
    async with LocalRealtimeService(engines=engines, max_session_s=0.5) as svc:
        client = await ws_connect(svc)
        error = await client.until("error", timeout=30)
        assert error["error"]["code"] == "session_expired"
        with pytest.raises(websockets.ConnectionClosed):
            await client.recv(timeout=30)
        assert client.ws.close_code == 1000


async def test_concurrency_limit_per_key(engines: Engines) -> None:
    async with LocalRealtimeService(engines=engines, max_sessions_per_key=2) as svc:
        a = await ws_connect(svc)
        b = await ws_connect(svc)
        with pytest.raises(websockets.InvalidStatus) as info:
            await ws_connect(svc)
        assert info.value.response.status_code == 429
        body = json.loads(info.value.response.body)
        assert body["error"]["code"] == "concurrent_sessions_limit_exceeded"
        other = await ws_connect(svc, key="sk-another-key")  # other keys are not affected
        await a.ws.close()
        await asyncio.sleep(0.2)
        c = await ws_connect(svc)  # a slot was released
        for client in (b, c, other):
            await client.ws.close()


async def test_twenty_concurrent_sessions(service: LocalRealtimeService) -> None:
    async def one(i: int) -> str:
        client = await ws_connect(service)
        await client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text"]},
            }
        )
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"number {i}"}],
                },
            }
        )
        await client.send({"type": "response.create"})
        done = await client.until("response.done")
        await client.ws.close()
        return str(done["response"]["output"][0]["content"][0]["text"])

    texts = await asyncio.gather(*(one(i) for i in range(20)))
    assert texts == [f"You said: number {i}." for i in range(20)]


async def test_rest_client_secrets_and_beta_sessions(service: LocalRealtimeService) -> None:
    from openai.types.beta.realtime.session_create_response import SessionCreateResponse
    from openai.types.realtime.client_secret_create_response import ClientSecretCreateResponse

    auth = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient() as http:
        ok = await http.post(
            f"{service.base_url}/realtime/client_secrets",
            headers=auth,
            json={
                "expires_after": {"anchor": "created_at", "seconds": 120},
                "session": {
                    "type": "realtime",
                    "model": "gpt-realtime",
                    "audio": {"output": {"voice": "marin"}},
                },
            },
        )
        assert ok.status_code == 200
        body = ok.json()
        ClientSecretCreateResponse.model_validate(body, strict=True)
        assert body["value"].startswith("ek_") and len(body["value"]) == 35
        assert 110 <= body["expires_at"] - time.time() <= 121
        assert body["session"]["audio"]["output"]["voice"] == "marin"
        for seconds, code in ((5, "integer_below_min_value"), (9000, "integer_above_max_value")):
            bad = await http.post(
                f"{service.base_url}/realtime/client_secrets",
                headers=auth,
                json={"expires_after": {"seconds": seconds}},
            )
            assert bad.status_code == 400 and bad.json()["error"]["code"] == code
        bad = await http.post(
            f"{service.base_url}/realtime/client_secrets",
            headers=auth,
            json={"session": {"type": "realtime", "voice": "x"}},
        )
        assert bad.json()["error"]["param"] == "session.voice"
        no_auth = await http.post(f"{service.base_url}/realtime/client_secrets", json={})
        assert no_auth.status_code == 401
        beta = await http.post(
            f"{service.base_url}/realtime/sessions",
            headers=auth,
            json={"model": "gpt-4o-realtime-preview", "voice": "verse", "modalities": ["text"]},
        )
        assert beta.status_code == 200
        session = beta.json()
        SessionCreateResponse.model_validate(session)
        assert session["voice"] == "verse" and session["modalities"] == ["text"]
        assert 50 <= session["client_secret"]["expires_at"] - time.time() <= 61
        page = "http://127.0.0.1:5173"  # a loopback page may call it; other sites may not
        preflight = await http.options(
            f"{service.base_url}/realtime/client_secrets",
            headers={"Origin": page, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == page
        foreign = await http.options(
            f"{service.base_url}/realtime/client_secrets",
            headers={"Origin": "http://example.org", "Access-Control-Request-Method": "POST"},
        )
        assert "Access-Control-Allow-Origin" not in foreign.headers
    ek = session["client_secret"]["value"]
    ws = await websockets.connect(
        f"{service.ws_base_url}/realtime?model=m",
        additional_headers={"Authorization": f"Bearer {ek}", "OpenAI-Beta": "realtime=v1"},
    )
    created = json.loads(await ws.recv())
    assert created["session"]["voice"] == "verse"
    await ws.close()
    with pytest.raises(websockets.InvalidStatus):  # beta keys are single use
        await websockets.connect(
            f"{service.ws_base_url}/realtime?model=m",
            additional_headers={"Authorization": f"Bearer {ek}", "OpenAI-Beta": "realtime=v1"},
        )


def _mapping(x: Mapping[str, Any]) -> dict[str, Any]:
    return dict(x)
