"""Package surface: exports, the server extension's registration, the quickstart notebook."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_public_names() -> None:
    import rt_jupyter

    assert rt_jupyter.__all__ == [
        "AuthenticationError",
        "BetaShapeDisabledError",
        "ConfigurationError",
        "ConnectionLostError",
        "KeyMintError",
        "NotConnectedError",
        "ProtocolError",
        "ProviderShapeError",
        "RealtimeError",
        "ServerError",
        "ToolError",
        "VoiceChat",
        "__version__",
        "check",
        "connect",
        "connect_sync",
        "function_tool",
    ]
    # each name is its implementation (resolved on first use), not a wrapper or a copy
    from rt_jupyter import client, diagnostics, errors
    from rt_jupyter.jupyter import tools, widget

    assert rt_jupyter.connect is client.connect
    assert rt_jupyter.connect_sync is client.connect_sync
    assert rt_jupyter.check is diagnostics.check
    assert rt_jupyter.function_tool is tools.function_tool
    assert rt_jupyter.VoiceChat is widget.VoiceChat
    for name in rt_jupyter.__all__:
        if name.endswith("Error"):
            exc = getattr(rt_jupyter, name)
            assert exc is getattr(errors, name) and issubclass(exc, errors.RealtimeError)
    assert rt_jupyter.__version__ == importlib.metadata.version("rt_jupyter")
    # ``from rt_jupyter import *`` and dir() give the public names
    namespace: dict[str, object] = {}
    exec("from rt_jupyter import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(rt_jupyter.__all__)
    assert set(rt_jupyter.__all__) <= set(dir(rt_jupyter))
    with pytest.raises(AttributeError):
        _ = rt_jupyter.nothing_here


def test_import_is_light() -> None:
    """The Jupyter server imports rt_jupyter for its hooks: no widget stack comes with it."""
    code = "import sys, rt_jupyter; print('anywidget' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_extension_enabled_and_valid() -> None:
    jupyter = Path(sys.executable).parent / "jupyter"
    out = subprocess.run(
        [str(jupyter), "server", "extension", "list"], capture_output=True, text=True, check=True
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert re.search(r"rt_jupyter enabled", text), text
    assert re.search(r"rt_jupyter \S+ OK", text), text


def test_static_bundle_is_built() -> None:
    static = ROOT / "rt_jupyter" / "static"
    bundle = (static / "widget.js").read_text(encoding="utf-8")
    assert "oai-events" in bundle and "rt-jupyter/session" in bundle
    assert (static / "widget.css").exists()


def test_quickstart_runs_top_to_bottom() -> None:
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "quickstart.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].source == "from rt_jupyter import VoiceChat; chat = VoiceChat(); chat"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    first = nb.cells[0].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in first
