"""A real JupyterHub for the hub-service tests: configurable-http-proxy, DummyAuthenticator with a
password, SimpleLocalProcessSpawner, two ``rt-jupyter hub-service`` processes (managed services)
sharing one SQLite database, and an ``rt-jupyter serve`` upstream that plays OpenAI and holds the
only standard key. Everything binds 127.0.0.1 on free ports."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    LAB_ARGS,
    SECRET_ENV,
    VENV_BIN,
    browser,
    free_port,
    have_browser,
    lab_environment,
    notebook,
)

ROOT = Path(__file__).resolve().parents[2]
CHP = Path(
    os.environ.get(
        "RT_JUPYTER_CHP",
        ROOT / ".venv" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy",
    )
)
SERVICE = "rt-jupyter"
SERVICE_2 = "rt-jupyter-2"
VOICE_CELL = (
    "from rt_jupyter import VoiceChat\n"
    "chat = VoiceChat(instructions='Answer briefly.', turn_detection=None)\n"
    "chat"
)
MINUTES_PER_KEY = 30
ATTEMPTS_PER_MINUTE = 40  # per user and service process, before refusals stop being recorded
#: alice: the default quota; bob (group "students"): one key a day; carol: four keys a day
QUOTAS = {
    "user_limits": {"mints_per_minute": 30, "session_minutes_per_day": 600},
    "group_limits": {"students": {"session_minutes_per_day": MINUTES_PER_KEY}},
    "users": {"carol": {"session_minutes_per_day": 4 * MINUTES_PER_KEY}},
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(
        reason="needs Playwright, /usr/bin/chromium and configurable-http-proxy"
    )
    for item in items:
        if "e2e" in item.keywords and not (have_browser() and CHP.exists()):
            item.add_marker(skip)


def _http(
    url: str, *, method: str = "GET", token: str | None = None, body: Any = None
) -> tuple[int, Any, dict[str, str]]:
    """``(status, decoded JSON or text, headers)`` of one request."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"token {token}"
    data = json.dumps(body).encode() if body is not None else None
    if method == "POST" and data is None:
        data = b"{}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw, status, got = exc.read(), exc.code, dict(exc.headers)
    try:
        return status, json.loads(raw or b"null"), got
    except ValueError:
        return status, raw.decode("utf-8", "replace"), got


@dataclass
class Upstream:
    """``rt-jupyter serve`` holding the standard key."""

    key: str = field(repr=False)
    base_url: str
    process: subprocess.Popen[str]


