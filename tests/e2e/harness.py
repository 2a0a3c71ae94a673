"""Browser test harness: a real JupyterLab server, headless Debian Chromium through Playwright, and
a kernel client on the notebook's kernel. Used by the e2e tests and ``benchmarks/bench_relay.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rt_jupyter.config import PROVIDER_ENV

CHROMIUM = os.environ.get("RT_JUPYTER_CHROMIUM", "/usr/bin/chromium")
VENV_BIN = Path(sys.executable).parent
#: Environment variables a lab or a test server never inherits (no key reaches the lab).
SECRET_ENV = PROVIDER_ENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def have_browser() -> bool:
    """Chromium and Playwright are both available."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


# --- JupyterLab ----------------------------------------------------------------------------------


@dataclass
class Lab:
    """A running JupyterLab server (stop it with :meth:`stop`)."""

    url: str  # http://127.0.0.1:PORT/
    token: str
    root: Path
    runtime_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    clients: list[Any] = field(default_factory=list)

    def api(
        self, path: str, *, method: str = "GET", body: Any = None, auth: bool = True
    ) -> tuple[int, Any]:
        """A REST call with the token; returns ``(status, decoded JSON or text)``."""
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"token {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path.lstrip("/"), data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            status = exc.code
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def page_url(self, notebook: str) -> str:
        return f"{self.url}lab/tree/{notebook}?token={self.token}&reset"

    def wait_for_kernel(self, timeout: float = 60.0) -> str:
        """The id of a connected, idle kernel (polls ``/api/kernels``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, kernels = self.api("api/kernels")
            if status == 200:
                for kernel in kernels:
                    if kernel.get("execution_state") == "idle" and kernel.get("connections", 0) > 0:
                        return str(kernel["id"])
            time.sleep(0.2)
        raise TimeoutError(f"no idle connected kernel after {timeout} s; log: {self.log_tail()}")

    def kernel_client(self, kernel_id: str) -> Any:
        """A blocking client on the notebook's kernel (through its connection file)."""
        from jupyter_client.blocking.client import BlockingKernelClient

        client = BlockingKernelClient(
            connection_file=str(self.runtime_dir / f"kernel-{kernel_id}.json")
        )
        client.load_connection_file()
        client.start_channels()
        client.wait_for_ready(timeout=30)
        self.clients.append(client)
        return client

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.stop_channels()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


#: JupyterLab options of the tests: the app on ``window.jupyterapp``, no news, no update checks.
LAB_ARGS = (
    "--LabApp.expose_app_in_browser=True",
    "--LabApp.news_url=",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
)


