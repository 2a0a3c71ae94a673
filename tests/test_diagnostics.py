"""rt_jupyter.check() and the live protocol warnings."""

from __future__ import annotations

import pytest

from rt_jupyter.client import ServerError, connect
from rt_jupyter.diagnostics import check
from rt_jupyter.lint import check_incoming
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.protocol import Dialect


def test_check_reports_the_key_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    report = check(engines=False)
    assert report["API key"].status == "info" and "local realtime service" in str(report)
    secret = "sk-proj-" + "abcdefghijklmnopqrstuvwxyz0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    report = check(engines=False)
    assert report["API key"].status == "ok"
    assert secret not in str(report) and secret not in report._repr_html_()
    assert "widget bundle" in str(report)


def test_check_engines() -> None:
    report = check()
    assert report["local voice and VAD"].status == "ok"
    assert report["local speech recognition"].status == "ok"
    assert report.ok


def test_incoming_dialect_mixups_and_unknown_types() -> None:
    seen: set[str] = set()
    (warning,) = check_incoming({"type": "response.output_text.delta"}, Dialect.BETA, seen)
    assert warning[0] == "event_of_other_dialect" and "dialect='ga'" in warning[1]
    assert check_incoming({"type": "response.output_text.delta"}, Dialect.BETA, seen) == []
    (warning,) = check_incoming({"type": "response.text.delta"}, Dialect.GA, seen)
    assert "dialect='beta'" in warning[1]
    (warning,) = check_incoming({"type": "vendor.custom"}, Dialect.GA, seen)
    assert warning[0] == "unknown_event_type"
    assert check_incoming({"type": "response.done"}, Dialect.GA, seen) == []


async def test_session_logs_protocol_warnings() -> None:
    async with (
        LocalRealtimeService() as svc,
        connect(api_key="sk-lint", base_url=svc.base_url) as session,
    ):
        await session.cancel()
        reply = await session.say("hello there")
        item = next(i for i in reply.items if i.type == "message")
        with pytest.raises(ServerError):
            await session.truncate(item, 60_000)
        codes = [r.event["code"] for r in session.log.of_kind("rt.warning")]
        assert codes == ["cancel_without_active_response", "truncate_past_received_audio"]
        report = check(session=session, engines=False)
        assert "truncate_past_received_audio" in str(report)
