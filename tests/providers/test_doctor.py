"""``check()`` / ``%rt doctor`` names the provider and the URL shape it will use."""

from __future__ import annotations

import pytest

from rt_jupyter.diagnostics import check

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
