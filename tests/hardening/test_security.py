"""Security properties (issue 7, part 4); the threat model they check is ``SECURITY.md``.

* The standard API key stays on the server: not in minted tokens, status, logs, audit lines,
  upstream error paths, comm messages, saved notebooks and widget state, the client's event
  log, reprs or exception messages. A distinctive fake key (``sk-SECRET-hardening-…``) is used
  and searched for everywhere.
* Every endpoint refuses unauthenticated and cross-site requests.
* Ephemeral keys expire; beta keys open one session; minting is rate-limited per user.
* The local service listens on loopback, offers loopback ICE candidates only, and answers a
  WebSocket upgrade without a valid key with 401 before upgrading.

Real servers, real sockets, a real kernel; the only stand-in is the "echoing" upstream (OpenAI
itself is unreachable here), a server that quotes the caller's key in its errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
import tornado.httpclient
import tornado.websocket
import websockets

import rt_jupyter
from rt_jupyter.client.errors import AuthenticationError, RealtimeError
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines

from .conftest import SECRET_KEY, WRONG_SECRET_KEY, leaked

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

UP = {"base_url": "upstream", "api_key": SECRET_KEY}


@pytest.fixture(autouse=True)
def _forget_extension_marker() -> Iterator[None]:
    """The extension marks the (test) process's environment for its kernels; later tests mint
    in a kernel of no server."""
    yield
    os.environ.pop("RT_JUPYTER_SERVER_EXTENSION", None)


# --- helpers: the Jupyter server as a browser sees it ---------------------------------------------


def port_of(http_server_port: Any) -> int:
    return int(http_server_port[-1] if isinstance(http_server_port, tuple) else http_server_port)


def fetch(run: Any, url: str, **kwargs: Any) -> tornado.httpclient.HTTPResponse:
    client = tornado.httpclient.AsyncHTTPClient()
    kwargs.setdefault("raise_error", False)
    kwargs.setdefault("follow_redirects", False)
    response: tornado.httpclient.HTTPResponse = run(client.fetch(url, **kwargs))
    return response


class Browser:
    """A browser's cookie jar on the Jupyter server: logs in with the token through the login
    form (as a person does), then sends requests with its cookies."""

    def __init__(self, run: Any, root: str, token: str) -> None:
        self.run = run
        self.root = root
        self.cookies: dict[str, str] = {}
        page = fetch(run, f"{root}login")
        self._keep(page)
        xsrf = self.cookies["_xsrf"]
        body = f"password={token}&_xsrf={xsrf}"
        done = fetch(
            run, f"{root}login", method="POST", body=body, headers=self.headers(xsrf=False)
        )
        assert done.code in (302, 303), (done.code, done.body[:300])
        self._keep(done)
        assert any(k.startswith("username-") for k in self.cookies), self.cookies

    def _keep(self, response: tornado.httpclient.HTTPResponse) -> None:
        for header in response.headers.get_list("Set-Cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]

    def headers(self, *, xsrf: bool = True, origin: str | None = None) -> dict[str, str]:
        out = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if xsrf:
            out["X-XSRFToken"] = self.cookies["_xsrf"]
        if origin:
            out["Origin"] = origin
        return out

    def post(self, path: str, body: Any = None, **kwargs: Any) -> tornado.httpclient.HTTPResponse:
        headers = {**self.headers(**kwargs), "Content-Type": "application/json"}
        return fetch(
            self.run, self.root + path, method="POST", body=json.dumps(body or {}), headers=headers
        )

    def get(self, path: str, **kwargs: Any) -> tornado.httpclient.HTTPResponse:
        return fetch(self.run, self.root + path, headers=self.headers(**kwargs))


@pytest.fixture
def root(jp_base_url: str, http_server_port: Any, http_server_client: Any) -> str:
    """The Jupyter server's root URL (``http_server_client``: the server is listening)."""
    return f"http://127.0.0.1:{port_of(http_server_port)}{jp_base_url}"


