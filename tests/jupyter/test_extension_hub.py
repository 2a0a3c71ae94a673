"""The server extension on JupyterHub (``hub_service_url``): it holds no key, forwards the browser's
request with the server's Hub token, and passes the service's refusals on, scrubbed and bounded,
whatever the service (or something posing as it) answers. The full flow with a real JupyterHub is
in tests/hub."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rt_jupyter.jupyter.mint import EXTENSION_ENV

from .conftest import GOOD_KEY, unused_port

HUB_TOKEN = "hubtoken" + "7" * 32
LEAK = "sk-proj-" + "Q" * 40


class FakeService:
    """A stand-in hub service on a real socket that records requests and answers as told."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.answer: tuple[int, bytes] = (200, b"{}")
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.requests.append((self.path, dict(self.headers), body))
                status, payload = owner.answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/rt-jupyter/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def service() -> Iterator[FakeService]:
    fake = FakeService()
    yield fake
    fake.server.shutdown()


@pytest.fixture(autouse=True)
def _hub_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Hub gives a user's server its token (not in the test without one); afterwards the
    extension's marker for kernels is forgotten, as in test_extension."""
    if "without_token" not in request.node.name:
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", HUB_TOKEN)
    else:
        monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    yield
    os.environ.pop(EXTENSION_ENV, None)


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest, service: FakeService) -> Any:
    from traitlets.config import Config

    where = getattr(request, "param", "service")
    url = service.url if where == "service" else f"http://127.0.0.1:{unused_port()}/x/"
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"rt_jupyter": True}},
            "RealtimeExtension": {"hub_service_url": url, "api_key": GOOD_KEY},
        }
    )


def post(run: Any, jp_fetch: Any, body: Any) -> tuple[int, Any]:
    response = run(
        jp_fetch(
            "rt-jupyter",
            "session",
            method="POST",
            body=json.dumps(body),
            raise_error=False,
        )
    )
    return response.code, json.loads(response.body)


def test_forwards_with_the_hub_token_and_holds_no_key(
    run: Any, jp_fetch: Any, service: FakeService
) -> None:
    token = {
        "value": "ek_abc",
        "expires_at": 1,
        "model": "gpt-realtime",
        "dialect": "ga",
        "sdp_url": "https://api.openai.com/v1/realtime/calls",
        "upstream": "remote",
    }
    service.answer = (200, json.dumps(token).encode())
    code, body = post(run, jp_fetch, {"session": {"instructions": "hi"}})
    assert code == 200 and body == token
    path, headers, sent = service.requests[-1]
    assert path == "/services/rt-jupyter/api/session"
    assert headers["Authorization"] == f"token {HUB_TOKEN}"
    assert json.loads(sent) == {"session": {"instructions": "hi"}}
    assert GOOD_KEY not in json.dumps(headers) + sent.decode()  # a configured key is never used
    status = json.loads(run(jp_fetch("rt-jupyter", "status")).body)
    assert status["mode"] == "hub" and status["key_configured"] is False


def test_a_refusal_passes_with_its_status_reason_and_hint_but_nothing_secret(
    run: Any, jp_fetch: Any, service: FakeService
) -> None:
    message = f"quota used up {LEAK} {HUB_TOKEN} " + "x" * 200_000
    error = {"error": {"message": message, "code": "quota_exceeded", "hint": "ask " + LEAK}}
    service.answer = (429, json.dumps(error).encode())
    code, body = post(run, jp_fetch, {})
    assert code == 429 and body["error"]["code"] == "quota_exceeded"
    text = json.dumps(body)
    assert "quota used up" in text and body["error"]["hint"].startswith("ask ")
    assert LEAK not in text and HUB_TOKEN not in text and len(text) < 3000
    service.answer = (200, b'{"value": 3}')
    code, body = post(run, jp_fetch, {})
    assert code == 502 and body["error"]["code"] == "hub_service_bad_response"


@pytest.mark.parametrize("jp_server_config", ["unreachable"], indirect=True)
def test_an_unreachable_service_is_a_clear_502(run: Any, jp_fetch: Any) -> None:
    code, body = post(run, jp_fetch, {})
    assert code == 502 and body["error"]["code"] == "hub_service_unreachable"
    assert "RT_JUPYTER_HUB_SERVICE_URL" in body["error"]["hint"]
    assert HUB_TOKEN not in json.dumps(body)


def test_a_server_without_token_says_it_was_not_started_by_the_hub(run: Any, jp_fetch: Any) -> None:
    code, body = post(run, jp_fetch, {})
    assert code == 503 and body["error"]["code"] == "hub_token_missing"
