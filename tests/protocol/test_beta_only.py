"""``temperature`` is beta-only: one rule (``dialects.BETA_ONLY_SETTINGS``) for every GA path."""

from __future__ import annotations

import json

from rt_jupyter.protocol import Dialect, RealtimeConnection, SessionConfig, build
from rt_jupyter.protocol.dialects import (
    BETA_ONLY_SETTINGS,
    response_to_ga,
    translate_server_event,
    without_beta_only,
)


def test_the_rule() -> None:
    assert frozenset({"temperature"}) == BETA_ONLY_SETTINGS
    session = {"type": "realtime", "temperature": 0.7, "instructions": "hi"}
    assert without_beta_only(session) == {"type": "realtime", "instructions": "hi"}
    assert session["temperature"] == 0.7  # the input is left alone


def test_ga_client_does_not_send_temperature() -> None:
    ga = RealtimeConnection("client", Dialect.GA)
    ga.send(build("session.update", session={"type": "realtime", "temperature": 0.7}))
    (sent,) = ga.data_to_send()
    assert json.loads(sent)["session"] == {"type": "realtime"}
    beta = RealtimeConnection("client", Dialect.BETA)
    beta.send(build("session.update", session={"type": "realtime", "temperature": 0.7}))
    (sent,) = beta.data_to_send()
    assert json.loads(sent)["session"]["temperature"] == 0.7


def test_ga_server_does_not_show_temperature() -> None:
    server = RealtimeConnection("server", Dialect.GA)
    server.send({"type": "session.updated", "session": {"type": "realtime", "temperature": 0.9}})
    (sent,) = server.data_to_send()
    assert "temperature" not in json.loads(sent)["session"]
    (ga,) = translate_server_event(
        {"type": "session.updated", "session": {"modalities": ["text"], "temperature": 0.9}},
        Dialect.GA,
    )
    assert "temperature" not in ga["session"]
    assert "temperature" not in response_to_ga({"modalities": ["text"], "temperature": 0.8})


def test_session_renders_temperature_for_beta_only() -> None:
    config = SessionConfig.default()
    assert "temperature" not in config.to_wire(Dialect.GA)
    assert config.to_wire(Dialect.BETA)["temperature"] == 0.8
    assert "temperature" not in config.to_legacy_transcription()