@dataclass
class Hub:
    """A running JupyterHub and what the tests need to drive it."""

    url: str  # the proxy's public URL, http://127.0.0.1:PORT/
    password: str = field(repr=False)
    admin_token: str = field(repr=False)  # the "test-admin" service's token
    process: subprocess.Popen[bytes]
    base: Path
    log_path: Path
    service_urls: dict[str, str]  # name -> http://127.0.0.1:PORT/services/<name>/
    db_path: Path

    def api(self, path: str, *, method: str = "GET", body: Any = None) -> tuple[int, Any]:
        status, data, _ = _http(
            f"{self.url}hub/api/{path}", method=method, token=self.admin_token, body=body
        )
        return status, data

    def token_for(self, user: str, scopes: list[str]) -> str:
        """A new API token of ``user`` with ``scopes`` (through the Hub's REST API)."""
        status, data = self.api(
            f"users/{user}/tokens", method="POST", body={"scopes": scopes, "note": "test"}
        )
        assert status == 201, (status, data)
        return str(data["token"])

    def mint(
        self, token: str | None, body: Any = None, *, service: str = SERVICE
    ) -> tuple[int, Any, dict[str, str]]:
        """``POST api/session`` at a hub service, straight to its port."""
        return _http(
            self.service_urls[service] + "api/session",
            method="POST",
            token=token,
            body=body if body is not None else {},
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def user_processes(self, user: str) -> list[Any]:
        """The live processes of ``user``'s server (the server and its kernels)."""
        import psutil  # type: ignore[import-untyped]

        found = []
        for proc in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if proc.environ().get("JUPYTERHUB_USER") == user:
                    found.append(proc)
        return found


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """``rt-jupyter serve --key sk-…`` (a key generated for this run)."""
    key = "sk-hubtest-" + secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    log = tmp_path_factory.mktemp("upstream") / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "rt_jupyter", "serve", "--port", "0", "--key", key],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 180
    base_url = ""
    while time.monotonic() < deadline and not base_url:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"REST\s+(http://127\.0\.0\.1:\d+/v1)", line)
        base_url = match.group(1) if match else ""
    assert base_url, "".join(lines)
    # keep reading its output so the pipe never fills
    import threading

    def drain() -> None:
        with open(log, "a", encoding="utf-8") as out:
            for line in process.stdout or ():
                out.write(line)

    threading.Thread(target=drain, daemon=True).start()
    yield Upstream(key, base_url, process)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def _hub_config(
    base: Path, upstream: Upstream, ports: dict[str, int], secrets_: dict[str, str]
) -> str:
    service_cmd = [
        sys.executable,
        "-m",
        "rt_jupyter.hub",
        "--config",
        str(base / "service_config.py"),
    ]
    service_env = {"OPENAI_API_KEY": upstream.key, "OPENAI_BASE_URL": upstream.base_url}
    lab_env = lab_environment(base / "lab")
    services = [
        {
            "name": name,
            "url": f"http://127.0.0.1:{ports[name]}",
            "command": service_cmd,
            "environment": service_env,
            "oauth_no_confirm": True,
        }
        for name in (SERVICE, SERVICE_2)
    ]
    services.append({"name": "test-admin", "api_token": secrets_["admin_token"]})
    access = [f"access:services!service={SERVICE}", f"access:services!service={SERVICE_2}"]
    config: dict[str, dict[str, Any]] = {
        "JupyterHub": {
            "ip": "127.0.0.1",
            "port": ports["public"],
            "hub_ip": "127.0.0.1",
            "hub_port": ports["hub"],
            "db_url": f"sqlite:///{base / 'jupyterhub.sqlite'}",
            "cookie_secret_file": str(base / "jupyterhub_cookie_secret"),
            "authenticator_class": "dummy",
            "spawner_class": "simple",
            "cleanup_servers": True,
            "services": services,
            "load_groups": {"students": {"users": ["bob"]}},
            "load_roles": [
                {"name": "user", "scopes": ["self", *access]},
                {
                    "name": "test-admin",
                    "scopes": [
                        "admin:users",
                        "tokens",
                        "admin:servers",
                        "access:servers",
                        "access:services",
                        "read:services",
                    ],
                    "services": ["test-admin"],
                },
            ],
        },
        "ConfigurableHTTPProxy": {
            "command": [str(CHP)],
            "api_url": f"http://127.0.0.1:{ports['proxy_api']}",
            "auth_token": secrets_["proxy_token"],
        },
        "DummyAuthenticator": {"password": secrets_["password"]},
        "Authenticator": {
            "allowed_users": ["alice", "bob", "carol", "dave", "root-admin"],
            "admin_users": ["root-admin"],
        },
        "Spawner": {
            "cmd": [str(VENV_BIN / "jupyterhub-singleuser")],
            "args": ["--allow-root", *LAB_ARGS],
            "default_url": "/lab",
            "start_timeout": 180,
            "http_timeout": 180,
            "environment": {
                **lab_env,
                "RT_JUPYTER_HUB_SERVICE_URL": f"http://127.0.0.1:{ports[SERVICE]}/services/{SERVICE}/",
            },
            "server_token_scopes": [
                "users:activity!user",
                "access:servers!server",
                f"access:services!service={SERVICE}",
            ],
        },
        "SimpleLocalProcessSpawner": {"home_dir_template": str(base / "home" / "{username}")},
    }
    lines = ["c = get_config()  # noqa", "import json"]
    for section, values in config.items():
        for name, value in values.items():
            lines.append(f"c.{section}.{name} = json.loads({json.dumps(json.dumps(value))})")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[Hub]:
    """JupyterHub with the two hub services; alice's home holds ``voice.ipynb``."""
    base = tmp_path_factory.mktemp("hub")
    ports = {name: free_port() for name in ("public", "hub", "proxy_api", SERVICE, SERVICE_2)}
    secrets_ = {
        "password": secrets.token_urlsafe(12),
        "admin_token": secrets.token_hex(24),
        "proxy_token": secrets.token_hex(24),
    }
    db_path = base / "quota.sqlite"
    (base / "service_config.py").write_text(
        "c = get_config()  # noqa\nimport json\n"
        f"c.HubService.db_url = {f'sqlite:///{db_path}'!r}\n"
        f"c.HubService.minutes_per_mint = {MINUTES_PER_KEY}\n"
        + "".join(
            f"c.HubService.{name} = json.loads({json.dumps(json.dumps(value))})\n"
            for name, value in QUOTAS.items()
        )
        + f"c.HubService.attempts_per_minute = {ATTEMPTS_PER_MINUTE}\n"
        + "c.RealtimeExtension.allowed_models = ['gpt-realtime']\n",
        encoding="utf-8",
    )
    (base / "jupyterhub_config.py").write_text(_hub_config(base, upstream, ports, secrets_))
    for user, nb in {"alice": "voice.ipynb", "bob": "voice.ipynb"}.items():
        home = base / "home" / user
        home.mkdir(parents=True)
        (home / nb).write_text(json.dumps(notebook(VOICE_CELL)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    log_path = base / "jupyterhub.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed when the process ends
    process = subprocess.Popen(
        [str(VENV_BIN / "jupyterhub"), "-f", str(base / "jupyterhub_config.py")],
        cwd=base,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    service_urls = {
        name: f"http://127.0.0.1:{ports[name]}/services/{name}/" for name in (SERVICE, SERVICE_2)
    }
    hub = Hub(
        url=f"http://127.0.0.1:{ports['public']}/",
        password=secrets_["password"],
        admin_token=secrets_["admin_token"],
        process=process,
        base=base,
        log_path=log_path,
        service_urls=service_urls,
        db_path=db_path,
    )
    try:
        deadline = time.monotonic() + 180
        ready: set[str] = set()
        while time.monotonic() < deadline and len(ready) < 3:
            if process.poll() is not None:
                raise RuntimeError(
                    f"JupyterHub exited ({process.returncode}):\n{hub.log()[-4000:]}"
                )
            with contextlib.suppress(OSError):
                if "hub" not in ready and _http(f"{hub.url}hub/api/")[0] == 200:
                    ready.add("hub")
                for name in service_urls:
                    if name not in ready and hub.mint(None, service=name)[0] == 401:
                        ready.add(name)
            time.sleep(0.5)
        assert len(ready) == 3, f"not ready: {ready}\n{hub.log()[-4000:]}"
        yield hub
    finally:
        _stop(process)
        log_file.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the Hub (it stops its services and, with cleanup_servers, the user servers); then
    end any of its descendants still running."""
    import psutil

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    for child in children:
        with contextlib.suppress(psutil.Error):
            if child.is_running():
                child.kill()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium whose fake microphone plays a short spoken question."""
    from tests.speech import synthesize_wav

    wav = synthesize_wav(
        "hello there",
        tmp_path_factory.mktemp("audio") / "hello.wav",
        48000,
        lead_silence_ms=500,
        tail_silence_ms=3000,
    )
    with browser(wav) as instance:
        yield instance
