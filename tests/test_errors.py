"""One exception tree: every public error is a ``RealtimeError``; re-exports are the same."""

from __future__ import annotations

import pytest

import rt_jupyter
import rt_jupyter.client
import rt_jupyter.client.errors
import rt_jupyter.errors
import rt_jupyter.protocol
import rt_jupyter.protocol.errors
from rt_jupyter.jupyter import mint
from rt_jupyter.local import keys

NAMES = [
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
]


def test_errors_module_exports_exactly_the_tree() -> None:
    assert sorted(rt_jupyter.errors.__all__) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_error_is_a_realtime_error(name: str) -> None:
    cls = getattr(rt_jupyter.errors, name)
    assert issubclass(cls, rt_jupyter.errors.RealtimeError)
    assert issubclass(cls, Exception)
    assert getattr(rt_jupyter, name) is cls


def test_realtime_error_is_the_root() -> None:
    assert rt_jupyter.RealtimeError.__bases__ == (Exception,)


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad setting"):
        raise rt_jupyter.ConfigurationError("bad setting")


def test_protocol_error_is_the_core_class() -> None:
    assert rt_jupyter.ProtocolError is rt_jupyter.protocol.errors.ProtocolError
    assert rt_jupyter.ProtocolError is rt_jupyter.protocol.ProtocolError
    assert rt_jupyter.RealtimeError is rt_jupyter.protocol.errors.RealtimeError
    for sub in (
        rt_jupyter.protocol.LocalProtocolError,
        rt_jupyter.protocol.RemoteProtocolError,
    ):
        assert issubclass(sub, rt_jupyter.RealtimeError)
    # LocalProtocolError stays a ValueError too.
    assert issubclass(rt_jupyter.protocol.LocalProtocolError, ValueError)


@pytest.mark.parametrize(
    "name",
    [
        "AuthenticationError",
        "BetaShapeDisabledError",
        "ConnectionLostError",
        "RealtimeError",
        "ServerError",
    ],
)
def test_client_names_are_the_same_objects(name: str) -> None:
    cls = getattr(rt_jupyter.errors, name)
    assert getattr(rt_jupyter.client.errors, name) is cls
    assert getattr(rt_jupyter.client, name) is cls


def test_mint_error_is_the_key_mint_error() -> None:
    assert mint.MintError is rt_jupyter.KeyMintError
    exc = mint.MintError(429, "slow down", code="upstream_rate_limited", hint="wait")
    assert exc.status == 429
    assert exc.to_json() == {
        "error": {"message": "slow down", "code": "upstream_rate_limited", "hint": "wait"}
    }
    with pytest.raises(rt_jupyter.RealtimeError):
        raise exc


def test_local_service_auth_error_is_in_the_tree() -> None:
    assert issubclass(keys.AuthError, rt_jupyter.RealtimeError)


def test_server_error_carries_the_error_fields() -> None:
    error = {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "Bad voice.",
        "param": "session.audio.output.voice",
        "event_id": "evt_1",
    }
    exc = rt_jupyter.ServerError(error)
    assert exc.error is error
    assert (exc.code, exc.param, exc.event_id) == (
        "invalid_value",
        "session.audio.output.voice",
        "evt_1",
    )
    assert str(exc) == "invalid_value: Bad voice. (param session.audio.output.voice)"