def lab_environment(
    base: Path, extension_config: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Fresh Jupyter directories under ``base`` as environment variables (runtime, config with
    ``c.RealtimeExtension`` from ``extension_config``, data, JupyterLab settings that save widget
    state with notebooks and fetch no news, workspaces) and the venv first on ``PATH``."""
    dirs = {name: base / name for name in ("runtime", "config", "settings", "workspaces", "data")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {}
    if extension_config:
        config["RealtimeExtension"] = dict(extension_config)
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(config), encoding="utf-8")
    manager = dirs["settings"] / "@jupyter-widgets" / "jupyterlab-manager"
    manager.mkdir(parents=True, exist_ok=True)
    (manager / "plugin.jupyterlab-settings").write_text('{"saveState": true}', encoding="utf-8")
    apputils = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}', encoding="utf-8"
    )
    return {
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def start_lab(
    base: Path,
    *,
    notebooks: Mapping[str, Any] | None = None,
    extension_config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Lab:
    """Start JupyterLab on a free loopback port with a token and fresh dirs under ``base``.

    ``extension_config`` goes to ``c.RealtimeExtension`` through a config file (so secrets are not
    on the command line); no OpenAI key from the environment reaches the server or its kernels.
    Widget state is saved with notebooks.
    """
    root = base / "root"
    runtime = base / "runtime"
    root.mkdir(parents=True, exist_ok=True)
    for name, nb in (notebooks or {}).items():
        (root / name).write_text(json.dumps(nb), encoding="utf-8")
    port = free_port()
    token = secrets.token_hex(24)
    environ = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    environ.update(lab_environment(base, extension_config))
    environ.update(env or {})
    log_path = base / "lab.log"
    command = [
        str(VENV_BIN / "jupyter"),
        "lab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        *LAB_ARGS,
        "--ServerApp.disable_check_xsrf=False",
    ]
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed when the process ends
    process = subprocess.Popen(
        command, env=environ, stdout=log_file, stderr=subprocess.STDOUT, cwd=root
    )
    lab = Lab(f"http://127.0.0.1:{port}/", token, root, runtime, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({process.returncode}): {lab.log_tail()}")
        with contextlib.suppress(OSError):
            status, _ = lab.api("api/status")
            if status == 200:
                return lab
        time.sleep(0.2)
    lab.stop()
    raise TimeoutError(f"JupyterLab did not start in {timeout} s: {lab.log_tail()}")


# --- notebooks and kernels -----------------------------------------------------------------------


def notebook(*cells: str) -> dict[str, Any]:
    """An nbformat-4 notebook with these code cells."""
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


class KernelError(RuntimeError):
    """Code run in the kernel raised."""


def run_in_kernel(client: Any, code: str, timeout: float = 60.0) -> str:
    """Run ``code`` in the kernel; returns its stdout (raises :class:`KernelError` on error)."""
    msg_id = client.execute(code, store_history=False)
    out: list[str] = []
    error: str | None = None
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"kernel code did not finish in {timeout} s: {code[:200]}")
        try:
            msg = client.get_iopub_msg(timeout=remaining)
        except Exception:
            continue
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "stream" and content.get("name") == "stdout":
            out.append(content["text"])
        elif kind == "error":
            error = "\n".join(content.get("traceback", [])) or content.get("evalue", "")
        elif kind == "status" and content.get("execution_state") == "idle":
            break
    if error is not None:
        raise KernelError(error)
    return "".join(out)


def kernel_json(client: Any, code: str, timeout: float = 60.0) -> Any:
    """Run ``code`` whose last stdout line is JSON; returns it decoded."""
    text = run_in_kernel(client, code, timeout).strip().splitlines()
    if not text:
        raise KernelError(f"no output from: {code[:200]}")
    return json.loads(text[-1])


# --- the browser ---------------------------------------------------------------------------------


def chromium_args(fake_audio: Path | None) -> list[str]:
    args = [
        "--allow-loopback-in-peer-connection",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
    ]
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}")
    return args


@contextlib.contextmanager
def browser(fake_audio: Path | None) -> Iterator[Any]:
    """A headless Chromium (Playwright's sync API)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=chromium_args(fake_audio)
        )
        try:
            yield instance
        finally:
            instance.close()


class FrameLog:
    """Every WebSocket frame the page sends or receives (the kernel channels included)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.urls: list[str] = []

    def attach(self, page: Any) -> None:
        def on_socket(ws: Any) -> None:
            self.urls.append(ws.url)
            ws.on("framesent", self._add)
            ws.on("framereceived", self._add)

        page.on("websocket", on_socket)

    def _add(self, payload: Any) -> None:
        self.frames.append(payload if isinstance(payload, bytes) else str(payload).encode())

    def contains(self, needle: str) -> bool:
        data = needle.encode()
        return any(data in frame for frame in self.frames)

    @property
    def total_bytes(self) -> int:
        return sum(len(f) for f in self.frames)


def open_notebook(context: Any, lab: Lab, name: str, frames: FrameLog | None = None) -> Any:
    """Open a notebook in JupyterLab and wait for its kernel to be connected and idle."""
    page = context.new_page()
    if frames is not None:
        frames.attach(page)
    page.goto(lab.page_url(name), wait_until="domcontentloaded")
    wait_for_notebook(page)
    return page


def wait_for_notebook(page: Any, timeout_ms: int = 60_000) -> None:
    """Wait until JupyterLab is up in ``page`` and shows a notebook's cells."""
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=timeout_ms)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_ms)


def lab_command(page: Any, command: str, args: Mapping[str, Any] | None = None) -> Any:
    """Run a JupyterLab command (``notebook:run-all-cells``, ``docmanager:save``...)."""
    return page.evaluate(
        "([c, a]) => window.jupyterapp.commands.execute(c, a)", [command, dict(args or {})]
    )


def run_all_cells(page: Any) -> None:
    lab_command(page, "notebook:run-all-cells")


def cell_outputs_text(page: Any) -> Sequence[str]:
    return [str(x) for x in page.locator(".jp-OutputArea-output").all_inner_texts()]


def copy_artifact(path: Path, name: str) -> Path:
    """Keep a file under ``test-output/`` (gitignored) for humans to look at."""
    out = Path(__file__).resolve().parents[2] / "test-output"
    out.mkdir(exist_ok=True)
    target = out / name
    shutil.copyfile(path, target)
    return target


def connect(page: Any, button: str = ".rtj-connect") -> None:
    """Click Connect (or Reconnect) and wait for the call, failing with the widget's own words."""
    page.wait_for_selector(f"{button}:not([disabled])", timeout=60_000)
    before = page.get_attribute(".rtj", "data-status")
    page.click(button)
    # the status first leaves its old value (e.g. "dropped" before a reconnect), then settles
    page.wait_for_function(
        "before => { const s = document.querySelector('.rtj').dataset.status;"
        " return s !== before && ['connected', 'error', 'dropped'].includes(s); }",
        arg=before,
        timeout=60_000,
    )
    status = page.get_attribute(".rtj", "data-status")
    assert status == "connected", page.inner_text(".rtj-error-text")
