"""The one "no key → local service" rule: :func:`rt_jupyter.local.default.resolve_endpoint`."""

from __future__ import annotations

import json
import urllib.request

import pytest

from rt_jupyter.config import Settings, resolve_settings
from rt_jupyter.local import default
from rt_jupyter.local.default import LOCAL_KEY, Endpoint, ServiceRef, resolve_endpoint
from rt_jupyter.local.keys import AuthError, KeyStore
from rt_jupyter.protocol import Dialect


def no_service() -> ServiceRef:
    raise AssertionError("the local service must not start when a key is configured")


def settings(key: str | None, *, local: bool | None = None) -> Settings:
    return resolve_settings(
        api_key=key, base_url="https://example.test/v1", model="m", dialect="beta", local=local
    )


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "NEW_API_KEY", "RT_JUPYTER_LOCAL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_with_a_key_the_settings_are_used_as_they_are(clean_env: None) -> None:
    given = settings("sk-upstream")
    endpoint = resolve_endpoint(given, service=no_service)
    assert endpoint == Endpoint(given)
    assert not endpoint.local and endpoint.keys is None
    assert endpoint.api_key == "sk-upstream" and endpoint.note == ""


def test_without_a_key_the_local_service_is_used(clean_env: None) -> None:
    keys = KeyStore(lambda key: True)
    started: list[ServiceRef] = []

    def service() -> ServiceRef:
        started.append(ServiceRef("http://127.0.0.1:9/v1", keys))
        return started[-1]

    endpoint = resolve_endpoint(settings(None), service=service)
    assert len(started) == 1
    assert endpoint.local and endpoint.keys is keys
    assert endpoint.settings == Settings(
        api_key=None, base_url="http://127.0.0.1:9/v1", model="m", dialect=Dialect.BETA, local=True
    )
    assert endpoint.api_key == LOCAL_KEY
    assert endpoint.note.endswith("using the local realtime service at http://127.0.0.1:9/v1")


def test_a_service_of_ephemeral_keys_only(clean_env: None) -> None:
    ref = ServiceRef("http://server/rt-jupyter/local/v1", KeyStore(lambda key: False))
    endpoint = resolve_endpoint(settings(None), service=lambda: ref, local_key=None)
    assert endpoint.local and endpoint.api_key is None
    assert endpoint.settings.base_url == ref.base_url


def test_forced_local_with_a_key_never_uses_the_key(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("RT_JUPYTER_LOCAL", "1")
    ref = ServiceRef("http://127.0.0.1:9/v1", KeyStore(lambda key: True))
    endpoint = resolve_endpoint(service=lambda: ref)  # settings from the environment
    assert endpoint.local and endpoint.api_key == LOCAL_KEY
    assert endpoint.settings.api_key is None and "sk-from-env" not in repr(endpoint)


def test_the_default_service_is_the_process_wide_one(clean_env: None) -> None:
    was_running = default.local_service_running()
    try:
        endpoint = resolve_endpoint(settings(None))
        again = resolve_endpoint(settings(None))
        service = default.get_local_service()
        assert endpoint.settings.base_url == again.settings.base_url == service.base_url
        assert endpoint.keys is service.keys
        base = service.base_url.removesuffix("/v1")
        with urllib.request.urlopen(f"{base}/health", timeout=30) as response:
            assert json.load(response)["status"] == "ok"
        assert endpoint.keys.authenticate(endpoint.api_key) is not None
    finally:
        if not was_running:
            default.stop_local_service()


def test_the_default_service_takes_its_own_key_and_allowed_origins(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RT_JUPYTER_ALLOW_ORIGINS", "https://lab.example, http://box:*")
    assert default.allowed_origins()[-2:] == ("https://lab.example", "http://box:*")
    was_running = default.local_service_running()
    try:
        service = default.get_local_service()
        assert service.keys.authenticate(LOCAL_KEY).owner == LOCAL_KEY
        with pytest.raises(AuthError):
            service.keys.authenticate("sk-local-rt-jupyter")  # the old public key
    finally:
        if not was_running:
            default.stop_local_service()
