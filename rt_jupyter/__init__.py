"""rt_jupyter: the OpenAI Realtime API in Jupyter notebooks.

``VoiceChat`` (the voice widget), ``connect`` / ``connect_sync`` (the kernel-side client),
``function_tool`` (Python functions as tools), ``check()`` (diagnostics) and the exception tree
(:class:`RealtimeError` and its subclasses, see :mod:`rt_jupyter.errors`). Names are imported
on first use: the Jupyter server imports this package only for its extension hooks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .client import connect, connect_sync
    from .core.tools import function_tool
    from .diagnostics import check
    from .errors import (
        AuthenticationError,
        BetaShapeDisabledError,
        ConfigurationError,
        ConnectionLostError,
        KeyMintError,
        NotConnectedError,
        ProtocolError,
        ProviderShapeError,
        RealtimeError,
        ServerError,
        ToolError,
    )
    from .jupyter.widget import VoiceChat

__all__ = [
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
    "VoiceChat",
    "__version__",
    "check",
    "connect",
    "connect_sync",
    "function_tool",
]

_LAZY = {
    "VoiceChat": ".jupyter.widget",
    "connect": ".client",
    "connect_sync": ".client",
    "check": ".diagnostics",
    "function_tool": ".core.tools",
    **dict.fromkeys(
        [
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
        ],
        ".errors",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The jupyter-server extension of this package (enabled on install)."""
    return [{"module": "rt_jupyter"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Mount the rt_jupyter routes (mint endpoint, status, local service) in the server."""
    from .jupyter.extension import load_extension

    load_extension(serverapp)


async def _unload_jupyter_server_extension(serverapp: Any) -> None:
    """Close the local service's calls when the server stops."""
    from .jupyter.extension import unload_extension

    await unload_extension(serverapp)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext rt_jupyter``: the ``%rt`` magics (imported on load)."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext rt_jupyter``."""
    from .magics import unload_ipython_extension as unload

    unload(ipython)
