"""``check()`` / ``%rt doctor`` names the provider and the URL shape it will use."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rt_jupyter.client import connect
from rt_jupyter.diagnostics import check
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.log import EventLog
from rt_jupyter.protocol.providers import DEFAULT_BETA_MODEL
from tests.providers.conftest import AZ_KEY, DEPLOYMENT, PREVIEW

ENDPOINT = "https://res.openai.azure.com"


def test_doctor_names_azure_and_its_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", ENDPOINT)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-secret-key")
    report = check(engines=False, timeout=0.1)
    assert report["provider"].status == "ok"
    assert report["provider"].detail == (
        "azure at res.openai.azure.com (Azure v1 API, api-key header, ga dialect)"
    )
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-04-01-preview")
    text = str(check(engines=False, timeout=0.1))
    assert "Azure preview API (api-version 2025-04-01-preview), api-key header, beta" in text
    assert "gpt-4o-realtime-preview-2024-12-17" in text
    assert "azure-secret-key" not in text


def test_doctor_names_a_gateway_and_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-gateway-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gw.example/v1")
    monkeypatch.setenv("RT_JUPYTER_DIALECT", "auto")
    report = check(engines=False, timeout=0.1)
    assert report["provider"].detail.startswith("gateway at gw.example (OpenAI URLs")
    assert "found out: GA then beta" in report["provider"].detail
    assert report["dialect and model"].detail.startswith("auto (GA, then beta)")
    assert "sk-gateway-secret" not in str(report)


def test_doctor_fails_clearly_on_a_provider_that_cannot_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RT_JUPYTER_PROVIDER", "azure")
    report = check(engines=False, timeout=0.1)
    assert report["provider"].status == "fail" and not report.ok
    assert "AZURE_OPENAI_ENDPOINT" in report["provider"].detail


# --- what the session or the widget in use is served by (the shape found out, not configured) ---


async def test_doctor_names_the_shape_a_session_found_out() -> None:
    """``dialect="auto"`` against a gateway that serves the beta shape only: the doctor names the
    gateway, its URL shape and the dialect the session found out, and the model it defaulted to."""
    async with (
        LocalRealtimeService(engines=Engines(), ga_shape_disabled=True) as beta_only,
        connect(
            api_key="sk-doctor-secret", base_url=beta_only.base_url, dialect="auto", quiet=True
        ) as session,
    ):
        report = check(session=session, engines=False, timeout=0.1)
    host = beta_only.base_url.split("//")[1].split("/")[0]
    assert report["session provider"].detail == (
        f"gateway at {host} (OpenAI URLs, Authorization: Bearer key, beta dialect, found out: "
        f"GA then beta), model {DEFAULT_BETA_MODEL}"
    )
    assert "sk-doctor-secret" not in str(report)


def test_rt_doctor_names_the_azure_deployment_in_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``%rt connect`` with the ``openai`` SDK's Azure variables, then ``%rt doctor``: the
    configured provider and the session's own line (shape, dialect, deployment and the model it
    runs, from the provider's deployments)."""
    from IPython.core.interactiveshell import InteractiveShell

    svc = LocalRealtimeService(
        engines=Engines(), accept_keys=[AZ_KEY], deployments=[DEPLOYMENT]
    ).start_in_thread()
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", svc.azure_endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZ_KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", PREVIEW)
    monkeypatch.setenv("RT_JUPYTER_MODEL", DEPLOYMENT)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "rt_jupyter.magics")
    try:
        ip.run_line_magic("rt", "connect --text")
        report = ip.run_line_magic("rt", "doctor")
    finally:
        ip.run_line_magic("rt", "close")
        ip.run_line_magic("unload_ext", "rt_jupyter.magics")
        svc.stop_thread()
    host = svc.azure_endpoint.split("//")[1]
    assert report["provider"].detail == (
        f"azure at {host} (Azure preview API (api-version {PREVIEW}), api-key header, beta dialect)"
    )
    assert report["session provider"].detail == (
        f"azure at {host} (Azure preview API (api-version {PREVIEW}), api-key header, beta "
        f"dialect), model {DEPLOYMENT}"
    )
    assert AZ_KEY not in str(report) and AZ_KEY not in capsys.readouterr().out


def test_doctor_names_what_the_widgets_call_went_to() -> None:
    """The widget's log holds the mint answer's provider with ``rt.call_started``."""
    log = EventLog()
    provider = {"name": "azure", "layout": "azure-v1", "model": DEPLOYMENT, "runs": "gpt-realtime"}
    log.note(
        "rt.call_started", dialect="ga", model=DEPLOYMENT, upstream="remote", provider=provider
    )
    widget = SimpleNamespace(log=log, browser={})
    report = check(widget=widget, engines=False, timeout=0.1)
    assert report["widget provider"].detail == (
        f"azure (Azure v1 API, ga dialect), model {DEPLOYMENT} (runs gpt-realtime)"
    )
