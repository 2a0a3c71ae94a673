"""The server extension against a real in-process Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest
import tornado.httpclient
import tornado.websocket

from .conftest import GOOD_KEY

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def _forget_extension_marker() -> Iterator[None]:
    """The extension marks the (test) process's environment for its kernels; later tests mint
    in a kernel of no server."""
    yield
    os.environ.pop("RT_JUPYTER_SERVER_EXTENSION", None)


def post_session(run: Any, jp_fetch: Any, body: Any = None) -> tuple[int, dict[str, Any], Any]:
    response = run(
        jp_fetch(
            "rt-jupyter",
            "session",
            method="POST",
            body=json.dumps(body if body is not None else {}),
            raise_error=False,
        )
    )
    return response.code, json.loads(response.body or b"{}"), response


def test_extension_is_found() -> None:
    import rt_jupyter

    assert rt_jupyter._jupyter_server_extension_points() == [{"module": "rt_jupyter"}]
    assert callable(rt_jupyter._load_jupyter_server_extension)


def test_mint_with_local_mount(
    run: Any, jp_fetch: Any, jp_base_url: str, http_server_port: Any
) -> None:
    code, body, response = post_session(
        run, jp_fetch, {"session": {"instructions": "Speak like a pirate."}}
    )
    assert code == 200, body
    assert set(body) == {
        "value", "expires_at", "model", "dialect", "sdp_url", "upstream", "provider"
    }  # fmt: skip
    # who serves the call, for the widget's log and the frames' price table (no credential)
    assert body["provider"] == {"name": "local", "layout": "openai", "model": "gpt-realtime"}
    assert body["value"].startswith("ek_")
    assert body["upstream"] == "local"
    assert body["dialect"] == "ga"
    assert body["model"] == "gpt-realtime"
    assert body["sdp_url"] == f"{jp_base_url}rt-jupyter/local/v1/realtime/calls"
    assert response.headers["Cache-Control"] == "no-store"

    # the minted key opens a session on the mounted service, with the requested settings
    port = http_server_port[-1] if isinstance(http_server_port, tuple) else http_server_port
    url = f"ws://127.0.0.1:{port}{jp_base_url}rt-jupyter/local/v1/realtime"
    request = tornado.httpclient.HTTPRequest(
        url, headers={"Authorization": f"Bearer {body['value']}"}
    )

    async def first_event() -> dict[str, Any]:
        ws = await tornado.websocket.websocket_connect(request)
        message = await ws.read_message()
        ws.close()
        assert isinstance(message, str)
        return dict(json.loads(message))

    event = run(first_event())
    assert event["type"] == "session.created"
    assert event["session"]["instructions"] == "Speak like a pirate."


def test_local_mount_refuses_standard_and_anonymous_keys(
    run: Any, jp_fetch: Any, jp_base_url: str, http_server_port: Any
) -> None:
    port = http_server_port[-1] if isinstance(http_server_port, tuple) else http_server_port
    base = f"http://127.0.0.1:{port}{jp_base_url}rt-jupyter/local/v1/realtime"
    client = tornado.httpclient.AsyncHTTPClient()

    def call(path: str, headers: dict[str, str], body: str) -> int:
        req = tornado.httpclient.HTTPRequest(base + path, method="POST", headers=headers, body=body)
        return int(run(client.fetch(req, raise_error=False)).code)

    sdp = {"Content-Type": "application/sdp"}
    assert call("/calls", sdp, "v=0\r\n") == 401
    assert call("/calls", {**sdp, "Authorization": "Bearer sk-anything-here"}, "v=0\r\n") == 401
    assert call("/calls", {**sdp, "Authorization": "Bearer ek_0123456789abcdef"}, "v=0\r\n") == 401
    js = {"Content-Type": "application/json"}
    assert call("/client_secrets", {**js, "Authorization": "Bearer sk-anything-here"}, "{}") == 401
    # a minted key passes authentication (the bogus offer itself is then refused with 400)
    code, body, _ = post_session(run, jp_fetch)
    assert code == 200
    assert call("/calls", {**sdp, "Authorization": f"Bearer {body['value']}"}, "nonsense") == 400


def test_unauthenticated_mint_is_refused(
    run: Any, http_server_client: Any, jp_base_url: str
) -> None:
    response = run(
        http_server_client.fetch(
            f"{jp_base_url}rt-jupyter/session", method="POST", body="{}", raise_error=False
        )
    )
    assert response.code in (401, 403)
    assert b"ek_" not in response.body
    status = run(http_server_client.fetch(f"{jp_base_url}rt-jupyter/status", raise_error=False))
    assert status.code in (401, 403)


@pytest.mark.parametrize("jp_server_config", [{"mint_rate_limit": 2}], indirect=True)
def test_rate_limit(run: Any, jp_fetch: Any) -> None:
    assert post_session(run, jp_fetch)[0] == 200
    assert post_session(run, jp_fetch)[0] == 200
    code, body, response = post_session(run, jp_fetch)
    assert code == 429
    assert body["error"]["code"] == "rate_limited"
    assert "limit is 2" in body["error"]["message"]
    assert response.headers["Retry-After"] == "60"


@pytest.mark.parametrize(
    "jp_server_config", [{"allowed_models": ["gpt-realtime", "gpt-realtime-mini"]}], indirect=True
)
def test_allowed_models(run: Any, jp_fetch: Any) -> None:
    assert post_session(run, jp_fetch, {"model": "gpt-realtime-mini"})[1]["model"] == (
        "gpt-realtime-mini"
    )
    code, body, _ = post_session(run, jp_fetch, {"model": "gpt-realtime-2"})
    assert code == 400
    assert body["error"]["code"] == "model_not_allowed"
    assert "gpt-realtime, gpt-realtime-mini" in body["error"]["message"]
    assert "allowed_models" in body["error"]["hint"]


def test_bad_requests(run: Any, jp_fetch: Any) -> None:
    code, body, _ = post_session(run, jp_fetch, {"session": {"voice": 3}})
    assert code == 400 and "voice" in body["error"]["message"]
    code, body, _ = post_session(run, jp_fetch, {"sesion": {}})
    assert code == 400 and body["error"]["code"] == "unknown_parameter"
    code, body, _ = post_session(run, jp_fetch, {"model": "bad model name!"})
    assert code == 400 and body["error"]["code"] == "invalid_model"
    code, body, _ = post_session(run, jp_fetch, {"session": {"type": "transcription"}})
    assert code == 400


UP = {"base_url": "upstream", "api_key": GOOD_KEY}


@pytest.mark.parametrize("jp_server_config", [UP], indirect=True)
def test_upstream_mint(run: Any, jp_fetch: Any, upstream: Any) -> None:
    code, body, _ = post_session(run, jp_fetch, {"session": {"instructions": "Be brief."}})
    assert code == 200, body
    assert body["upstream"] == "remote"
    assert body["value"].startswith("ek_")
    assert body["sdp_url"] == f"{upstream.base_url}/realtime/calls"
    key = upstream.keys._ephemeral[body["value"]]
    assert key.session["instructions"] == "Be brief."
    assert key.expires_at - key.created_at == pytest.approx(600, abs=2)
    assert GOOD_KEY not in json.dumps(body)


@pytest.mark.parametrize("jp_server_config", [{**UP, "dialect": "beta"}], indirect=True)
def test_upstream_beta(run: Any, jp_fetch: Any, upstream: Any) -> None:
    code, body, _ = post_session(run, jp_fetch)
    assert code == 200, body
    assert body["dialect"] == "beta"
    # the beta dialect's default model: the beta API never listed gpt-realtime (issue 15)
    model = "gpt-4o-realtime-preview-2024-12-17"
    assert body["model"] == model
    assert body["sdp_url"] == f"{upstream.base_url}/realtime?model={model}"


BAD_KEY = "sk-wrong-key-" + "zyxwvutsrq987654"


@pytest.mark.parametrize(
    "jp_server_config", [{"base_url": "upstream", "api_key": BAD_KEY}], indirect=True
)
def test_upstream_bad_key(run: Any, jp_fetch: Any, caplog: Any) -> None:
    with caplog.at_level(logging.DEBUG):
        code, body, response = post_session(run, jp_fetch)
    assert code == 401
    assert body["error"]["code"] == "upstream_auth"
    assert "OPENAI_API_KEY" in body["error"]["hint"]
    assert "127.0.0.1" in body["error"]["message"]
    text = response.body.decode()
    assert BAD_KEY not in text and BAD_KEY[-8:] not in text
    assert BAD_KEY not in caplog.text


@pytest.mark.parametrize(
    "jp_server_config", [{"base_url": "unreachable", "api_key": GOOD_KEY}], indirect=True
)
def test_upstream_unreachable(run: Any, jp_fetch: Any) -> None:
    code, body, _ = post_session(run, jp_fetch)
    assert code == 502
    assert body["error"]["code"] == "upstream_unreachable"
    assert "Could not reach" in body["error"]["message"]
    assert GOOD_KEY not in json.dumps(body)


@pytest.mark.parametrize(
    "jp_server_config", [{**UP, "allowed_models": ["gpt-realtime"]}], indirect=True
)
def test_audit_lines_and_status(run: Any, jp_fetch: Any, caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger="rt_jupyter.audit"):
        ok = post_session(run, jp_fetch)[1]
        post_session(run, jp_fetch, {"model": "gpt-realtime-mini"})
    lines = [r.getMessage() for r in caplog.records if r.name == "rt_jupyter.audit"]
    assert len(lines) == 2, lines
    assert "outcome=minted" in lines[0] and "model=gpt-realtime " in lines[0]
    assert "dialect=ga" in lines[0] and "upstream=remote" in lines[0] and "time=" in lines[0]
    assert "outcome=model_not_allowed" in lines[1] and "status=400" in lines[1]
    assert all("user=anonymous " in line and "via=server " in line for line in lines)
    everything = caplog.text
    assert GOOD_KEY not in everything and ok["value"] not in everything

    status = json.loads(run(jp_fetch("rt-jupyter", "status")).body)
    assert status["mode"] == "remote"
    assert status["key_configured"] is True
    assert status["counts"]["minted"] == 1
    assert status["counts"]["refused"] == 1
    assert status["counts"]["refused_by_reason"] == {"model_not_allowed": 1}
    assert status["upstream_host"] == "127.0.0.1"
    assert GOOD_KEY not in json.dumps(status)


def test_status_local(run: Any, jp_fetch: Any) -> None:
    status = json.loads(run(jp_fetch("rt-jupyter", "status")).body)
    assert status["mode"] == "local"
    assert status["key_configured"] is False
    assert status["local"]["engines"] == "not loaded"
    post_session(run, jp_fetch)
    status = json.loads(run(jp_fetch("rt-jupyter", "status")).body)
    assert status["local"]["engines"] == "ready"
    assert status["counts"]["minted"] == 1


def test_ttl_is_validated() -> None:
    from traitlets import TraitError

    from rt_jupyter.jupyter.extension import RealtimeExtension

    with pytest.raises(TraitError):
        RealtimeExtension(ephemeral_ttl=5)
    with pytest.raises(TraitError):
        RealtimeExtension(ephemeral_ttl=8000)
    assert RealtimeExtension(ephemeral_ttl=7200).ephemeral_ttl == 7200


OFFLINE = {"local_engines": "default", "local_asr_workers": 1}


@pytest.mark.parametrize(
    "jp_server_config",
    [{**OFFLINE, "local_asr": "pocketsphinx", "local_voice_engine": "ESPEAK"}],
    indirect=True,
)
def test_the_mounted_service_engines_follow_the_server_config(
    run: Any, jp_fetch: Any, jp_serverapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``c.RealtimeExtension.local_asr*`` / ``local_voice_engine`` choose the mounted service's
    engines, over the environment; the status names what loaded."""
    monkeypatch.setenv("RT_JUPYTER_ASR", "whisper")  # (the config wins)
    monkeypatch.setenv("RT_JUPYTER_VOICE_ENGINE", "piper")
    before = set(psutil.Process().children(recursive=True))
    code, body, _ = post_session(run, jp_fetch)
    assert code == 200, body
    status = json.loads(run(jp_fetch("rt-jupyter", "status")).body)["local"]
    assert status["engines"] == "ready"
    assert status["engines_summary"] == "recognition pocketsphinx (1 worker), voice EspeakVoice"
    assert status["engine_settings"] == {
        "asr": "pocketsphinx",
        "asr_model": None,
        "asr_workers": 1,
        "asr_batch": 8,
        "asr_language": "en",
        "voice_engine": "espeak",
    }
    workers = set(psutil.Process().children(recursive=True)) - before
    assert len(workers) == 1  # the one recogniser process, closed with the server (below)
    run(jp_serverapp.web_app.settings["rt_jupyter_extension"].close())
    psutil.wait_procs(list(workers), timeout=30)
    assert not [p for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("jp_server_config", [{**OFFLINE}], indirect=True)
def test_the_mounted_service_reads_the_environment_when_unconfigured(
    run: Any, jp_fetch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RT_JUPYTER_ASR", "pocketsphinx")
    code, body, _ = post_session(run, jp_fetch)
    assert code == 200, body
    status = json.loads(run(jp_fetch("rt-jupyter", "status")).body)["local"]
    assert status["engines_summary"].startswith("recognition pocketsphinx (1 worker)"), status


@pytest.mark.parametrize(
    "jp_server_config",
    [{**OFFLINE, "local_asr": "pocketsphinx", "local_asr_model": "base"}],
    indirect=True,
)
def test_engine_settings_the_service_refuses_fail_the_mint_clearly(run: Any, jp_fetch: Any) -> None:
    """A Whisper model with pocketsphinx: the mint says why (503), and so does the status."""
    code, body, _ = post_session(run, jp_fetch)
    assert code == 503 and body["error"]["code"] == "local_engines_unavailable", body
    assert "a model is a Whisper setting" in body["error"]["message"]
    status = json.loads(run(jp_fetch("rt-jupyter", "status")).body)["local"]
    assert status["engines"] == "failed: RecogniserSettingsError"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("local_asr", "vosk"),
        ("local_asr_language", "English"),
        ("local_asr_language", "../en"),
        ("local_asr_workers", 0),
        ("local_asr_batch", 0),
        ("local_asr_model", "  "),
        ("local_voice_engine", "festival"),
    ],
)
def test_engine_settings_are_validated(name: str, value: Any) -> None:
    from traitlets import TraitError

    from rt_jupyter.jupyter.extension import RealtimeExtension

    with pytest.raises(TraitError):
        RealtimeExtension(**{name: value})


