"""The voice widget in JupyterLab with Chromium, the server extension configured for Azure
OpenAI (``c.RealtimeExtension.provider``) and a local service playing the Azure resource: the
browser's call goes to the URL the mint answer names (the v1 API's ``/openai/v1/realtime/calls``,
or the preview API's regional ``/v1/realtimertc``), a spoken turn runs the kernel's tool, a typed
turn is answered, the frames price the call as the model the deployment runs, ``check()`` names
the provider and shape of the call, and the Azure key never reaches the page."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from .conftest import WEATHER_CELL, ask_by_voice
from .harness import (
    FrameLog,
    kernel_json,
    notebook,
    run_in_kernel,
    start_lab,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DEPLOYMENT = "my-realtime"

TEXT_TURN = """
n = len(chat.log)
chat.send_text("hello there")
ev = await chat.wait_for(
    "response.done", since=n, timeout=90,
    predicate=lambda e: "You said: hello there" in json.dumps(e.data),
)
"""

PRICED = """
import json, warnings
from rt_jupyter import frames
from rt_jupyter.diagnostics import check
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    costs = frames.usage(chat.log)
print(json.dumps({
    "rows": len(costs),
    "priced_as": sorted(set(costs["priced_as"].dropna())),
    "guessed": bool(costs["price_guessed"].any()),
    "unpriced": bool(costs["cost_usd"].isna().any()),
    "warnings": [str(w.message) for w in caught],
    "doctor": check(widget=chat, engines=False, timeout=0.5)["widget provider"].detail,
}))
"""


@pytest.mark.parametrize("shape", ["azure-v1", "azure-preview"])
def test_voice_turn_through_azure(
    tmp_path_factory: pytest.TempPathFactory, chromium: Any, shape: str
) -> None:
    from rt_jupyter.local.service import LocalRealtimeService

    key = "azure-" + secrets.token_hex(16)
    offered: list[str] = []

    def accept(candidate: str) -> bool:
        offered.append(candidate)
        return candidate == key

    upstream = LocalRealtimeService(accept_keys=accept, deployments=[DEPLOYMENT]).start_in_thread()
    provider: dict[str, Any] = {
        "name": "azure",
        "endpoint": upstream.azure_endpoint,
        "deployments": {DEPLOYMENT: "gpt-realtime-mini"},  # what the price table needs
    }
    if shape == "azure-preview":
        provider.update(api_version="2025-04-01-preview", webrtc_url=upstream.azure_webrtc_url)
    lab = start_lab(
        tmp_path_factory.mktemp(f"lab-{shape}"),
        notebooks={"azure.ipynb": notebook(WEATHER_CELL)},
        extension_config={"provider": provider, "api_key": key, "model": DEPLOYMENT},
    )
    frames = FrameLog()
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    try:
        _page, kc, report = ask_by_voice(context, lab, "azure.ipynb", frames)
        assert report["upstream"] == "remote"
        assert report["dialect"] == ("beta" if shape == "azure-preview" else "ga")
        assert report["calls"][0].lower() == "paris"
        run_in_kernel(kc, TEXT_TURN, timeout=120)  # a typed turn through the same call
        priced = kernel_json(kc, PRICED)
        assert priced["rows"] >= 3  # the tool call, its follow-up, the typed turn
        assert priced["priced_as"] == ["gpt-realtime-mini"], priced
        assert not priced["guessed"] and not priced["unpriced"] and not priced["warnings"]
        named = "Azure preview API, beta" if shape == "azure-preview" else "Azure v1 API, ga"
        assert priced["doctor"] == (
            f"azure ({named} dialect), model {DEPLOYMENT} (runs gpt-realtime-mini)"
        )
        assert upstream.keys.open_sessions() == 1
        assert offered and set(offered) == {key}  # the server's mint only; the page used ek_
        assert frames.frames and frames.contains("session.created")
        assert not frames.contains(key)
        assert key not in lab.log_path.read_text(errors="replace")
    finally:
        context.close()
        lab.stop()
        upstream.stop_thread()


def test_voice_turn_through_a_beta_only_gateway(
    tmp_path_factory: pytest.TempPathFactory, chromium: Any
) -> None:
    """A gateway that serves the beta shape only, the extension set to ``dialect="auto"``: the
    mint finds the beta shape, the browser's call speaks it, a spoken turn runs the tool and a
    typed turn is answered; the frames price it with OpenAI's rows and say that is a guess, and
    ``check()`` names the gateway and the dialect found out."""
    from rt_jupyter.local.service import LocalRealtimeService

    key = "sk-gateway-" + secrets.token_hex(16)
    upstream = LocalRealtimeService(accept_keys=[key], ga_shape_disabled=True).start_in_thread()
    lab = start_lab(
        tmp_path_factory.mktemp("lab-gateway"),
        notebooks={"gateway.ipynb": notebook(WEATHER_CELL)},
        extension_config={"api_key": key, "base_url": upstream.base_url, "dialect": "auto"},
    )
    frames = FrameLog()
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    try:
        _page, kc, report = ask_by_voice(context, lab, "gateway.ipynb", frames)
        assert report["upstream"] == "remote" and report["dialect"] == "beta"
        assert report["calls"][0].lower() == "paris"
        run_in_kernel(kc, TEXT_TURN, timeout=120)
        priced = kernel_json(kc, PRICED)
        assert priced["rows"] >= 3 and priced["guessed"] and not priced["unpriced"]
        assert any("OpenAI's list price" in w for w in priced["warnings"]), priced
        assert priced["doctor"].startswith("gateway (OpenAI URLs, beta dialect), model ")
        assert not frames.contains(key)
        assert key not in lab.log_path.read_text(errors="replace")
    finally:
        context.close()
        lab.stop()
        upstream.stop_thread()
