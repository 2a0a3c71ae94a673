"""Bad arguments to either front door's constructor (``VoiceChat(...)``, ``connect(...)``) raise
the same class of error, before anything connects, naming the argument and what to use."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from rt_jupyter import VoiceChat, connect

from .scenario import _family

NOWHERE = "http://127.0.0.1:9/v1"  # never reached: the arguments are refused first

BAD = [
    ({"output_modalitis": ["text"]}, "ConfigurationError", "did you mean 'output_modalities'"),
    ({"status": "connected"}, "ConfigurationError", "status"),
    ({"voice": 5}, "ConfigurationError", "voice"),
    ({"tools": 5}, "TypeError", "tools"),
    ({"turn_detection": "fast"}, "ConfigurationError", "use 'server_vad', 'semantic_vad'"),
    ({"output_modalities": ["smell"]}, "ConfigurationError", "use 'audio'"),
    ({"tool_timeout": 0}, "ConfigurationError", "use a number of seconds > 0"),
    ({"input_transcription": 3}, "ConfigurationError", "input_transcription"),
    (
        {"modalities": ["text"], "output_modalities": ["text"]},
        "ConfigurationError",
        "give output_modalities= only",
    ),
]


def widget(**kwargs: Any) -> Any:
    return VoiceChat(**kwargs)


def session(**kwargs: Any) -> Any:
    return connect(api_key="sk-parity-" + "arguments", base_url=NOWHERE, **kwargs)


@pytest.mark.parametrize(("kwargs", "family", "says"), BAD)
def test_both_doors_refuse_a_bad_argument_alike(
    kwargs: dict[str, Any], family: str, says: str
) -> None:
    seen = []
    for make in (widget, session):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            with pytest.raises(Exception) as info:
                make(**kwargs)
        seen.append((_family(info.value), str(info.value)))
    for got, message in seen:
        assert got == family, message
        assert says in message, message