@pytest.fixture
def token(jp_serverapp: Any) -> str:
    return str(jp_serverapp.identity_provider.token)


def mint(run: Any, jp_fetch: Any, body: Any = None) -> tuple[int, dict[str, Any]]:
    response = run(
        jp_fetch(
            "rt-jupyter", "session", method="POST", body=json.dumps(body or {}), raise_error=False
        )
    )
    return int(response.code), json.loads(response.body or b"{}")


def ws_status(run: Any, url: str, headers: dict[str, str]) -> int:
    """The HTTP status of a WebSocket upgrade attempt (101 when it opened)."""

    async def attempt() -> int:
        request = tornado.httpclient.HTTPRequest(url, headers=headers)
        try:
            ws = await tornado.websocket.websocket_connect(request)
        except tornado.httpclient.HTTPClientError as exc:
            return int(exc.code)
        ws.close()
        return 101

    return int(run(attempt()))


# --- the standard key never leaves the server ----------------------------------------------------


@pytest.mark.parametrize("jp_server_config", [UP], indirect=True)
def test_minting_status_and_logs_hold_no_key(
    run: Any, jp_fetch: Any, caplog: pytest.LogCaptureFixture, secret_upstream: Any
) -> None:
    with caplog.at_level(logging.DEBUG):
        code, token = mint(run, jp_fetch, {"session": {"instructions": "Be brief."}})
        status = json.loads(run(jp_fetch("rt-jupyter", "status")).body)
    assert code == 200 and token["value"].startswith("ek_"), token
    assert token["upstream"] == "remote" and status["key_configured"] is True
    assert not leaked(json.dumps(token)) and not leaked(json.dumps(status))
    audit = [r.getMessage() for r in caplog.records if r.name == "rt_jupyter.audit"]
    assert audit and "outcome=minted" in audit[-1]
    assert not leaked(caplog.text), leaked(caplog.text)
    # the minted key works upstream, the standard key was only ever sent there
    assert secret_upstream.keys.authenticate(token["value"]).owner == SECRET_KEY


@pytest.mark.parametrize(
    ("jp_server_config", "expected"),
    [
        ({"base_url": "upstream", "api_key": WRONG_SECRET_KEY}, 401),  # the real 401 path
        ({"base_url": "echoing:s401", "api_key": SECRET_KEY}, 401),
        ({"base_url": "echoing:s403", "api_key": SECRET_KEY}, 401),
        ({"base_url": "echoing:s429", "api_key": SECRET_KEY}, 429),
        ({"base_url": "echoing:s400", "api_key": SECRET_KEY}, 400),
        ({"base_url": "echoing:s500", "api_key": SECRET_KEY}, 502),
        ({"base_url": "echoing:t502", "api_key": SECRET_KEY}, 502),
        ({"base_url": "echoing:s200", "api_key": SECRET_KEY}, 502),  # not a client secret
        ({"base_url": "unreachable", "api_key": SECRET_KEY}, 502),
    ],
    indirect=["jp_server_config"],
)
def test_upstream_errors_hold_no_key(
    run: Any, jp_fetch: Any, caplog: pytest.LogCaptureFixture, expected: int
) -> None:
    """Upstream refusals and failures, including an upstream that quotes the key back: the
    browser gets a JSON error that names the upstream host, never the key; the log neither."""
    with caplog.at_level(logging.DEBUG):
        code, body = mint(run, jp_fetch)
    assert code == expected, body
    assert body["error"]["message"] and "127.0.0.1" in body["error"]["message"]
    assert not leaked(json.dumps(body)), body
    assert not leaked(caplog.text), [
        r.getMessage() for r in caplog.records if leaked(r.getMessage())
    ]