def test_engine_settings_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from rt_jupyter.jupyter.extension import RealtimeExtension

    monkeypatch.setenv("RT_JUPYTER_ASR_LANGUAGE", "fr")
    monkeypatch.setenv("RT_JUPYTER_ASR_BATCH", "4")
    settings = RealtimeExtension(local_asr_language="auto", local_voice_engine="Piper")
    chosen = settings.engine_settings()
    assert (chosen.asr_language, chosen.asr_batch, chosen.voice_engine) == ("auto", 4, "piper")


@pytest.mark.parametrize("jp_server_config", [{"local_engines": "default"}], indirect=True)
def test_the_status_says_when_the_environment_holds_a_bad_engine_setting(
    run: Any, jp_fetch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RT_JUPYTER_ASR_BATCH", "eight")
    status = json.loads(run(jp_fetch("rt-jupyter", "status")).body)["local"]
    assert "RT_JUPYTER_ASR_BATCH must be a whole number" in status["engine_settings"]["error"]


def test_check_probes_the_engines_the_server_would_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """check() in a kernel loads what the Jupyter server's status says its service uses (here
    pocketsphinx, configured on the server), not what the kernel's environment says."""
    from rt_jupyter.diagnostics import Report, _engines
    from rt_jupyter.jupyter.extension import RealtimeExtension

    monkeypatch.setenv("RT_JUPYTER_ASR", "whisper")  # (the kernel's environment: not used)
    extension = RealtimeExtension(local_asr="pocketsphinx", local_asr_workers=1)
    extension.mount_local("/")
    report = Report()
    _engines(report, json.loads(json.dumps(extension.status())))  # (as it crosses HTTP)
    assert report["local engine settings"].detail.startswith("the Jupyter server's")
    assert report["local speech recognition"].detail.startswith("pocketsphinx: heard")
    monkeypatch.setenv("RT_JUPYTER_ASR_BATCH", "eight")  # the server's environment, broken
    report = Report()
    _engines(report, extension.status())
    failed = report["local engine settings"]
    assert failed.status == "fail" and "RT_JUPYTER_ASR_BATCH" in failed.detail
    text_only = RealtimeExtension(local_engines="text")
    text_only.mount_local("/")
    report = Report()
    _engines(report, text_only.status())  # (its service has no speech engines to probe)
    assert "local_engines = 'text'" in report["local engines"].detail
    assert "local speech recognition" not in str(report)
