"""The I/O-free session layer both front doors drive (:class:`~rt_jupyter.RealtimeSession` over a
WebSocket, :class:`~rt_jupyter.VoiceChat` over the widget's comm):

- :mod:`.dispatch`: ``on``/``off``/``wait_for``/``events`` with kinds normalized (GA or beta);
- :mod:`.tools`: tools from Python callables, one schema builder, one run policy and error
  encoding;
- :mod:`.replies`: request ↔ response correlation, building each response's :class:`Reply`
  (:mod:`.reply`);
- :mod:`.settings`: the session-setting keywords (GA vocabulary) and their deprecated names;
- :mod:`.sending`: client events checked before they are sent;
- :mod:`.usage`, :mod:`.transcript`, :mod:`.code`: token totals, the transcript, code blocks.

Nothing here opens a socket or a comm; the adapters feed events in and send what comes out.
Names are imported on first use (``rt_jupyter.core.settings`` alone does not load numpy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The modules whose public names (their ``__all__``) are imported from here on first use.
_MODULES = (
    "code",
    "dispatch",
    "replies",
    "reply",
    "sending",
    "settings",
    "tools",
    "transcript",
    "usage",
)

if TYPE_CHECKING:
    from .code import code_blocks, insert_code_block
    from .dispatch import Callback, Dispatcher, EventsAPI, events_since, normalize
    from .replies import PendingReply, Replies
    from .reply import Reply, ToolCallRecord
    from .sending import checked_send
    from .settings import (
        DEPRECATED_SETTINGS,
        SESSION_SETTINGS,
        canonical_settings,
        deprecated,
        did_you_mean,
        session_settings,
    )
    from .tools import (
        DEFAULT_TOOL_TIMEOUT,
        Tool,
        ToolArgumentError,
        ToolResult,
        ToolRunner,
        check_tool_timeout,
        encode_tool_error,
        function_tool,
        tool_output,
        tool_schemas,
    )
    from .transcript import transcript_entries
    from .usage import USAGE_KEYS, add_usage

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "DEPRECATED_SETTINGS",
    "SESSION_SETTINGS",
    "USAGE_KEYS",
    "Callback",
    "Dispatcher",
    "EventsAPI",
    "PendingReply",
    "Replies",
    "Reply",
    "Tool",
    "ToolArgumentError",
    "ToolCallRecord",
    "ToolResult",
    "ToolRunner",
    "add_usage",
    "canonical_settings",
    "check_tool_timeout",
    "checked_send",
    "code_blocks",
    "deprecated",
    "did_you_mean",
    "encode_tool_error",
    "events_since",
    "function_tool",
    "insert_code_block",
    "normalize",
    "session_settings",
    "tool_output",
    "tool_schemas",
    "transcript_entries",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        for module_name in _MODULES:
            module = importlib.import_module(f".{module_name}", __name__)
            if name in module.__all__:
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