KERNEL_CELLS = [
    "import asyncio, json, os, time\nimport rt_jupyter\nfrom rt_jupyter import VoiceChat\n"
    "chat = VoiceChat(instructions='Be brief.')\nchat",
    # what the front end sends when no server extension answers: "hello", then "mint"
    "chat._on_custom_msg(chat, {'type': 'hello'}, [])\n"
    "chat._on_custom_msg(chat, {'type': 'mint', 'id': 1, 'model': '',\n"
    "                           'session': chat.session}, [])",
    "for _ in range(100):\n    await asyncio.sleep(0.05)\nprint(repr(chat), chat.error)",
    # the 401 path: the kernel's key is refused upstream
    "os.environ['OPENAI_API_KEY'] = os.environ['RTJ_WRONG_KEY']\n"
    "chat._on_custom_msg(chat, {'type': 'mint', 'id': 2, 'model': '',\n"
    "                           'session': chat.session}, [])",
    "for _ in range(100):\n    await asyncio.sleep(0.05)\n"
    "os.environ['OPENAI_API_KEY'] = os.environ['RTJ_GOOD_KEY']",
    # the kernel client: a session, its event log (JSONL), reprs
    "session = await rt_jupyter.connect(log_path='client.jsonl', output_modalities='text', "
    "turn_detection=None)\nreply = await session.say('hello')\n"
    "print(repr(session), session.settings, reply)\nawait session.close()\n"
    "print(rt_jupyter.check())",
    # an exception from the client on a 401, with its traceback in the saved output
    "await rt_jupyter.connect(api_key=os.environ['RTJ_WRONG_KEY'])",
]


def test_kernel_comm_messages_notebook_and_widget_state_hold_no_key(
    tmp_path: Path, secret_upstream: Any
) -> None:
    """A real kernel whose environment holds the key: a VoiceChat mints in the kernel (the
    key is used upstream), a 401 is met, a kernel session logs to JSONL and an exception is
    raised; every message the kernel sent (iopub: comm_open/comm_msg, outputs), the saved
    notebook with its widget state and the JSONL hold no trace of the key."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete
    from nbclient.util import ensure_async

    class Recorder(NotebookClient):
        """nbclient, keeping every iopub message (it drops those of other parents, such as
        replies a kernel thread sends between cells)."""

        messages: ClassVar[list[dict[str, Any]]] = []

        async def _async_poll_output_msg(
            self, parent_msg_id: str, cell: Any, cell_index: int
        ) -> None:
            assert self.kc is not None
            while True:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
                self.messages.append(msg)
                if msg["parent_header"].get("msg_id") == parent_msg_id:
                    try:
                        self.process_message(msg, cell, cell_index)
                    except CellExecutionComplete:
                        return

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in KERNEL_CELLS]
    # nbclient's kernel is not one this Jupyter server started: no extension marker for it
    hidden = ("OPENAI_API_KEY", "NEW_API_KEY", "RT_JUPYTER_SERVER_EXTENSION")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(
        OPENAI_API_KEY=SECRET_KEY,
        RTJ_GOOD_KEY=SECRET_KEY,
        RTJ_WRONG_KEY=WRONG_SECRET_KEY,
        OPENAI_BASE_URL=secret_upstream.base_url,
    )
    client = Recorder(
        nb,
        timeout=120,
        allow_errors=True,
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=env)
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)

    comm = [m for m in client.messages if m["msg_type"].startswith("comm_")]
    minted = [
        m["content"]["data"]["content"]
        for m in comm
        if m["msg_type"] == "comm_msg"
        and (m["content"]["data"].get("content") or {}).get("type") == "minted"
    ]
    assert [(m["id"], m["ok"]) for m in minted] == [(1, True), (2, False)], minted
    assert minted[0]["token"]["value"].startswith("ek_") and minted[1]["status"] == 401
    assert "widgets" in nb.metadata, "no widget state saved"
    assert "AuthenticationError" in json.dumps(nb.cells[-1].outputs)
    log = (tmp_path / "client.jsonl").read_text()
    assert '"response.done"' in log
    for what, text in [
        ("iopub messages", json.dumps(client.messages, default=str)),
        ("saved notebook", path.read_text()),
        ("client JSONL", log),
    ]:
        assert not leaked(text), f"{what}: {leaked(text)}"


async def test_client_log_reprs_and_errors_hold_no_key(
    tmp_path: Path, secret_upstream: LocalRealtimeService
) -> None:
    """The kernel client with the key: its reprs, settings, event log (memory and JSONL), and
    the AuthenticationError of a refused key hold no trace of it."""
    log_path = tmp_path / "events.jsonl"
    async with rt_jupyter.connect(
        api_key=SECRET_KEY,
        base_url=secret_upstream.base_url,
        log_path=str(log_path),
        output_modalities="text",
        turn_detection=None,
    ) as session:
        reply = await session.say("hello")
        texts = [
            repr(session),
            repr(session.settings),
            str(session.settings),
            repr(reply),
            json.dumps(session.session_config),
            session.log.to_frame().to_json(),
        ]
    texts.append(log_path.read_text())
    assert reply.status == "completed"
    for text in texts:
        assert not leaked(text), leaked(text)
    with pytest.raises(AuthenticationError) as refused:
        await rt_jupyter.connect(api_key=WRONG_SECRET_KEY, base_url=secret_upstream.base_url)
    assert "refused the API key" in str(refused.value)
    assert not leaked(str(refused.value)) and not leaked(repr(refused.value))


@pytest.mark.parametrize("behaviour", ["s401", "s500"])
async def test_client_scrubs_upstream_error_messages(echoing_upstream: str, behaviour: str) -> None:
    try:
        await rt_jupyter.connect(
            api_key=SECRET_KEY, base_url=f"{echoing_upstream}/{behaviour}/v1", reconnect=False
        )
    except RealtimeError as exc:
        message = f"{exc!s} {exc!r}"
    else:
        raise AssertionError("connected to an upstream that refuses everything")
    assert not leaked(message), message


# --- endpoints refuse unauthenticated and cross-site requests ------------------------------------


def test_every_endpoint_refuses_requests_without_credentials(
    run: Any, root: str, jp_fetch: Any
) -> None:
    """No token, no cookie, no key: 401/403 everywhere, WebSocket included (before upgrading)."""
    assert fetch(run, f"{root}rt-jupyter/session", method="POST", body="{}").code in (401, 403)
    assert fetch(run, f"{root}rt-jupyter/status").code in (401, 403)
    local = f"{root}rt-jupyter/local/v1/realtime"
    for path, ctype in [
        ("/client_secrets", "application/json"),
        ("/sessions", "application/json"),
        ("/calls", "application/sdp"),
        ("?model=gpt-realtime", "application/sdp"),
    ]:
        response = fetch(
            run, local + path, method="POST", body="v=0\r\n", headers={"Content-Type": ctype}
        )
        assert response.code == 401, (path, response.code)
        assert json.loads(response.body)["error"]["code"] == "missing_api_key"
    assert ws_status(run, local.replace("http", "ws", 1) + "?model=gpt-realtime", {}) == 401


def test_cookie_sessions_need_xsrf_and_the_same_origin(run: Any, root: str, token: str) -> None:
    """A logged-in browser: POST without the XSRF header is refused (403), with it minted;
    another site's Origin is refused on the API."""
    browser = Browser(run, root, token)
    assert browser.post("rt-jupyter/session", xsrf=False).code == 403
    ok = browser.post("rt-jupyter/session")
    assert ok.code == 200, ok.body
    assert json.loads(ok.body)["value"].startswith("ek_")
    evil = "https://evil.example"
    assert browser.get("rt-jupyter/status").code == 200
    assert browser.get("rt-jupyter/status", origin=evil).code in (403, 404)
    assert browser.post("rt-jupyter/session", origin=evil).code in (403, 404)


def test_mounted_service_refuses_other_origins_and_standard_keys(
    run: Any, root: str, jp_fetch: Any
) -> None:
    """The local service inside the Jupyter server: a WebSocket from another site is refused
    even with a valid key; standard keys are refused (header and subprotocol); a CORS
    preflight from another site gets no permission."""
    code, minted = mint(run, jp_fetch)
    assert code == 200
    ek = minted["value"]
    ws = root.replace("http", "ws", 1) + "rt-jupyter/local/v1/realtime?model=gpt-realtime"
    host = root.split("/")[2]
    assert ws_status(run, ws, {"Authorization": f"Bearer {ek}", "Origin": f"http://{host}"}) == 101
    assert (
        ws_status(run, ws, {"Authorization": f"Bearer {ek}", "Origin": "https://evil.example"})
        == 403
    )
    assert ws_status(run, ws, {"Authorization": f"Bearer {SECRET_KEY}"}) == 401
    assert (
        ws_status(
            run, ws, {"Sec-WebSocket-Protocol": f"realtime, openai-insecure-api-key.{SECRET_KEY}"}
        )
        == 401
    )
    preflight = fetch(
        run,
        f"{root}rt-jupyter/local/v1/realtime/calls",
        method="OPTIONS",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    secrets = fetch(
        run,
        f"{root}rt-jupyter/local/v1/realtime/client_secrets",
        method="POST",
        body="{}",
        headers={"Authorization": f"Bearer {SECRET_KEY}", "Content-Type": "application/json"},
    )
    assert secrets.code == 401 and not leaked(secrets.body)


@pytest.mark.parametrize(
    "jp_server_config", [{"ephemeral_ttl": 10, "allowed_models": ["gpt-realtime"]}], indirect=True
)
def test_ephemeral_key_cannot_mint_more_keys(run: Any, root: str, jp_fetch: Any) -> None:
    code, minted = mint(run, jp_fetch)
    assert code == 200
    headers = {"Authorization": f"Bearer {minted['value']}", "Content-Type": "application/json"}
    body = {
        "expires_after": {"anchor": "created_at", "seconds": 7200},
        "session": {"type": "realtime", "model": "gpt-realtime-2"},
    }
    for path, payload in [("client_secrets", body), ("sessions", {"model": "gpt-realtime-2"})]:
        response = fetch(
            run,
            f"{root}rt-jupyter/local/v1/realtime/{path}",
            method="POST",
            body=json.dumps(payload),
            headers=headers,
        )
        assert response.code in (401, 403), (path, response.code, response.body[:200])


@pytest.mark.parametrize("jp_server_config", [{"mint_rate_limit": 2}], indirect=True)
def test_mint_rate_limit_is_per_user(run: Any, root: str, token: str, jp_fetch: Any) -> None:
    """Two cookie logins with the server's token and the token itself are one principal (the
    token's holder; jupyter_server makes each an anonymous user): over the limit, all get 429.
    Named users each have their own limit: ``test_extension_attacks.py``
    ``test_named_users_have_their_own_rate_limit``."""
    alice, bob = Browser(run, root, token), Browser(run, root, token)
    assert alice.cookies != bob.cookies
    assert [alice.post("rt-jupyter/session").code for _ in range(2)] == [200, 200]
    refused = alice.post("rt-jupyter/session")
    assert refused.code == 429 and refused.headers["Retry-After"] == "60"
    assert json.loads(refused.body)["error"]["code"] == "rate_limited"
    assert bob.post("rt-jupyter/session").code == 429
    assert mint(run, jp_fetch)[0] == 429


# --- ephemeral keys expire; beta keys open one session -------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def test_ephemeral_keys_expire() -> None:
    """A GA key minted with ttl=10 opens sessions until its expires_at, then gets 401 before the
    upgrade and on REST; a session opened before expiry keeps going."""
    clock = Clock()
    async with LocalRealtimeService(engines=Engines()) as service:
        service.keys.clock = clock
        async with httpx.AsyncClient(timeout=10) as http:
            minted = await http.post(
                f"{service.base_url}/realtime/client_secrets",
                headers={"Authorization": "Bearer sk-owner"},
                json={"expires_after": {"anchor": "created_at", "seconds": 10}},
            )
            assert minted.status_code == 200, minted.text
            key, expires_at = minted.json()["value"], minted.json()["expires_at"]
            assert expires_at - time.time() == pytest.approx(10, abs=2)
            too_short = await http.post(
                f"{service.base_url}/realtime/client_secrets",
                headers={"Authorization": "Bearer sk-owner"},
                json={"expires_after": {"anchor": "created_at", "seconds": 5}},
            )
            assert too_short.status_code == 400
            url = f"{service.ws_base_url}/realtime?model=gpt-realtime"
            early = await websockets.connect(
                url, additional_headers={"Authorization": f"Bearer {key}"}
            )
            assert json.loads(await early.recv())["type"] == "session.created"
            clock.offset = 11
            with pytest.raises(websockets.InvalidStatus) as late:
                await websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"})
            assert late.value.response.status_code == 401
            assert b"expired" in late.value.response.body
            calls = await http.post(
                f"{service.base_url}/realtime/calls",
                content="v=0\r\n",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
            )
            assert calls.status_code == 401 and calls.json()["error"]["code"] == "expired_api_key"
            await early.send(json.dumps({"type": "input_audio_buffer.clear"}))
            assert json.loads(await early.recv())["type"] == "input_audio_buffer.cleared"
            await early.close()


async def test_beta_keys_open_one_session_and_live_a_minute() -> None:
    clock = Clock()
    async with LocalRealtimeService(engines=Engines()) as service:
        service.keys.clock = clock
        url = f"{service.ws_base_url}/realtime?model=gpt-4o-realtime-preview"

        async def beta_key() -> str:
            async with httpx.AsyncClient(timeout=10) as http:
                minted = await http.post(
                    f"{service.base_url}/realtime/sessions",
                    headers={"Authorization": "Bearer sk-owner"},
                    json={"model": "gpt-4o-realtime-preview"},
                )
            secret = minted.json()["client_secret"]
            assert secret["expires_at"] - time.time() == pytest.approx(60, abs=2)
            return str(secret["value"])

        def headers(key: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {key}", "OpenAI-Beta": "realtime=v1"}

        key = await beta_key()
        first = await websockets.connect(url, additional_headers=headers(key))
        assert json.loads(await first.recv())["type"] == "session.created"
        with pytest.raises(websockets.InvalidStatus) as second:
            await websockets.connect(url, additional_headers=headers(key))
        assert second.value.response.status_code == 401
        await first.close()
        stale = await beta_key()
        clock.offset = 61
        with pytest.raises(websockets.InvalidStatus) as late:
            await websockets.connect(url, additional_headers=headers(stale))
        assert late.value.response.status_code == 401


@pytest.mark.parametrize("jp_server_config", [{"ephemeral_ttl": 10}], indirect=True)
def test_keys_minted_by_the_extension_expire(
    run: Any, root: str, jp_fetch: Any, jp_serverapp: Any
) -> None:
    code, minted = mint(run, jp_fetch)
    assert code == 200 and minted["expires_at"] - time.time() == pytest.approx(10, abs=2)
    ext = jp_serverapp.web_app.settings["rt_jupyter_extension"]
    ws = root.replace("http", "ws", 1) + "rt-jupyter/local/v1/realtime?model=gpt-realtime"
    auth = {"Authorization": f"Bearer {minted['value']}"}
    assert ws_status(run, ws, auth) == 101
    clock = Clock()
    clock.offset = 11
    ext.local_state.keys.clock = clock
    assert ws_status(run, ws, auth) == 401


# --- network exposure ----------------------------------------------------------------------------


def listening(port: int, pid: int | None = None) -> set[str]:
    """Addresses with a listening TCP socket on ``port`` (of process ``pid``, if given)."""
    conns = psutil.Process(pid).net_connections("tcp") if pid else psutil.net_connections("tcp")
    return {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


async def test_local_service_listens_on_loopback_only() -> None:
    async with LocalRealtimeService(engines=Engines()) as service:
        assert service.host == "127.0.0.1"
        assert listening(service.port) == {"127.0.0.1"}
        assert service.state.ice_host == "127.0.0.1"


@pytest.fixture(scope="module")
def cli_service() -> Iterator[tuple[subprocess.Popen[str], int, list[str]]]:
    """``rt-jupyter serve --port 0 --key SECRET_KEY``, as a user would start it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rt_jupyter", "serve", "--port", "0", "--key", SECRET_KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Press Ctrl-C" in line or not line:
            break
    match = re.search(r"http://127\.0\.0\.1:(\d+)/v1", "".join(lines))
    assert match, lines
    yield process, int(match.group(1)), lines
    process.send_signal(2)
    process.wait(20)


def test_cli_listens_on_loopback_only(
    cli_service: tuple[subprocess.Popen[str], int, list[str]],
) -> None:
    process, port, _ = cli_service
    assert listening(port, process.pid) == {"127.0.0.1"}
    refused = httpx.post(
        f"http://127.0.0.1:{port}/v1/realtime/client_secrets",
        headers={"Authorization": f"Bearer {WRONG_SECRET_KEY}"},
        json={},
    )
    assert refused.status_code == 401 and not leaked(refused.text), refused.text


def test_cli_output_holds_no_key(cli_service: tuple[subprocess.Popen[str], int, list[str]]) -> None:
    _, _, lines = cli_service
    assert not leaked("".join(lines)), "".join(lines)


async def _offer_sdp() -> tuple[Any, str]:
    from aiortc import RTCConfiguration, RTCPeerConnection

    from rt_jupyter.local.webrtc import ice_host_addresses

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("oai-events")
    with ice_host_addresses("127.0.0.1"):
        await pc.setLocalDescription(await pc.createOffer())
    return pc, str(pc.localDescription.sdp)


def candidates(sdp: str) -> list[str]:
    return [line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")]


async def test_answer_offers_loopback_candidates_only() -> None:
    from tests.local.test_webrtc import mint_ek

    async with LocalRealtimeService(engines=Engines()) as service:
        key = await mint_ek(service)
        pc, offer = await _offer_sdp()
        async with httpx.AsyncClient(timeout=20) as http:
            answer = await http.post(
                f"{service.base_url}/realtime/calls",
                content=offer,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
            )
            assert answer.status_code == 201, answer.text
            found = candidates(answer.text)
            assert found and set(found) == {"127.0.0.1"}, found
            hangup = await http.post(
                f"{service.http_url}{answer.headers['location']}/hangup",
                headers={"Authorization": f"Bearer {key}"},
            )
            assert hangup.status_code == 200
        await pc.close()


def test_mounted_service_offers_loopback_candidates_only(
    run: Any, root: str, jp_fetch: Any
) -> None:
    code, minted = mint(run, jp_fetch)
    assert code == 200
    auth = {"Authorization": f"Bearer {minted['value']}"}
    pc, offer = run(_offer_sdp())
    answer = fetch(
        run,
        f"{root}rt-jupyter/local/v1/realtime/calls",
        method="POST",
        body=offer,
        headers={**auth, "Content-Type": "application/sdp"},
        request_timeout=30,
    )
    assert answer.code == 201, answer.body[:300]
    found = candidates(answer.body.decode())
    assert found and set(found) == {"127.0.0.1"}, found
    location = answer.headers["Location"]
    host = root.split("/", 3)[:3]
    hangup = fetch(run, "/".join(host) + location + "/hangup", method="POST", body="", headers=auth)
    assert hangup.code == 200
    run(pc.close())


def raw_upgrade(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    """A hand-written WebSocket upgrade request; returns the raw answer."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        "",
    ]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        sock.settimeout(1)
        try:
            while chunk := sock.recv(4096):
                data += chunk
        except OSError:
            pass
    return data


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"Authorization": "Bearer ek_0123456789abcdef0123456789abcdef"},
        {"Authorization": "Bearer not-a-key"},
        {"Sec-WebSocket-Protocol": "realtime"},
    ],
)
async def test_unauthenticated_upgrade_is_refused_before_upgrading(auth: dict[str, str]) -> None:
    async with LocalRealtimeService(engines=Engines()) as service:
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(
            None, raw_upgrade, "127.0.0.1", service.port, "/v1/realtime?model=gpt-realtime", auth
        )
        assert service.keys.open_sessions() == 0 and not service.sessions
    status = answer.split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"Upgrade: websocket" not in answer and b"101" not in status
    body = answer.split(b"\r\n\r\n", 1)[1]
    assert json.loads(body)["error"]["type"] == "invalid_request_error"


# --- the browser ---------------------------------------------------------------------------------


def test_browser_storage_dom_and_saved_notebook_hold_no_key(
    tmp_path: Path, secret_upstream: LocalRealtimeService
) -> None:
    """JupyterLab whose server has the key, headless Chromium, a call through the widget:
    localStorage, sessionStorage, cookies, the DOM, every WebSocket frame the page saw, the
    saved notebook (with widget state) and the server log hold no trace of it."""
    from tests.e2e.harness import (
        FrameLog,
        browser,
        connect,
        have_browser,
        lab_command,
        notebook,
        open_notebook,
        run_all_cells,
        start_lab,
    )

    if not have_browser():
        pytest.skip("needs Playwright and /usr/bin/chromium")
    cell = (
        "from rt_jupyter import VoiceChat\n"
        "chat = VoiceChat(turn_detection=None, instructions='Be brief.')\nchat"
    )
    lab = start_lab(
        tmp_path,
        notebooks={"chat.ipynb": notebook(cell)},
        extension_config={"api_key": SECRET_KEY, "base_url": secret_upstream.base_url},
    )
    try:
        frames = FrameLog()
        with browser(None) as chromium:
            context = chromium.new_context()
            page = open_notebook(context, lab, "chat.ipynb", frames)
            lab.wait_for_kernel()
            run_all_cells(page)
            connect(page)
            assert len(secret_upstream.state.calls) == 1  # the call went to the upstream
            page.fill(".rtj-text", "hello")
            page.press(".rtj-text", "Enter")
            page.wait_for_function(
                "() => document.querySelector('.rtj-transcript').innerText.includes('hello')",
                timeout=30_000,
            )
            lab_command(page, "docmanager:save")
            page.wait_for_timeout(1000)
            state = page.evaluate(
                "() => JSON.stringify({local: {...localStorage}, session: {...sessionStorage},"
                " cookies: document.cookie, dom: document.documentElement.outerHTML})"
            )
            page.click(".rtj-hangup")
            context.close()
        saved = (lab.root / "chat.ipynb").read_text()
        assert "application/vnd.jupyter.widget-state+json" in saved
        assert frames.total_bytes > 0, "no WebSocket frames were seen"
        for what, text in [
            ("browser storage and DOM", state),
            ("WebSocket frames", b"".join(frames.frames).decode("utf-8", "replace")),
            ("saved notebook", saved),
            ("server log", lab.log_path.read_text(errors="replace")),
        ]:
            assert not leaked(text), f"{what}: {leaked(text)}"
    finally:
        lab.stop()


async def test_calls_belong_to_their_owner() -> None:
    from tests.local.test_webrtc import client, mint_ek

    async with LocalRealtimeService(engines=Engines()) as service:
        key = await mint_ek(service)
        async with client(audio=False) as peer:
            await peer.connect(f"{service.base_url}/realtime/calls", key)
            await peer.wait_for("session.created", timeout=15)
            stranger = {"Authorization": "Bearer sk-someone-else"}
            url = f"{service.ws_base_url}/realtime?call_id={peer.call_id}"
            try:
                sideband = await websockets.connect(url, additional_headers=stranger)
            except websockets.InvalidStatus as exc:
                attached = exc.response.status_code
            else:
                attached = 101
                await sideband.close()
            async with httpx.AsyncClient(timeout=10) as http:
                hangup = await http.post(
                    f"{service.base_url}/realtime/calls/{peer.call_id}/hangup", headers=stranger
                )
            assert (attached, hangup.status_code) == (404, 404), (attached, hangup.status_code)
